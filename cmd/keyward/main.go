// Command keyward runs the keyward service and its operator tools.
//
// The command tree is declared with github.com/alecthomas/kong, chosen over
// spf13/cobra because kong derives flags, help, validation and completion
// from typed structs, as keyward's configuration is a typed struct, with
// far less code. cmd/ imports only bootstrap (and the standard library,
// kong, kongplete and x/term): everything a command does is a bootstrap
// function.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kong"
	"github.com/willabides/kongplete"
	"golang.org/x/term"

	"github.com/keyward/keyward/bootstrap"
)

// Exit codes: 1 for a command that failed, 2 for a command line that is
// wrong (as the tools operators know use them).
const (
	exitFailed = 1
	exitUsage  = 2
)

// cli is keyward's command tree. The names are those operators' scripts
// already use: do not rename.
type cli struct {
	Serve      serveCmd      `cmd:"" help:"Run the service: API, workers and schedulers."`
	Worker     workerCmd     `cmd:"" help:"Run only the workers (consumers, reconciler, schedulers), with the ops endpoints on KEYWARD_OPS_ADDR."`
	Openapi    openapiCmd    `cmd:"" name:"openapi" help:"Print the OpenAPI document the server serves at /openapi.json."`
	Config     configCmd     `cmd:"" help:"Print the effective configuration, secrets masked."`
	Migrate    migrateCmd    `cmd:"" help:"Apply, roll back or show the database schema."`
	Catalog    catalogCmd    `cmd:"" help:"Catalog operations."`
	Keys       keysCmd       `cmd:"" help:"Key vault operations."`
	Admin      adminCmd      `cmd:"" help:"Manage the admin API's keys."`
	Audit      auditCmd      `cmd:"" help:"Verify the audit trail or checkpoint its head."`
	Stock      stockCmd      `cmd:"" help:"Own-stock operations."`
	Bench      benchCmd      `cmd:"" help:"Measure throughput and latencies through the HTTP API."`
	Pay        payCmd        `cmd:"" help:"Send a signed sandbox payment notification for an order."`
	Completion completionCmd `cmd:"" help:"Print the shell completion script for bash, zsh or fish."`
	Help       helpCmd       `cmd:"" hidden:"" help:"Print the help of keyward or of a command."`
}

// env is what a command runs with.
type env struct {
	stdout, stderr io.Writer
	// tty: stderr is a terminal, so long work shows its progress there;
	// in logs and CI it stays quiet.
	tty bool
}

func main() {
	e := &env{stdout: os.Stdout, stderr: os.Stderr, tty: term.IsTerminal(int(os.Stderr.Fd()))}
	os.Exit(run(os.Args[1:], e))
}

// exited carries the exit code kong asks for (after printing help) out of
// the parse, so that nothing after it runs.
type exited int

// run parses args, runs the command they name and returns the exit code.
// --help at any level prints usage and returns 0 before any command runs,
// so it reads no configuration and touches no network.
func run(args []string, e *env) (code int) {
	defer func() {
		if r := recover(); r != nil {
			c, ok := r.(exited)
			if !ok {
				panic(r)
			}
			code = int(c)
		}
	}()
	parser, err := newParser(e, &cli{})
	if err != nil {
		panic(err) // a malformed command tree: a programmer error
	}
	// Shell completion asks the binary itself (COMP_LINE set): answer
	// and exit before parsing.
	kongplete.Complete(parser, kongplete.WithExitFunc(func(c int) { panic(exited(c)) }))
	if len(args) == 0 { // a command is needed: say which there are, and fail
		run([]string{"--help"}, &env{stdout: e.stderr, stderr: e.stderr})
		return exitUsage
	}
	ctx, err := parser.Parse(args)
	if err != nil {
		var perr *kong.ParseError
		var node *kong.Node
		if errors.As(err, &perr) && perr.Context != nil {
			node = perr.Context.Selected()
		}
		printUsageError(e.stderr, bootstrap.RedactError(err, bootstrap.EnvLookup).Error(), node)
		return exitUsage
	}
	if err := ctx.Run(e); err != nil {
		var u usageError
		if errors.As(err, &u) {
			printUsageError(e.stderr, u.msg, ctx.Selected())
			return exitUsage
		}
		fmt.Fprintln(e.stderr, "keyward:", bootstrap.RedactError(err, bootstrap.EnvLookup))
		return exitFailed
	}
	return 0
}

// newParser builds the parser that fills c.
func newParser(e *env, c *cli) (*kong.Kong, error) {
	return kong.New(c,
		kong.Name("keyward"),
		kong.Description("keyward: digital-key fulfilment. Configuration comes from KEYWARD_* variables (keyward config lists them)."),
		kong.Writers(e.stdout, e.stderr),
		kong.Exit(func(c int) { panic(exited(c)) }),
		kong.Bind(e),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Help(helpWithEnvironment),
	)
}

// usageError is a command line kong accepts but the command refuses (a
// value only the command can check, such as bench's --variant): exit 2,
// like kong's own errors.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// printUsageError prints what is wrong in one line, the usage of the
// command (of keyward when none was recognised), and where its help is.
func printUsageError(w io.Writer, msg string, node *kong.Node) {
	fmt.Fprintf(w, "keyward: %s\n", msg)
	if node == nil {
		fmt.Fprintln(w, "run 'keyward --help' for more")
		return
	}
	fmt.Fprintf(w, "usage: keyward %s\nrun '%s --help' for more\n", node.Summary(), node.FullPath())
}
