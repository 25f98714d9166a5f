package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestQuietOnStopOnlyCancellationsWhileStopping: only an error caused by
// context.Canceled, logged once the process is stopping, loses its ERROR
// level; before the stop, or with another cause, an error stays one.
func TestQuietOnStopOnlyCancellationsWhileStopping(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	stop := newStopping()
	log := quietOnStop(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})), stop).With("component", "sql-subscriber")
	canceled := fmt.Errorf("could not begin tx for querying: %w", context.Canceled)
	lineOf := func(msg string, err error) string {
		out.Reset()
		log.Error(msg, "error", err)
		return out.String()
	}
	if line := lineOf("before the stop", canceled); !strings.Contains(line, `"level":"ERROR"`) {
		t.Errorf("a cancellation before the stop: %s", line)
	}
	stop.stop()
	if line := lineOf("while stopping", canceled); !strings.Contains(line, `"level":"DEBUG"`) || !strings.Contains(line, `"component":"sql-subscriber"`) {
		t.Errorf("a cancellation while stopping: %s", line)
	}
	if line := lineOf("while stopping", errors.New("connection reset")); !strings.Contains(line, `"level":"ERROR"`) {
		t.Errorf("another error while stopping: %s", line)
	}
}
