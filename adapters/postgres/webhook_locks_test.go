package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestWebhookEndpointLockLetsMessagesBeWritten: while an endpoint's row is
// locked to change it, messages to it are still written (the foreign key
// takes a KEY SHARE lock, which FOR NO KEY UPDATE lets through), so an
// endpoint being edited never holds up the order saves that write them.
func TestWebhookEndpointLockLetsMessagesBeWritten(t *testing.T) {
	t.Parallel()
	w := postgres.NewWebhooks(pgtest.NewDB(t))
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	if err := w.CreateEndpoint(t.Context(), domain.WebhookEndpoint{ID: "ep-1", URL: "https://shop.example/hooks", Events: []string{"*"},
		Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: at, UpdatedAt: at}); err != nil {
		t.Fatal(err)
	}
	locked, release, updated := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		_, err := w.UpdateEndpoint(context.WithoutCancel(t.Context()), "ep-1", func(e *domain.WebhookEndpoint) error {
			close(locked)
			<-release
			e.Description = "changed"
			return nil
		})
		updated <- err
	}()
	<-locked
	ev, err := domain.NewWebhookEvent("ev-1", "order.paid", "o1", at, map[string]any{"order_id": "o1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	err = w.Enqueue(ctx, ev)
	cancel()
	close(release)
	if err != nil {
		t.Fatalf("a message to an endpoint being changed waited for the change: %v", err)
	}
	if err := <-updated; err != nil {
		t.Fatal(err)
	}
}
