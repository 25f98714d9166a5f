package messaging

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// AMQPConfig configures the RabbitMQ broker.
type AMQPConfig struct {
	URL string
	// Prefix is put before every exchange and queue name, so several
	// keyward installations (or test runs) can share one vhost.
	Prefix string
}

// AMQP carries messages over RabbitMQ. Each topic is a durable fanout
// exchange bound to one durable queue, declared by whichever side comes
// first (so nothing published before the first worker starts is dropped).
// Every keyward process consumes that queue with prefetch 1, and the queue
// is single-active-consumer: RabbitMQ hands its messages to one consumer at
// a time and moves to the next one when that consumer goes, so a topic
// (one partition of an event name) is handled one message at a time, in
// order. Messages are persistent and a publish returns once RabbitMQ has
// confirmed it. One connection, reconnected with backoff, serves both
// sides.
type AMQP struct {
	cfg       AMQPConfig
	conn      *wamqp.ConnectionWrapper
	publisher *wamqp.Publisher
	sub       *wamqp.Subscriber
}

// NewAMQP connects to cfg.URL; it returns an error when RabbitMQ does not
// answer or refuses the credentials.
func NewAMQP(cfg AMQPConfig, log *slog.Logger) (*AMQP, error) {
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	c := amqpConfig(cfg)
	conn, err := wamqp.NewConnection(c.Connection, wlog)
	if err != nil {
		return nil, fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	a := &AMQP{cfg: cfg, conn: conn}
	if a.publisher, err = wamqp.NewPublisherWithConnection(c, wlog, conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("RabbitMQ publisher: %w", err)
	}
	if a.sub, err = wamqp.NewSubscriberWithConnection(c, wlog, conn); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("RabbitMQ subscriber: %w", err)
	}
	return a, nil
}

func amqpConfig(cfg AMQPConfig) wamqp.Config {
	name := func(topic string) string { return cfg.Prefix + topic }
	c := wamqp.NewDurablePubSubConfig(cfg.URL, name)
	c.Exchange.GenerateName = name
	c.Queue.Arguments = amqp.Table{"x-single-active-consumer": true}
	c.Publish.ConfirmDelivery = true
	c.Consume.Qos.PrefetchCount = 1
	c.TopologyBuilder = queueTopology{}
	return c
}

// queueTopology declares a topic's exchange together with its queue and
// binding, also on the publishing side: RabbitMQ drops what a fanout
// exchange receives while no queue is bound to it.
type queueTopology struct{}

// ExchangeDeclare declares the exchange named exchange, the queue of the
// same name and the binding between them.
func (queueTopology) ExchangeDeclare(ch *amqp.Channel, exchange string, c wamqp.Config) error {
	return declare(ch, exchange, c)
}

// BuildTopology declares what ExchangeDeclare does, for a subscriber.
func (queueTopology) BuildTopology(ch *amqp.Channel, p wamqp.BuildTopologyParams, c wamqp.Config, _ watermill.LoggerAdapter) error {
	return declare(ch, p.ExchangeName, c)
}

func declare(ch *amqp.Channel, name string, c wamqp.Config) error {
	if err := ch.ExchangeDeclare(name, "fanout", true, false, false, false, nil); err != nil {
		return fmt.Errorf("declare exchange %s: %w", name, err)
	}
	if _, err := ch.QueueDeclare(name, true, false, false, false, c.Queue.Arguments); err != nil {
		return fmt.Errorf("declare queue %s: %w", name, err)
	}
	if err := ch.QueueBind(name, "", name, false, nil); err != nil {
		return fmt.Errorf("bind queue %s: %w", name, err)
	}
	return nil
}

// Publish sends msgs to topic and returns once RabbitMQ confirmed them.
func (a *AMQP) Publish(topic string, msgs ...*message.Message) error {
	if err := a.publisher.Publish(topic, msgs...); err != nil {
		return fmt.Errorf("publish to RabbitMQ %s: %w", a.cfg.Prefix+topic, err)
	}
	return nil
}

// Subscribe consumes topic's queue.
func (a *AMQP) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	return a.sub.Subscribe(ctx, topic)
}

// Check reports whether the connection is up.
func (a *AMQP) Check(context.Context) error {
	if !a.conn.IsConnected() {
		return fmt.Errorf("RabbitMQ connection is down")
	}
	return nil
}

// Remove deletes topic's queue and exchange.
func (a *AMQP) Remove(_ context.Context, topic string) error {
	ch, err := a.conn.Connection().Channel()
	if err != nil {
		return fmt.Errorf("RabbitMQ channel: %w", err)
	}
	defer ch.Close()
	name := a.cfg.Prefix + topic
	if _, err := ch.QueueDelete(name, false, false, false); err != nil {
		return fmt.Errorf("delete queue %s: %w", name, err)
	}
	if err := ch.ExchangeDelete(name, false, false); err != nil {
		return fmt.Errorf("delete exchange %s: %w", name, err)
	}
	return nil
}

// Close stops the subscriptions (RabbitMQ requeues what was not
// acknowledged) and closes the connection.
func (a *AMQP) Close() error {
	err := a.sub.Close()
	if perr := a.publisher.Close(); err == nil {
		err = perr
	}
	if cerr := a.conn.Close(); err == nil {
		err = cerr
	}
	return err
}
