package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// completionCmd prints the script that has a shell complete keyward's
// commands and flags. The script asks the keyward binary itself (kongplete
// answers in run, before parsing), so it never falls behind the commands.
type completionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"bash, zsh or fish."`
}

func (completionCmd) Help() string {
	return "Load it in the current shell with, e.g., source <(keyward completion bash), " +
		"or add that line to ~/.bashrc (~/.zshrc; for fish: keyward completion fish | source, in ~/.config/fish/config.fish)."
}

// completionScripts register the binary as its own completer.
var completionScripts = map[string]*template.Template{
	"bash": template.Must(template.New("bash").Parse("complete -o default -C {{.Bin}} {{.Name}}\n")),
	"zsh": template.Must(template.New("zsh").Parse("autoload -U +X bashcompinit && bashcompinit\n" +
		"complete -o default -C {{.Bin}} {{.Name}}\n")),
	"fish": template.Must(template.New("fish").Parse(`function __complete_{{.Name}}
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    {{.Bin}}
end
complete -f -c {{.Name}} -a "(__complete_{{.Name}})"
`)),
}

func (c completionCmd) Run(e *env) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the keyward binary: %w", err)
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return fmt.Errorf("find the keyward binary: %w", err)
	}
	return completionScripts[c.Shell].Execute(e.stdout, struct{ Bin, Name string }{shellQuote(bin), "keyward"})
}

// shellQuote quotes s for bash, zsh and fish alike: a path with a space or
// a quote stays one word.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
