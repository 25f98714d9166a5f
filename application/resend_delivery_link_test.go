package application_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// workingLinks counts the order's links that would reveal now.
func workingLinks(t *testing.T, w *world, orderID string) int {
	t.Helper()
	links, err := w.links.ListByOrder(t.Context(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range links {
		if l.CanReveal(w.clock.Now()) == nil {
			n++
		}
	}
	return n
}

// TestConcurrentResendsLeaveExactlyOneLink: however resends interleave,
// the customer is left with exactly one working link; a resend that finds
// another under way says so instead of racing it.
func TestConcurrentResendsLeaveExactlyOneLink(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, _ := deliveredToken(t, w)
	resend := w.app(func(_ *application.Deps, s *application.Settings) { s.Delivery.ResendLimit = 0 }).Commands.ResendDeliveryLink
	for round := range 20 {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := resend.Handle(t.Context(), o.ID(), "", "admin:test")
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		sent := 0
		for err := range errs {
			switch {
			case err == nil:
				sent++
			case errors.Is(err, domain.ErrConflict):
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if sent == 0 {
			t.Fatalf("round %d: no resend went through", round)
		}
		if n := workingLinks(t, w, o.ID()); n != 1 {
			t.Fatalf("round %d: %d working links, want exactly 1", round, n)
		}
	}
}

// TestResendsAreLimitedPerOrder: past the allowance a resend is refused
// with the time to wait, and allowed again once the window has passed.
func TestResendsAreLimitedPerOrder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, _ := deliveredToken(t, w)
	resend := w.app(func(_ *application.Deps, s *application.Settings) {
		s.Delivery.ResendLimit, s.Delivery.ResendWindow = 2, time.Hour
	}).Commands.ResendDeliveryLink
	sent := len(w.mail.sent)
	for range 2 {
		w.clock.Advance(time.Minute)
		if _, err := resend.Handle(t.Context(), o.ID(), "", "admin:test"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := resend.Handle(t.Context(), o.ID(), "", "admin:test")
	wait, limited := application.RetryAfter(err)
	if !errors.Is(err, application.ErrRateLimited) || !limited {
		t.Fatalf("third resend in the hour: %v", err)
	}
	if wait != 59*time.Minute {
		t.Fatalf("retry after %s, want 59m (when the first resend leaves the window)", wait)
	}
	if got := len(w.mail.sent) - sent; got != 2 {
		t.Fatalf("%d emails for 2 allowed resends", got)
	}
	w.clock.Advance(wait)
	if _, err := resend.Handle(t.Context(), o.ID(), "", "admin:test"); err != nil {
		t.Fatalf("after waiting: %v", err)
	}
	if n := workingLinks(t, w, o.ID()); n != 1 {
		t.Fatalf("%d working links", n)
	}
}
