package bootstrap

import (
	"context"
	"database/sql"

	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// countedOutbox counts the events the outbox writes, by event name. A
// transaction retried after a serialization failure counts its events
// again: the count is of what was sent.
type countedOutbox struct {
	postgres.Outbox
	m *metrics.Metrics
}

func (o countedOutbox) PublishTx(ctx context.Context, tx *sql.Tx, events ...domain.Event) error {
	if err := o.Outbox.PublishTx(ctx, tx, events...); err != nil {
		return err
	}
	countEvents(o.m, events)
	return nil
}

// countedPublisher counts the events the in-memory orders publish (no
// outbox).
type countedPublisher struct {
	ports.EventPublisher
	m *metrics.Metrics
}

func (p countedPublisher) Publish(ctx context.Context, events ...domain.Event) error {
	if err := p.EventPublisher.Publish(ctx, events...); err != nil {
		return err
	}
	countEvents(p.m, events)
	return nil
}

// countEvents counts the messages events make: domain.QueuedEvents.
func countEvents(m *metrics.Metrics, events []domain.Event) {
	for _, ev := range domain.QueuedEvents(events) {
		m.Published(ev.EventName(), 1)
	}
}
