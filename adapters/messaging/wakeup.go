package messaging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/lib/pq"

	"github.com/keyward/keyward/ports"
)

// NotifyChannel is the Postgres channel on which the outbox announces the
// topics it wrote to; the payload is the topic.
const NotifyChannel = "keyward_outbox"

// notifyTopics announces topics on NotifyChannel inside tx: Postgres
// delivers the notifications when, and only if, tx commits. A non-empty
// with (parameters from $3) runs in the same statement, as a WITH query.
func notifyTopics(ctx context.Context, tx *sql.Tx, topics []string, with string, args ...any) error {
	q := `SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t`
	if with != "" {
		q = `WITH piggyback AS (` + with + `) ` + q
	}
	if _, err := tx.ExecContext(ctx, q, append([]any{NotifyChannel, pq.StringArray(topics)}, args...)...); err != nil {
		return fmt.Errorf("outbox notify: %w", err)
	}
	return nil
}

// Wakeup listens on NotifyChannel and wakes the SQL subscribers of a
// topic as soon as an event for it commits, so that the queue does not
// wait for its next poll. Polling stays as the fallback: a missed
// notification (listener reconnecting, another writer) costs at most one
// poll interval.
type Wakeup struct {
	dsn      string
	listener *pq.Listener // set by Start
	log      *slog.Logger
	mu       sync.Mutex
	waiters  map[string][]chan struct{}
	done     chan struct{}
}

// NewWakeup connects a listener to the database at dsn and starts
// dispatching notifications (PrepareWakeup, then Start); Close stops it.
// It returns an error when LISTEN fails, or when no connection is made
// within connectTimeout.
func NewWakeup(dsn string, log *slog.Logger) (*Wakeup, error) {
	w := PrepareWakeup(dsn, log)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	if err := w.Start(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// connectTimeout bounds NewWakeup's first connection.
const connectTimeout = 30 * time.Second

// PrepareWakeup returns a Wakeup that listens on the database at dsn once
// Start is called: subscribers may be given it before (they poll until it
// listens), and a process whose start fails before Start leaves no
// listener behind, reconnecting to a database it no longer uses.
func PrepareWakeup(dsn string, log *slog.Logger) *Wakeup {
	return &Wakeup{dsn: dsn, log: log, waiters: map[string][]chan struct{}{}, done: make(chan struct{})}
}

// Start connects the listener and starts dispatching notifications. It
// returns an error when LISTEN fails, or when ctx ends or Close is called
// before the listener has connected (lib/pq's listener keeps trying to
// connect until then); the listener is then closed, so that nothing keeps
// reconnecting. It is called once.
func (w *Wakeup) Start(ctx context.Context) error {
	log := w.log
	l := pq.NewListener(w.dsn, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		if err != nil {
			log.Warn("outbox listener", "event", ev, "err", err)
		}
	})
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		_ = l.Close()
		return errors.New("outbox listener: closed before it started")
	default:
	}
	w.listener = l // Close closes it from now on
	w.mu.Unlock()
	listened := make(chan error, 1)
	go func() { listened <- l.Listen(NotifyChannel) }()
	select {
	case err := <-listened:
		if err != nil {
			w.drop(l)
			return fmt.Errorf("listen %s: %w", NotifyChannel, err)
		}
	case <-ctx.Done():
		w.drop(l)
		return fmt.Errorf("listen %s: %w", NotifyChannel, ctx.Err())
	case <-w.done:
		return errors.New("outbox listener: closed before it connected")
	}
	go w.dispatch(l)
	return nil
}

// drop closes l, a listener Start gave up on, unless Close has taken it.
func (w *Wakeup) drop(l *pq.Listener) {
	w.mu.Lock()
	mine := w.listener == l
	if mine {
		w.listener = nil
	}
	w.mu.Unlock()
	if mine {
		_ = l.Close()
	}
}

func (w *Wakeup) dispatch(l *pq.Listener) {
	for {
		select {
		case <-w.done:
			return
		case n, ok := <-l.NotificationChannel():
			if !ok {
				return
			}
			if n == nil { // reconnected: notifications may have been missed
				w.wakeAll()
				continue
			}
			w.wake(n.Extra)
		}
	}
}

func (w *Wakeup) wake(topic string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ch := range w.waiters[topic] {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

func (w *Wakeup) wakeAll() {
	w.mu.Lock()
	topics := make([]string, 0, len(w.waiters))
	for t := range w.waiters {
		topics = append(topics, t)
	}
	w.mu.Unlock()
	for _, t := range topics {
		w.wake(t)
	}
}

func (w *Wakeup) register(topic string) chan struct{} {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiters[topic] = append(w.waiters[topic], ch)
	return ch
}

// Close stops listening; subscribers fall back to polling.
func (w *Wakeup) Close() error {
	w.mu.Lock()
	select {
	case <-w.done:
		w.mu.Unlock()
		return nil
	default:
	}
	close(w.done)
	l := w.listener
	w.listener = nil // closed here, not by Start's drop
	w.mu.Unlock()
	if l == nil {
		return nil // never started
	}
	return l.Close()
}

// Backoff of a woken subscriber that finds nothing: the event's
// transaction is committed but the queue shows a message only once every
// older transaction has ended, so it looks again shortly, a few times,
// before going back to the poll interval. (The oldest running transaction
// of the whole Postgres cluster holds the queue back, see BENCHMARKS.md.)
var recheckBackoff = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 200 * time.Millisecond}

// wakeBackoff is a watermill-sql BackoffManager: with nothing to read, a
// subscriber waits for a notification on its topic, a short recheck after
// one, or the poll interval, whichever comes first. It learns the topic
// from the topic-scoped logger the subscriber hands it (see topicLogger).
type wakeBackoff struct {
	wakeup  *Wakeup
	poll    time.Duration
	retry   time.Duration
	closing <-chan struct{}
	// stopSignal: the process is stopping, the subscriber is about to be
	// closed; it polls every stopPoll until then.
	stopSignal <-chan struct{}
	mu         sync.Mutex
	topics     map[string]*topicWait
}

type topicWait struct {
	ch      chan struct{}
	recheck int // index in recheckBackoff after a wake-up; -1: none
}

func (b *wakeBackoff) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err != nil {
		if b.stopping(err) {
			logger.Debug("query cancelled by the stop", watermill.LogFields{"err": err.Error()})
			return b.retry
		}
		if givenUp(logger, err) {
			return abortedReread
		}
		logger.Error("Error querying for message", err, watermill.LogFields{"wait_time": b.retry})
		return b.retry
	}
	tl, ok := logger.(topicLogger)
	if !ok {
		if noMsg {
			return b.poll
		}
		return 0
	}
	tw := b.waitFor(tl.topic)
	if !noMsg {
		tw.recheck = -1
		return 0
	}
	if tw.recheck >= 0 && tw.recheck < len(recheckBackoff) {
		d := recheckBackoff[tw.recheck]
		tw.recheck++
		return b.wait(tw, d)
	}
	tw.recheck = -1
	return b.wait(tw, b.poll)
}

// quietStopBackoff is Watermill's backoff, except that a poll cancelled
// by the stop is logged at debug level, not as an error.
type quietStopBackoff struct {
	wsql.BackoffManager
	retry time.Duration
}

func (q quietStopBackoff) HandleError(logger watermill.LoggerAdapter, noMsg bool, err error) time.Duration {
	if err != nil && cancelledPoll(err) {
		logger.Debug("query cancelled by the stop", watermill.LogFields{"err": err.Error()})
		return q.retry
	}
	if givenUp(logger, err) {
		return abortedReread
	}
	return q.BackoffManager.HandleError(logger, noMsg, err)
}

// abortedReread is how soon a subscriber reads a batch again after its
// handling gave it up (ConsumeTx.Abort): the batch is waiting, and the
// message that aborted it will not abort it again (Eager).
const abortedReread = 10 * time.Millisecond

// givenUp reports, and logs at debug (the router warned already), whether
// err is a batch a handling gave up (ports.ErrConsumeAborted).
func givenUp(logger watermill.LoggerAdapter, err error) bool {
	if !errors.Is(err, ports.ErrConsumeAborted) {
		return false
	}
	logger.Debug("batch given up by its handling; read again", watermill.LogFields{"err": err.Error()})
	return true
}

// stopping reports whether err is the subscriber's own poll cancelled
// by a stop: the process is closing, or the query died of a cancelled
// context (lib/pq reports that as 57014 "canceling statement due to user
// request", a statement_timeout as 57014 with another message).
func (b *wakeBackoff) stopping(err error) bool {
	select {
	case <-b.closing:
		return true
	default:
	}
	return cancelledPoll(err)
}

// cancelledPoll reports whether err is a query that died of its
// cancelled context.
func cancelledPoll(err error) bool {
	if errors.Is(err, context.Canceled) {
		return true
	}
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && pqErr.Code == "57014" && strings.Contains(pqErr.Message, "user request")
}

// wait blocks until a wake-up or d; it returns 0 so that the subscriber
// queries at once.
func (b *wakeBackoff) wait(tw *topicWait, d time.Duration) time.Duration {
	stop := b.stopSignal
	select {
	case <-stop:
		d, stop = min(d, stopPoll), nil
	default:
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-tw.ch:
		tw.recheck = 0
	case <-t.C:
	case <-b.closing:
	case <-stop:
	}
	return 0
}

// stopPoll is how often a subscriber polls between the process's stop
// and its own close.
const stopPoll = 100 * time.Millisecond

func (b *wakeBackoff) waitFor(topic string) *topicWait {
	b.mu.Lock()
	defer b.mu.Unlock()
	tw, ok := b.topics[topic]
	if !ok {
		tw = &topicWait{ch: b.wakeup.register(topic), recheck: -1}
		b.topics[topic] = tw
	}
	return tw
}

// topicLogger is the subscriber's logger; it remembers the topic field the
// subscriber scopes it with for each consumed topic, which is how
// wakeBackoff knows which wake-up to wait for.
type topicLogger struct {
	watermill.LoggerAdapter
	topic string
}

func (l topicLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	next := topicLogger{LoggerAdapter: l.LoggerAdapter.With(fields), topic: l.topic}
	if t, ok := fields["topic"].(string); ok {
		next.topic = t
	}
	return next
}

// distinctTopics returns the topics of events, each once.
func distinctTopics(topics []string) []string {
	slices.Sort(topics)
	return slices.Compact(topics)
}

// wakeConfig sets the subscriber up to be woken by w.
func wakeConfig(cfg *wsql.SubscriberConfig, w *Wakeup, closing, stopping <-chan struct{}, poll time.Duration) {
	if poll <= 0 {
		poll = wokenPollInterval
	}
	cfg.PollInterval = poll
	cfg.BackoffManager = &wakeBackoff{wakeup: w, poll: poll, retry: cfg.RetryInterval, closing: closing, stopSignal: stopping, topics: map[string]*topicWait{}}
}

// wokenPollInterval is the default fallback poll of a subscriber with a
// Wakeup.
const wokenPollInterval = time.Second
