package bootstrap

import (
	"context"
	"strings"

	"go.uber.org/dig"
	"go.uber.org/fx"
)

// App is a keyward process built by New: fx's application, whose Err and
// Start return the cause of a failed start (the constructor's or start
// hook's own error, which names the variable to fix) rather than the
// chain of the graph that led to it.
type App struct{ *fx.App }

// Err returns the cause of a failed New, or nil.
func (a *App) Err() error { return startupCause(a.App.Err()) }

// Start starts the process; on failure it returns the cause, one or two
// lines naming the variable to fix, after rolling back what had started.
func (a *App) Start(ctx context.Context) error { return startupCause(a.App.Start(ctx)) }

// startupCause strips fx's and dig's wrapping ("could not build arguments
// for function …" for each constructor up the graph) from a start-up
// error and keeps its first two lines. errors.Is and errors.As still see
// the cause.
func startupCause(err error) error {
	if err == nil {
		return nil
	}
	cause := dig.RootCause(err)
	// A start that fails rolls back, and a stop hook that fails too is
	// appended: the start's error is the one to fix.
	if multi, ok := cause.(interface{ Unwrap() []error }); ok {
		if errs := multi.Unwrap(); len(errs) > 0 {
			cause = dig.RootCause(errs[0])
		}
	}
	return startupError{err: cause, text: firstLines(cause.Error(), 2)}
}

// firstLines is s cut to its first n lines.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines = lines[:n]
	}
	return strings.Join(lines, "\n")
}

// startupError is the text of a start-up failure over its cause.
type startupError struct {
	err  error
	text string
}

func (e startupError) Error() string { return e.text }
func (e startupError) Unwrap() error { return e.err }
