package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// TestAbortedBatchIsNeitherRetriedNorDeadLettered: a handler whose consume
// transaction can no longer commit (ports.ErrConsumeAborted) did not fail:
// its message is not retried in that transaction (the policy would retry
// any other failure twice) nor dead-lettered. On
// the SQL queue the router gives the batch up at once
// (TestAbortedBatchIsGivenUpAtOnce, bootstrap); a message without the
// consume transaction in its context is handed back once the subscriber
// gives it up (its context ends).
func TestAbortedBatchIsNeitherRetriedNorDeadLettered(t *testing.T) {
	t.Parallel()
	msg, err := NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: "order-1", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, giveUp := context.WithCancel(context.Background())
	msg.SetContext(ctx)
	called := make(chan struct{}, 8)
	h := Handler{Name: "h", Topic: "order.paid", Handle: func(context.Context, domain.OrderEvent) error {
		called <- struct{}{}
		return fmt.Errorf("read failed: %w", ports.ErrConsumeAborted)
	}}
	dead := 0
	f := Failures{
		Retryable:  func(error) bool { return true },
		DeadLetter: func(context.Context, ports.DeadLetter, error) error { dead++; return nil },
	}
	done := make(chan error, 1)
	go func() {
		done <- handleWithRetries(msg, h, RetryPolicy{MaxRetries: 2, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}, f, slog.New(slog.DiscardHandler))
	}()
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler was not called within 10 s")
	}
	// It waits for the subscriber: still running a while after the
	// handler failed (the retry policy would have run it again within a
	// millisecond).
	select {
	case err := <-done:
		t.Fatalf("the handling ended (%v) before the subscriber gave the batch up", err)
	case <-time.After(50 * time.Millisecond):
	}
	giveUp()
	var got error
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handling did not end when the subscriber gave the batch up")
	}
	if got == nil || !errors.Is(got, ports.ErrConsumeAborted) || !errors.Is(got, errStopping) {
		t.Fatalf("returned %v, want the message handed back (errStopping, ErrConsumeAborted)", got)
	}
	if dead != 0 || len(called) != 0 {
		t.Fatalf("%d dead letters and %d more tries, want neither", dead, len(called))
	}
}
