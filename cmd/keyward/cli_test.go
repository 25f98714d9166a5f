package main_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// result is what one run of the binary did.
type result struct {
	stdout, stderr string
	code           int
	took           time.Duration
}

// runIsolated runs the binary with env alone (nothing inherited from the
// test's environment) and returns its output and exit code.
func runIsolated(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, &out, &errb
	began := time.Now()
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String(), took: time.Since(began)}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("keyward %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// hostileEnv is a configuration no command could run with: a database
// nothing listens for and a listen address that does not parse. Files a
// command would write (keyring, mail, checkpoints) go under dir.
func hostileEnv(dir string) []string {
	return []string{
		"HOME=" + dir,
		"KEYWARD_DATABASE_URL=postgres://keyward@127.0.0.1:1/nowhere?connect_timeout=1",
		"KEYWARD_HTTP_ADDR=garbage",
		"KEYWARD_KEYRING_FILE=" + filepath.Join(dir, "keyring.json"),
		"KEYWARD_MAIL_DIR=" + filepath.Join(dir, "mail"),
		"KEYWARD_AUDIT_CHECKPOINT_PATH=" + filepath.Join(dir, "checkpoints"),
		// The race detector's binary otherwise waits a second at exit.
		"GORACE=atexit_sleep_ms=0",
	}
}

// commandPaths reads the commands `keyward --help` lists ("migrate up",
// "admin create-key"...) and adds the groups they belong to.
func commandPaths(t *testing.T, help string) [][]string {
	t.Helper()
	_, list, ok := strings.Cut(help, "\nCommands:\n")
	if !ok {
		t.Fatalf("keyward --help lists no commands:\n%s", help)
	}
	seen := map[string]bool{}
	var paths [][]string
	for _, m := range regexp.MustCompile(`(?m)^  ([a-z][a-z -]*?)(?:  |$)`).FindAllStringSubmatch(list, -1) {
		words := strings.Fields(m[1])
		for i := range words {
			p := strings.Join(words[:i+1], " ")
			if !seen[p] {
				seen[p] = true
				paths = append(paths, words[:i+1])
			}
		}
	}
	return paths
}

// TestEveryHelpExitsZeroWithoutSideEffects: `keyward --help` and
// `keyward <cmd> [sub] --help` (and -h) print the command's usage and
// exit 0 at once, with a configuration that would fail any command: no
// configuration is loaded, no connection made, no file written. Each
// command that reads the configuration documents its variables.
func TestEveryHelpExitsZeroWithoutSideEffects(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := hostileEnv(dir)
	root := runIsolated(t, env, "--help")
	if root.code != 0 || !strings.HasPrefix(root.stdout, "Usage: keyward <command>") {
		t.Fatalf("keyward --help: exit %d\n%s%s", root.code, root.stdout, root.stderr)
	}
	paths := commandPaths(t, root.stdout)
	for _, want := range []string{"serve", "worker", "openapi", "config", "migrate up", "migrate down", "migrate status", "catalog sync",
		"keys rotate", "admin create-key", "admin list-keys", "admin revoke-key", "audit verify", "audit checkpoint",
		"stock import", "stock rehash", "bench", "pay", "completion"} {
		if !strings.Contains(root.stdout, "\n  "+want+" ") {
			t.Errorf("keyward --help does not list %q", want)
		}
	}
	every := bootstrap.ConfigVariables()
	for _, path := range paths {
		for _, flag := range []string{"--help", "-h"} {
			name := strings.Join(path, " ")
			r := runIsolated(t, env, slices.Concat(path, []string{flag})...)
			if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage: keyward "+name) {
				t.Errorf("keyward %s %s: exit %d\nstdout:\n%s\nstderr:\n%s", name, flag, r.code, r.stdout, r.stderr)
				continue
			}
			// A bound on a hang (a connection attempted), not a timing: the
			// hostile environment is what proves none is made.
			if r.took > 15*time.Second {
				t.Errorf("keyward %s %s took %s", name, flag, r.took)
			}
			_, environment, documented := strings.Cut(r.stdout, "\nEnvironment:\n")
			switch {
			case name == "completion" || len(path) == 1 && strings.Contains(r.stdout, "\nCommands:\n"):
				// Prints a script, or only lists subcommands: reads no variable.
			case name == "openapi":
				for _, v := range []string{"KEYWARD_HTTP_ADDR", "KEYWARD_PUBLIC_BASE_URL", "KEYWARD_PAYMENTS"} {
					if !strings.Contains(environment, v) {
						t.Errorf("keyward openapi --help does not document %s:\n%s", v, r.stdout)
					}
				}
			case !documented:
				t.Errorf("keyward %s --help documents no variable:\n%s", name, r.stdout)
			default:
				for _, v := range every {
					if !regexp.MustCompile(`\b` + v.Name + `\b`).MatchString(environment) {
						t.Errorf("keyward %s --help does not document %s", name, v.Name)
					}
				}
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("--help left files behind: %v", entries)
	}
}

// TestBadCommandLinesExitTwo: unknown flags, arguments and commands are
// errors with exit 2 and a short message that says where the help is;
// nothing runs (serve --port used to be ignored and the server started).
func TestBadCommandLinesExitTwo(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := append(hostileEnv(dir)[:1], "KEYWARD_HTTP_ADDR=127.0.0.1:0", "KEYWARD_MAIL_DIR="+filepath.Join(dir, "mail"),
		"KEYWARD_KEYRING_FILE="+filepath.Join(dir, "keyring.json"))
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--port", "9000"}, "keyward: unknown flag --port\nusage: keyward serve\nrun 'keyward serve --help' for more\n"},
		{[]string{"worker", "now"}, "run 'keyward worker --help' for more"},
		{[]string{"config", "--json"}, "unknown flag --json"},
		{[]string{"openapi", "--yaml"}, "unknown flag --yaml"},
		{[]string{"migrate", "sideways"}, "run 'keyward migrate --help' for more"},
		{[]string{"catalog", "sync", "--full", "--incremental"}, "usage: keyward catalog sync"},
		{[]string{"pay", "--order", "x", "--port", "1"}, "unknown flag --port"},
		{[]string{"bench", "--orders", "many"}, "--orders"},
		{[]string{"bench", "--variant", "nocolon"}, "usage: keyward bench"},
		{[]string{"admin", "create-key"}, "missing flags: --role"},
		{[]string{"completion", "tcsh"}, "bash"},
		{[]string{"deploy"}, "unexpected argument deploy\nrun 'keyward --help' for more\n"},
		{nil, "Usage: keyward <command>"},
	} {
		r := runIsolated(t, env, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
			t.Errorf("keyward %s: exit %d, want 2 and %q on stderr\nstdout:\n%s\nstderr:\n%s", strings.Join(c.args, " "), r.code, c.want, r.stdout, r.stderr)
		}
		if c.args != nil && strings.Count(r.stderr, "\n") > 3 {
			t.Errorf("keyward %s: more than 3 lines:\n%s", strings.Join(c.args, " "), r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("a refused command line ran: it left %v", entries)
	}
}

// TestCompletion: `keyward completion bash|zsh|fish` prints a script that
// has the shell ask this binary, and the binary answers with the
// commands and flags that fit.
func TestCompletion(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{
		"bash": "complete -o default -C '" + binary + "' keyward\n",
		"zsh":  "bashcompinit\ncomplete -o default -C '" + binary + "' keyward\n",
		"fish": "complete -f -c keyward -a \"(__complete_keyward)\"\n",
	} {
		r := runIsolated(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s: exit %d, want %q in\n%s%s", shell, r.code, want, r.stdout, r.stderr)
		}
	}
	for line, want := range map[string][]string{
		"keyward mig":                {"migrate"},
		"keyward migrate ":           {"up", "down", "status"},
		"keyward catalog sync --":    {"--full", "--incremental", "--help"},
		"keyward audit checkpoint -": {"--out"},
	} {
		r := runIsolated(t, []string{"COMP_LINE=" + line}, "ignored by completion")
		got := strings.Fields(r.stdout)
		for _, w := range want {
			if r.code != 0 || !strings.Contains(" "+strings.Join(got, " ")+" ", " "+w+" ") {
				t.Errorf("completing %q: exit %d, got %q, want %q", line, r.code, got, w)
			}
		}
	}
}
