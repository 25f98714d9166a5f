package postgres

import (
	"context"
	"database/sql"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// WebhookOutbox is an Outbox that also writes, in the same transaction,
// a webhook message for each event the shop hears of to every endpoint
// subscribed to it: no statement of its own on the SQL outbox (it rides on
// the outbox's), else one per save, whatever the number of events and
// endpoints; no row when no endpoint wants the event.
type WebhookOutbox struct {
	next     Outbox
	webhooks *Webhooks
	ids      ports.IDs
}

// NewWebhookOutbox wraps next.
func NewWebhookOutbox(next Outbox, webhooks *Webhooks, ids ports.IDs) *WebhookOutbox {
	return &WebhookOutbox{next: next, webhooks: webhooks, ids: ids}
}

// piggybackOutbox is an outbox that can run one more data-modifying
// statement (parameters from $3) within one of its own, such as
// messaging.SQLOutbox.
type piggybackOutbox interface {
	PublishTxWith(ctx context.Context, tx *sql.Tx, with string, args []any, events ...domain.Event) error
}

// PublishTx stores events through the wrapped outbox and their webhook
// messages, in tx: within the outbox's own statement when it can carry
// one, so that the webhooks add no statement to a save.
func (o *WebhookOutbox) PublishTx(ctx context.Context, tx *sql.Tx, events ...domain.Event) error {
	hooks, err := domain.WebhookEventsFor(o.ids.NewID, events)
	if err != nil {
		return err
	}
	if p, ok := o.next.(piggybackOutbox); ok && len(hooks) > 0 {
		return p.PublishTxWith(ctx, tx, enqueueStatement(3), enqueueArgs(hooks), events...)
	}
	if err := o.next.PublishTx(ctx, tx, events...); err != nil {
		return err
	}
	return o.webhooks.EnqueueTx(ctx, tx, hooks...)
}
