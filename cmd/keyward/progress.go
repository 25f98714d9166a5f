package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// progress shows how far long work has come on one line of a terminal,
// rewritten in place (and a line of its own for each named step, such as a
// migration). Off a terminal it is nil and writes nothing: logs and CI
// keep only the results.
type progress struct {
	w        io.Writer
	what     string // "keys sealed", "catalog pages read"
	rate     bool   // also show steps per second
	now      func() time.Time
	start    time.Time
	last     time.Time
	lastDone int
	open     bool  // a line was written and not ended
	skipped  *step // the last report, when it was not drawn (too soon)
}

// step is a count reported.
type step struct{ done, total int }

// refresh is how often the line is rewritten at most.
const refresh = 100 * time.Millisecond

// newProgress returns the progress of what on e's stderr, or nil when
// stderr is not a terminal.
func newProgress(e *env, what string) *progress {
	if !e.tty {
		return nil
	}
	return &progress{w: e.stderr, what: what, now: time.Now}
}

// perSecond also shows the rate.
func (p *progress) perSecond() *progress {
	if p != nil {
		p.rate = true
	}
	return p
}

// report is a bootstrap.Progress: it shows done (of total when known)
// and ends the line with item when one is named.
func (p *progress) report(done, total int, item string) {
	now := p.now()
	if p.start.IsZero() || done < p.lastDone { // a new run (bench runs several loads)
		p.start = now
	}
	p.lastDone = done
	final := total > 0 && done >= total
	if item == "" && !final && p.open && now.Sub(p.last) < refresh {
		p.skipped = &step{done, total}
		return
	}
	p.last, p.skipped = now, nil
	line := fmt.Sprintf("%s: %d", p.what, done)
	if total > 0 {
		line += fmt.Sprintf("/%d", total)
	}
	if secs := now.Sub(p.start).Seconds(); p.rate && secs > 0 {
		line += fmt.Sprintf(" (%.1f/s)", float64(done)/secs)
	}
	if item != "" || final { // a line of its own, kept
		fmt.Fprintf(p.w, "\r\x1b[K%s\n", strings.TrimSpace(line+" "+item))
		p.open = false
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s", line)
	p.open = true
}

// fn is p as a bootstrap.Progress; nil when p is.
func (p *progress) fn() bootstrap.Progress {
	if p == nil {
		return nil
	}
	return p.report
}

// end shows the last count if it was not drawn, and finishes the line, so
// that what follows starts on its own.
func (p *progress) end() {
	if p != nil && p.skipped != nil {
		p.last = time.Time{} // draw now
		p.report(p.skipped.done, p.skipped.total, "")
	}
	if p != nil && p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// afterProgress is an output that ends p's line before each write, so a
// result printed while work goes on (bench prints each load's) starts on
// a line of its own.
type afterProgress struct {
	p *progress
	w io.Writer
}

func (a afterProgress) Write(b []byte) (int, error) {
	a.p.end()
	return a.w.Write(b)
}
