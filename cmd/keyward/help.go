package main

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/keyward/keyward/bootstrap"
)

// environmentDoc is implemented by commands that read KEYWARD_* variables:
// their help ends with what it returns.
type environmentDoc interface{ environment() string }

// helpWithEnvironment prints kong's help, then the variables the selected
// command reads.
func helpWithEnvironment(opts kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(opts, ctx); err != nil {
		return err
	}
	n := ctx.Selected()
	if n == nil {
		return nil
	}
	if d, ok := n.Target.Addr().Interface().(environmentDoc); ok {
		fmt.Fprintf(ctx.Stdout, "\nEnvironment:\n%s", d.environment())
	}
	return nil
}

// wholeConfig documents a command that loads the whole configuration:
// first the variables that matter most to it, with their meaning, then
// every variable's name. Both come from bootstrap.ConfigVariables, so the
// help never falls behind the configuration.
func wholeConfig(key ...string) string {
	var b strings.Builder
	b.WriteString(someConfig(key...))
	if len(key) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("  It loads and checks the whole configuration (`keyward config` prints the values, the README's table their meaning):\n")
	line := " "
	for _, v := range bootstrap.ConfigVariables() {
		if len(line)+1+len(v.Name) > 100 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + v.Name
	}
	b.WriteString(line + "\n")
	return b.String()
}

// someConfig documents the named variables with their meaning and
// default. It panics on a name the configuration does not have: a
// programmer error every --help test finds.
func someConfig(key ...string) string {
	vars := map[string]bootstrap.Variable{}
	for _, v := range bootstrap.ConfigVariables() {
		vars[v.Name] = v
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, name := range key {
		v, ok := vars[name]
		if !ok {
			panic("keyward: the help names " + name + ", which is not a configuration variable")
		}
		fmt.Fprintf(tw, "  %s\t%s%s\n", v.Name, v.Doc, defaultNote(v))
	}
	_ = tw.Flush() // a strings.Builder does not fail
	return b.String()
}

func defaultNote(v bootstrap.Variable) string {
	if v.Default == "" {
		return ""
	}
	return " (default " + v.Default + ")"
}

// helpCmd keeps `keyward help [command...]` working as before.
type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to describe."`
}

func (h *helpCmd) Run(e *env) error {
	parser, err := newParser(e, &cli{})
	if err != nil {
		return err
	}
	if _, err := parser.Parse(append(h.Command, "--help")); err != nil {
		return usageError{err.Error()}
	}
	return nil
}
