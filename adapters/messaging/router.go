package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Handler reacts to one event topic.
type Handler struct {
	Name   string
	Topic  string
	Handle func(ctx context.Context, ev domain.OrderEvent) error
	// Until, when set, stops the handler once it is closed (its
	// subscription ends; the router's other handlers go on): the reader
	// of a topic that is only being drained.
	Until <-chan struct{}
}

// RetryPolicy bounds how a failing handler is retried before its message is
// dead-lettered.
type RetryPolicy struct {
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
}

// DefaultRetryPolicy retries for about six seconds: a message is never held
// for long (the SQL queue hands out one message per topic at a time), and
// what still fails goes to the dead letters, from where the reconciler
// finishes the order once the cause is gone.
var DefaultRetryPolicy = RetryPolicy{MaxRetries: 5, InitialInterval: 200 * time.Millisecond, MaxInterval: 5 * time.Second}

// Failures tells the router what to do with a handler's error and where
// dead letters go.
type Failures struct {
	// Retryable reports whether err is worth retrying (a transient
	// failure); a message failing otherwise is dead-lettered at once.
	Retryable func(err error) bool
	// DeadLetter stores a message the router gives up on, with the last
	// error. An error leaves the message unacknowledged (it comes back).
	DeadLetter func(ctx context.Context, l ports.DeadLetter, cause error) error
	// Stopping, once closed, makes a handler waiting between retries give
	// its message back (unacknowledged) so that shutdown does not wait
	// out a backoff.
	Stopping <-chan struct{}
	// Retried, when set, is told of every retry (by handler route name),
	// for metrics.
	Retried func(handler string)
	// Delivered, when set, is told of every message handed to a handler
	// (by handler route name), for metrics.
	Delivered func(handler string)
}

// errStopping returns a message unacknowledged during shutdown.
var errStopping = errors.New("router stopping: message handed back")

// NewRouter builds a router that runs handlers on messages from sub,
// retries transient failures with exponential backoff and full jitter, and
// dead-letters what fails permanently at once and what stays failing after
// the retries.
func NewRouter(sub message.Subscriber, policy RetryPolicy, failures Failures, log *slog.Logger, handlers ...Handler) (*message.Router, error) {
	if failures.Retryable == nil || failures.DeadLetter == nil {
		panic("messaging.NewRouter: Failures needs Retryable and DeadLetter")
	}
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	r.AddMiddleware(middleware.Recoverer)
	r.AddMiddleware(Correlate) // each delivery runs with the message's correlation id
	for _, h := range handlers {
		h := h
		added := r.AddConsumerHandler(h.Name, h.Topic, sub, func(msg *message.Message) error {
			return handleWithRetries(msg, h, policy, failures, log)
		})
		if h.Until != nil {
			go stopWhen(added, h.Until)
		}
	}
	return r, nil
}

// stopWhen stops h once until is closed, when h has started by then.
func stopWhen(h *message.Handler, until <-chan struct{}) {
	select {
	case <-h.Started():
	case <-until:
		return
	}
	<-until
	h.Stop()
}

func handleWithRetries(msg *message.Message, h Handler, policy RetryPolicy, f Failures, log *slog.Logger) error {
	ctx := msg.Context()
	if f.Delivered != nil {
		route, _, _ := strings.Cut(h.Name, "@")
		f.Delivered(route)
	}
	ev, err := ParseMessage(msg)
	if err != nil {
		return deadLetter(ctx, msg, h.Topic, err, 1, f)
	}
	// The tries below are one run: a claim a try took is the next try's
	// (ports.RunID). A redelivery of the message, which may overlap them,
	// is another run.
	ctx = ports.WithRunID(ctx, h.Name+"/"+msg.UUID+"/"+watermill.NewUUID())
	delay := policy.InitialInterval
	for attempt := 1; ; attempt++ {
		err := h.Handle(ctx, ev)
		if err == nil {
			return nil
		}
		if errors.Is(err, ports.ErrConsumeAborted) {
			// The SQL queue's batch cannot commit: nothing is retried or
			// dead-lettered on it. The batch is given up at once (its
			// transaction rolled back, Watermill's next statement on it
			// failing) and read again; the message was not handled.
			log.WarnContext(ctx, "consume transaction aborted: the batch is read again", "handler", h.Name, "order_id", ev.OrderID, "err", err)
			if c, ok := ConsumeTxFrom(ctx); ok {
				c.Abort()
				return nil
			}
			select {
			case <-ctx.Done():
			case <-f.Stopping:
			}
			return fmt.Errorf("%w: %w", errStopping, err)
		}
		retryable := f.Retryable(err)
		if !retryable || attempt > policy.MaxRetries {
			return deadLetter(ctx, msg, h.Topic, err, attempt, f)
		}
		// Full jitter: workers retrying after one outage part ways.
		wait := time.Duration(rand.Int64N(int64(max(delay, time.Millisecond)))) + delay/2
		log.DebugContext(ctx, "handler failed, retrying", "handler", h.Name, "order_id", ev.OrderID, "attempt", attempt, "wait", wait, "err", err)
		if f.Retried != nil {
			route, _, _ := strings.Cut(h.Name, "@")
			f.Retried(route)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-f.Stopping:
			t.Stop()
			return errStopping
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w: %w", errStopping, ctx.Err())
		}
		delay = min(delay*2, policy.MaxInterval)
	}
}

func deadLetter(ctx context.Context, msg *message.Message, topic string, cause error, attempts int, f Failures) error {
	meta := map[string]string{}
	for k, v := range msg.Metadata {
		meta[k] = v
	}
	l := ports.DeadLetter{
		ID: msg.UUID, Topic: topic, OrderID: msg.Metadata.Get("order_id"), Reason: boundReason(cause.Error()),
		Attempts: attempts, Payload: append([]byte(nil), msg.Payload...), Metadata: meta,
	}
	if err := f.DeadLetter(ctx, l, cause); err != nil {
		return fmt.Errorf("dead-letter message %s: %w (after: %w)", msg.UUID, err, cause)
	}
	return nil // acknowledged: the dead letter holds it now
}

// boundReason keeps a reason readable in a listing.
func boundReason(s string) string {
	const limit = 1000
	if len(s) > limit {
		return s[:limit] + "…"
	}
	return s
}

// Requeue implements ports.MessageRequeue on a Watermill publisher: a
// replayed dead letter goes back to the topic it came from (with Postgres,
// the outbox table, from where a broker's forwarder picks it up too).
type Requeue struct{ pub message.Publisher }

var _ ports.MessageRequeue = Requeue{}

// NewRequeue returns a requeue publishing on pub.
func NewRequeue(pub message.Publisher) Requeue { return Requeue{pub: pub} }

// Requeue publishes a new message (a new id, so a broker's deduplication
// does not drop it) with payload and metadata on topic.
func (q Requeue) Requeue(ctx context.Context, topic string, payload []byte, metadata map[string]string) error {
	msg := message.NewMessage(watermill.NewUUID(), payload)
	for k, v := range metadata {
		msg.Metadata.Set(k, v)
	}
	msg.SetContext(ctx)
	if err := q.pub.Publish(topic, msg); err != nil {
		return fmt.Errorf("requeue on %s: %w", topic, err)
	}
	return nil
}
