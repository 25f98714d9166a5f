package bootstrap_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// serving is a bootstrap.Serve running in the test, as `keyward serve`
// and `keyward worker` run it, with what it writes to stderr.
type serving struct {
	stderr *syncBuffer
	ready  chan string // the address of the banner's first line, once written
	done   chan error  // Serve's result
	cancel context.CancelFunc
}

// bannerAddr finds the address a banner's first line announces.
var bannerAddr = regexp.MustCompile(`(?:listening on|ops endpoints on) (http://[^\s,]+)`)

// serveInTest runs bootstrap.Serve for cfg until the test ends; onBanner,
// when set, runs as the banner is written (before Serve goes on).
func serveInTest(t *testing.T, cfg bootstrap.Config, onBanner func(base string)) *serving {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{stderr: &syncBuffer{}, ready: make(chan string, 1), done: make(chan error, 1), cancel: cancel}
	w := writerFunc(func(p []byte) (int, error) {
		// Kept first, so that a test woken by the banner reads all of it.
		n, err := s.stderr.Write(p)
		if m := bannerAddr.FindSubmatch(p); m != nil {
			if onBanner != nil {
				onBanner(string(m[1]))
			}
			select {
			case s.ready <- string(m[1]):
			default:
			}
		}
		return n, err
	})
	go func() { s.done <- bootstrap.Serve(ctx, cfg, w) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(time.Minute):
			t.Error("Serve did not return a minute after its context ended")
		}
	})
	return s
}

// waitBanner returns the address of the banner, failing the test if Serve
// returns first or nothing comes within a minute.
func (s *serving) waitBanner(t *testing.T) string {
	t.Helper()
	select {
	case addr := <-s.ready:
		return addr
	case err := <-s.done:
		s.done <- err
		t.Fatalf("Serve returned before its banner: %v\n%s", err, s.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("no banner within a minute:\n%s", s.stderr)
	}
	return ""
}

// stop ends Serve as SIGTERM does and returns its result.
func (s *serving) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(time.Minute):
		t.Fatal("Serve did not stop within a minute")
	}
	return nil
}

// failed waits for Serve to return and returns its error.
func (s *serving) failed(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		s.done <- err
		if err == nil {
			t.Fatalf("Serve returned no error:\n%s", s.stderr)
		}
		return err
	case addr := <-s.ready:
		t.Fatalf("keyward started (%s):\n%s", addr, s.stderr)
	case <-time.After(time.Minute):
		t.Fatalf("Serve neither started nor failed within a minute:\n%s", s.stderr)
	}
	return errors.New("unreachable")
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// errorLines returns the ERROR-level lines of a JSON log.
func errorLines(log string) []string {
	var out []string
	for line := range strings.SplitSeq(log, "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return out
}
