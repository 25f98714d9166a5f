package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wjs "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/jetstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSConfig configures the NATS JetStream broker.
type NATSConfig struct {
	URL string
	// AckWait is how long a delivered message may stay unacknowledged
	// before JetStream hands it out again (a crashed worker's message
	// waits this long). It must exceed a handler's retry budget.
	AckWait time.Duration
	// Prefix is put before every stream and consumer name, so several
	// keyward installations (or test runs) can share one server.
	Prefix string
}

// NATS carries messages over NATS JetStream. Each topic is a stream with
// work-queue retention (an acknowledged message is gone) and one durable
// consumer shared by every keyward process, with at most one message
// unacknowledged (MaxAckPending 1): the processes compete for a topic's
// messages, and a topic, which is one partition of an event name, is
// handled one message at a time, in order. Publisher and subscriber have
// their own connections, which reconnect forever.
type NATS struct {
	cfg       NATSConfig
	pubConn   *nats.Conn
	subConn   *nats.Conn
	js        jetstream.JetStream
	publisher *wjs.Publisher
	sub       *wjs.Subscriber
	streams   sync.Map // stream names known to exist
	// closing is closed as Close starts, subClosed once the subscriber's
	// connection has closed (drained): see Subscribe.
	closing, subClosed chan struct{}
	closeOnce          sync.Once
}

// NewNATS connects to cfg.URL; it returns an error when the server does
// not answer or has no JetStream.
func NewNATS(cfg NATSConfig, log *slog.Logger) (*NATS, error) {
	if cfg.AckWait <= 0 {
		cfg.AckWait = AckDeadline
	}
	connect := func(role string, more ...nats.Option) (*nats.Conn, error) {
		return nats.Connect(cfg.URL, append([]nats.Option{nats.Name("keyward-" + role), nats.MaxReconnects(-1), nats.ReconnectWait(500 * time.Millisecond),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					log.Warn("nats disconnected", "role", role, "err", err)
				}
			}),
			nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats reconnected", "role", role) })}, more...)...)
	}
	n := &NATS{cfg: cfg, closing: make(chan struct{}), subClosed: make(chan struct{})}
	var err error
	if n.pubConn, err = connect("publisher"); err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	if n.subConn, err = connect("subscriber", nats.ClosedHandler(func(*nats.Conn) { close(n.subClosed) })); err != nil {
		n.pubConn.Close()
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	if n.js, err = jetstream.New(n.pubConn); err != nil {
		n.Close()
		return nil, fmt.Errorf("NATS JetStream: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.js.AccountInfo(ctx); err != nil {
		n.Close()
		return nil, fmt.Errorf("NATS JetStream is not available (start nats-server with -js): %w", err)
	}
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	if n.publisher, err = wjs.NewPublisher(wjs.PublisherConfig{Conn: n.pubConn, Logger: wlog, ConfigureStream: n.streamConfig}); err != nil {
		n.Close()
		return nil, fmt.Errorf("NATS publisher: %w", err)
	}
	n.sub, err = wjs.NewSubscriber(wjs.SubscriberConfig{
		Conn: n.subConn, Logger: wlog, AckWaitTimeout: cfg.AckWait,
		ConfigureStream: n.streamConfig, ResourceInitializer: n.consumer,
		Unmarshaler: lenientUnmarshaler{},
	})
	if err != nil {
		n.Close()
		return nil, fmt.Errorf("NATS subscriber: %w", err)
	}
	return n, nil
}

// StreamName is the stream (and subject) of topic: stream names cannot
// hold dots, so they become underscores.
func (n *NATS) StreamName(topic string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '*' || r == '>' || r == '/' || r == '\\' || r <= ' ' {
			return '_'
		}
		return r
	}, n.cfg.Prefix+topic)
}

// streamConfig is a topic's stream. The Watermill publisher publishes on
// the stream's name, so that is its subject too.
func (n *NATS) streamConfig(topic string) jetstream.StreamConfig {
	name := n.StreamName(topic)
	return jetstream.StreamConfig{Name: name, Subjects: []string{name}, Retention: jetstream.WorkQueuePolicy, Storage: jetstream.FileStorage}
}

// ensureStream creates topic's stream unless it exists; an existing
// stream is left as the operator configured it (replicas, limits).
func (n *NATS) ensureStream(ctx context.Context, topic string) (jetstream.Stream, error) {
	cfg := n.streamConfig(topic)
	s, err := n.js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = n.js.CreateStream(ctx, cfg)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			s, err = n.js.Stream(ctx, cfg.Name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("NATS stream %s: %w", cfg.Name, err)
	}
	n.streams.Store(cfg.Name, true)
	return s, nil
}

// consumer is the durable consumer every keyward process shares for topic.
func (n *NATS) consumer(ctx context.Context, _ jetstream.JetStream, topic string) (jetstream.Consumer, func(context.Context, watermill.LoggerAdapter), error) {
	s, err := n.ensureStream(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	name := n.StreamName(ConsumerGroup + "_" + topic)
	c, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: n.cfg.AckWait,
		MaxAckPending: 1, DeliverPolicy: jetstream.DeliverAllPolicy, MaxDeliver: -1,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("NATS consumer %s: %w", name, err)
	}
	return c, nil, nil
}

// Publish sends msgs to topic once JetStream has stored them. Each carries
// its UUID as Nats-Msg-Id, so a message forwarded twice (a crash between
// the publish and the outbox acknowledgement) is stored once.
func (n *NATS) Publish(topic string, msgs ...*message.Message) error {
	name := n.StreamName(topic)
	if _, ok := n.streams.Load(name); !ok {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := n.ensureStream(ctx, topic)
		cancel()
		if err != nil {
			return err
		}
	}
	for _, m := range msgs {
		c := m.Copy()
		c.Metadata.Set(nats.MsgIdHdr, m.UUID)
		if err := n.publisher.Publish(topic, c); err != nil {
			return fmt.Errorf("publish to NATS %s: %w", name, err)
		}
	}
	return nil
}

// Subscribe consumes topic as the shared durable consumer, until ctx ends
// (the channel then closes) or the adapter closes.
//
// Watermill's JetStream subscriber (watermill-nats v2.1.3) closes the
// channel it returns as soon as the context it was given ends or it
// closes, while its NATS callbacks may still be sending on that channel:
// a data race, and a panic (send on a closed channel) when a message
// arrives at that moment. Nor does the NATS connection's close wait for a
// callback under way. So that channel is never closed: the subscriber is
// given a context that never ends and is not closed (Close drains and
// closes its connection instead), and a relay takes every message from it
// for as long as the process runs.
func (n *NATS) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	in, err := n.sub.Subscribe(context.WithoutCancel(ctx), topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go n.relay(ctx, in, out)
	return out, nil
}

// relay hands the subscriber's messages (in) on to out until ctx ends,
// and then closes out. A message that comes after, or that nobody took
// from out, is held unanswered until the adapter closes, then handed back
// (Nack) for NATS to redeliver, as is every message after that, so that
// the callbacks waiting for their answer finish and the connection
// drains. (Handed back at once, it would come straight back, again and
// again until the close.) It goes on taking messages after the close, so
// that a callback still under way never blocks, until the process ends.
func (n *NATS) relay(ctx context.Context, in <-chan *message.Message, out chan<- *message.Message) {
	var held []*message.Message
	done, closing := ctx.Done(), n.closing
	for {
		select {
		case m, ok := <-in:
			if !ok {
				if done != nil {
					close(out)
				}
				return
			}
			if done != nil {
				select {
				case out <- m:
					continue
				case <-done:
					done = nil
					close(out)
				}
			}
			if closing == nil {
				m.Nack()
			} else {
				held = append(held, m)
			}
		case <-done:
			done = nil
			close(out)
		case <-closing:
			closing = nil
			for _, h := range held {
				h.Nack()
			}
			held = nil
		}
	}
}

// Check reports whether both connections are up.
func (n *NATS) Check(context.Context) error {
	for _, c := range []*nats.Conn{n.pubConn, n.subConn} {
		if !c.IsConnected() {
			return fmt.Errorf("NATS connection is %s", c.Status())
		}
	}
	return nil
}

// Remove deletes topic's stream and its consumer.
func (n *NATS) Remove(ctx context.Context, topic string) error {
	name := n.StreamName(topic)
	n.streams.Delete(name)
	if err := n.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete NATS stream %s: %w", name, err)
	}
	return nil
}

// Close stops the subscriptions (the messages their relays hold
// unanswered are handed back, for NATS to give to another process) and
// closes both connections.
func (n *NATS) Close() error {
	n.closeOnce.Do(func() { close(n.closing) })
	if n.subConn != nil {
		// The subscriber's connection drains: the callbacks under way get
		// their answers (the relays hand back what they hold) and no new
		// message comes. The subscriber itself is left open (see
		// Subscribe).
		if err := n.subConn.Drain(); err != nil {
			n.subConn.Close()
		}
		t := time.NewTimer(drainWait)
		select {
		case <-n.subClosed:
		case <-t.C:
			n.subConn.Close()
		}
		t.Stop()
	}
	if n.pubConn != nil {
		n.pubConn.Close()
	}
	return nil
}

// drainWait bounds how long Close waits for the subscriber's connection
// to drain: its callbacks wait for answers the relays give at once.
const drainWait = 10 * time.Second

// lenientUnmarshaler never fails: a message keyward cannot read still
// reaches the handler, which sends it to the dead letters (the Watermill
// subscriber would otherwise crash on it).
type lenientUnmarshaler struct{}

func (lenientUnmarshaler) Unmarshal(m jetstream.Msg) (*message.Message, error) {
	msg, err := wjs.DefaultUnmarshaler{}.Unmarshal(m)
	if err != nil {
		msg = message.NewMessage(watermill.NewUUID(), m.Data())
	}
	return msg, nil
}

// RemoveNATSStreams deletes, on the NATS server at url, every stream whose
// name starts with prefix as NATS.StreamName spells it (with their
// consumers and messages), and returns how many it deleted. It is for
// installations that are done: a process still running under prefix makes
// its streams again. An empty prefix is refused, so as never to delete
// every stream on a shared server.
func RemoveNATSStreams(ctx context.Context, url, prefix string) (int, error) {
	if prefix == "" {
		return 0, errors.New("remove NATS streams: refusing an empty prefix")
	}
	conn, err := nats.Connect(url, nats.Name("keyward-cleanup"))
	if err != nil {
		return 0, fmt.Errorf("connect to NATS: %w", err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		return 0, fmt.Errorf("NATS JetStream: %w", err)
	}
	spelled := (&NATS{cfg: NATSConfig{Prefix: prefix}}).StreamName("")
	names := js.StreamNames(ctx)
	var mine []string
	for name := range names.Name() {
		if strings.HasPrefix(name, spelled) {
			mine = append(mine, name)
		}
	}
	if err := names.Err(); err != nil {
		return 0, fmt.Errorf("list NATS streams: %w", err)
	}
	deleted := 0
	for _, name := range mine {
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return deleted, fmt.Errorf("delete NATS stream %s: %w", name, err)
		}
		deleted++
	}
	return deleted, nil
}
