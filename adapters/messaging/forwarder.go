package messaging

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Forwarding is a subscriber on a broker that, for every topic subscribed
// to, first starts moving that topic's messages from the Postgres outbox to
// the broker: the work Watermill's forwarder component does, per topic, so
// a process forwards exactly what it consumes, partitions stay in order
// and the outbox is read as consumer group ConsumerGroup, where the SQL
// queue left off. A message leaves the outbox (is acknowledged there) only
// once the broker has stored it; while the broker is down, publishing is
// retried with backoff and nothing is lost. A crash between the two sends
// the message again: the broker sees a duplicate (NATS drops it by id,
// handlers are idempotent anyway).
type Forwarding struct {
	broker interface {
		message.Publisher
		message.Subscriber
	}
	outbox message.Subscriber
	log    *slog.Logger

	wg      sync.WaitGroup
	mu      sync.Mutex
	running map[string]bool
}

// NewForwarding forwards from outbox to broker, which it then subscribes to.
func NewForwarding(broker interface {
	message.Publisher
	message.Subscriber
}, outbox message.Subscriber, log *slog.Logger) *Forwarding {
	return &Forwarding{broker: broker, outbox: outbox, log: log, running: map[string]bool{}}
}

// Subscribe starts forwarding topic (once per topic, until ctx ends) and
// subscribes to it on the broker.
func (f *Forwarding) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if err := f.Forward(ctx, topic); err != nil {
		return nil, err
	}
	return f.broker.Subscribe(ctx, topic)
}

// Forward moves topic's outbox messages to the broker until ctx ends. It
// returns an error when the outbox cannot be subscribed to.
func (f *Forwarding) Forward(ctx context.Context, topic string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[topic] {
		return nil
	}
	msgs, err := f.outbox.Subscribe(ctx, topic)
	if err != nil {
		return err
	}
	f.running[topic] = true
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer func() { f.mu.Lock(); delete(f.running, topic); f.mu.Unlock() }()
		for msg := range msgs {
			f.forward(ctx, topic, msg)
		}
	}()
	return nil
}

// forward publishes msg until the broker takes it, then acknowledges it in
// the outbox; when ctx ends first it leaves it there.
func (f *Forwarding) forward(ctx context.Context, topic string, msg *message.Message) {
	delay := 100 * time.Millisecond
	for {
		err := f.broker.Publish(topic, msg)
		if err == nil {
			msg.Ack()
			return
		}
		f.log.Warn("forwarding to the broker failed, retrying", "topic", topic, "message", msg.UUID, "retry_in", delay, "err", err)
		select {
		case <-ctx.Done():
			msg.Nack()
			return
		case <-msg.Context().Done():
			msg.Nack() // the outbox took it back; it comes again
			return
		case <-time.After(delay + rand.N(delay/2)):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// Wait returns once every forwarding loop has stopped.
func (f *Forwarding) Wait() { f.wg.Wait() }

// Close stops forwarding, leaving what was not forwarded in the outbox,
// and closes the broker.
func (f *Forwarding) Close() error {
	err := f.outbox.Close()
	f.wg.Wait()
	if berr := f.broker.Close(); err == nil {
		err = berr
	}
	return err
}
