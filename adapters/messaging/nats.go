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
	subJS     jetstream.JetStream // on subConn: the consumers, their messages and acknowledgements
	log       *slog.Logger
	streams   sync.Map // stream names known to exist
	// closing is closed as Close starts (under mu, which orders it against
	// Subscribe's count of subs), subClosed once the subscriber's
	// connection has closed; subs counts the subscriptions not yet ended,
	// which Close waits for to give their answers.
	closing, subClosed chan struct{}
	mu                 sync.Mutex
	subs               sync.WaitGroup
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
	n := &NATS{cfg: cfg, log: log, closing: make(chan struct{}), subClosed: make(chan struct{})}
	var err error
	if n.pubConn, err = connect("publisher"); err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	if n.subConn, err = connect("subscriber", nats.ClosedHandler(func(*nats.Conn) { close(n.subClosed) }), nats.DrainTimeout(drainWait)); err != nil {
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
	if n.subJS, err = jetstream.New(n.subConn); err != nil {
		n.Close()
		return nil, fmt.Errorf("NATS JetStream: %w", err)
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
func (n *NATS) consumer(ctx context.Context, topic string) (jetstream.Consumer, error) {
	if _, err := n.ensureStream(ctx, topic); err != nil {
		return nil, err
	}
	name := n.StreamName(ConsumerGroup + "_" + topic)
	c, err := n.subJS.CreateOrUpdateConsumer(ctx, n.StreamName(topic), jetstream.ConsumerConfig{
		Durable: name, AckPolicy: jetstream.AckExplicitPolicy, AckWait: n.cfg.AckWait,
		MaxAckPending: 1, DeliverPolicy: jetstream.DeliverAllPolicy, MaxDeliver: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("NATS consumer %s: %w", name, err)
	}
	return c, nil
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
// or the adapter closes; the channel then closes. Each message waits for
// its answer (Ack, Nack) before the next is handed out, at most AckWait
// (NATS gives it again after that).
//
// keyward consumes with the JetStream client itself rather than
// Watermill's JetStream subscriber (watermill-nats v2.1.3), which closes
// the channel it returns as its context ends while its NATS callbacks may
// still be sending on it: a data race, and a panic (send on a closed
// channel) when a message arrives at that moment.
func (n *NATS) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	c, err := n.consumer(ctx, topic)
	if err != nil {
		return nil, err
	}
	s := &natsSubscription{out: make(chan *message.Message), stop: make(chan struct{}), closing: n.closing, ackWait: n.cfg.AckWait,
		log: n.log.With("topic", topic)}
	n.mu.Lock()
	defer n.mu.Unlock()
	select {
	case <-n.closing:
		return nil, errors.New("NATS adapter closed")
	default:
	}
	cc, err := c.Consume(func(msg jetstream.Msg) { s.handle(ctx, msg) },
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			s.log.Warn("NATS consumption", "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("consume NATS %s: %w", n.StreamName(topic), err)
	}
	n.subs.Add(1)
	go func() {
		defer n.subs.Done()
		select {
		case <-ctx.Done():
		case <-n.closing:
		}
		// Drained, not stopped: a message already on its way is still
		// handed to handle, which hands it back (a stopped subscription
		// drops it unanswered, and the topic waits out its ack wait).
		cc.Drain()
		s.end()
	}()
	return s.out, nil
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

// Close ends the subscriptions (a message handed out and left unanswered
// is handed back, for NATS to give to another process) and closes both
// connections.
func (n *NATS) Close() error {
	n.mu.Lock()
	select {
	case <-n.closing:
	default:
		close(n.closing)
	}
	n.mu.Unlock()
	if n.subConn != nil {
		// The subscriptions end, each handing back what its reader left
		// unanswered, and the subscriber's connection drains, so that
		// those answers reach NATS before it closes (nats.DrainTimeout
		// closes it when the drain takes longer).
		ended := make(chan struct{})
		go func() { n.subs.Wait(); close(ended) }()
		t := time.NewTimer(drainWait)
		select {
		case <-ended:
		case <-t.C:
			n.log.Warn("NATS subscriptions did not end in time; closing", "wait", drainWait.String())
		}
		t.Stop()
		if err := n.subConn.Drain(); err != nil {
			n.subConn.Close()
		}
		t = time.NewTimer(2 * drainWait)
		select {
		case <-n.subClosed:
		case <-t.C: // the closed handler never ran: nothing left to wait for
		}
		t.Stop()
	}
	if n.pubConn != nil {
		n.pubConn.Close()
	}
	return nil
}

// drainWait bounds each of Close's two waits: for the subscriptions to
// give their answers (a reader's last acknowledgement, a handler given
// closeGrace to finish) and for the subscriber's connection to drain.
const drainWait = 5 * time.Second

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
