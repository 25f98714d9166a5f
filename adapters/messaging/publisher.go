package messaging

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/domain"
)

// Publisher implements ports.EventPublisher on any Watermill publisher.
type Publisher struct {
	pub message.Publisher
}

// NewPublisher wraps pub.
func NewPublisher(pub message.Publisher) *Publisher { return &Publisher{pub: pub} }

// Publish sends each event to its topic, but those domain.QueuedEvents
// leaves off; it returns the first failure.
func (p *Publisher) Publish(ctx context.Context, events ...domain.Event) error {
	for _, ev := range domain.QueuedEvents(events) {
		msg, err := NewMessage(ev)
		if err != nil {
			return err
		}
		msg.SetContext(ctx)
		stampCorrelation(ctx, msg)
		if err := p.pub.Publish(Topic(ev), msg); err != nil {
			return fmt.Errorf("publish %s: %w", ev.EventName(), err)
		}
	}
	return nil
}
