package testkit_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testkit"
)

func TestReceiveReturnsTheNextValue(t *testing.T) {
	ch := make(chan int, 1)
	ch <- 7
	if got := testkit.Receive(t, ch, time.Second, "seven"); got != 7 {
		t.Fatalf("received %d, want 7", got)
	}
}

func TestReceiveFailsNamingWhatItWaitedFor(t *testing.T) {
	msg := run(func(tb testing.TB) { testkit.Receive(tb, make(chan int), 10*time.Millisecond, "the answer") })
	if !strings.Contains(msg, "the answer did not come") {
		t.Fatalf("failure %q does not name what was awaited", msg)
	}
	closed := make(chan int)
	close(closed)
	msg = run(func(tb testing.TB) { testkit.Receive(tb, closed, time.Second, "the answer") })
	if !strings.Contains(msg, "closed before the answer came") {
		t.Fatalf("failure %q does not say the channel closed", msg)
	}
}
