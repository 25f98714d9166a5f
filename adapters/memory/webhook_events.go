package memory

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// WebhookPublisher is an EventPublisher that also writes a webhook message
// for each event the shop hears of to every endpoint subscribed to it,
// before publishing: the memory stores publish after each save (there is
// no transaction to share), as the Postgres outbox writes both in the
// save's transaction.
type WebhookPublisher struct {
	next     ports.EventPublisher
	webhooks ports.WebhookStore
	ids      ports.IDs
	wake     func()
}

// NewWebhookPublisher wraps next; wake (nil: none) is called after
// messages were written.
func NewWebhookPublisher(next ports.EventPublisher, webhooks ports.WebhookStore, ids ports.IDs, wake func()) *WebhookPublisher {
	if wake == nil {
		wake = func() {}
	}
	return &WebhookPublisher{next: next, webhooks: webhooks, ids: ids, wake: wake}
}

// Publish writes the events' webhook messages, then publishes them.
func (p *WebhookPublisher) Publish(ctx context.Context, events ...domain.Event) error {
	hooks, err := domain.WebhookEventsFor(p.ids.NewID, events)
	if err != nil {
		return err
	}
	if len(hooks) > 0 {
		if err := p.webhooks.Enqueue(ctx, hooks...); err != nil {
			return err
		}
		p.wake()
	}
	if p.next == nil {
		return nil
	}
	return p.next.Publish(ctx, events...)
}
