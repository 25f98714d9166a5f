package messaging

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"

	"github.com/keyward/keyward/domain"
)

// ConsumerGroup names keyward's consumers in the SQL offsets table.
const ConsumerGroup = "keyward"

func postgresSchema() wsql.SchemaAdapter { return wsql.DefaultPostgreSQLSchema{} }

// SQLOutbox publishes events with Watermill SQL on the transaction that
// saves the aggregate, so state and events commit or roll back together
// (the transactional outbox; Postgres is also the queue).
type SQLOutbox struct {
	log        watermill.LoggerAdapter
	partitions int
}

// NewSQLOutbox returns an outbox that spreads each event name over
// partitions topics (see PartitionedTopic), logging through log.
func NewSQLOutbox(log *slog.Logger, partitions int) *SQLOutbox {
	return &SQLOutbox{log: watermill.NewSlogLogger(log), partitions: partitions}
}

// PublishTx writes each event to its topic table inside tx. The topic
// tables must exist (InitializeTopics): DDL inside a business transaction
// is not allowed.
func (o *SQLOutbox) PublishTx(ctx context.Context, tx *sql.Tx, events ...domain.Event) error {
	return o.PublishTxWith(ctx, tx, "", nil, events...)
}

// PublishTxWith is PublishTx that also runs with, a data-modifying
// statement whose parameters are args numbered from $3, as a WITH query
// of the statement that announces the topics: one more write in the
// transaction without one more statement. with runs only when there are
// events, queued or not. Only domain.QueuedEvents go on the queue.
func (o *SQLOutbox) PublishTxWith(ctx context.Context, tx *sql.Tx, with string, args []any, events ...domain.Event) error {
	pub, err := wsql.NewPublisher(wsql.TxFromStdSQL(tx), wsql.PublisherConfig{SchemaAdapter: postgresSchema()}, o.log)
	if err != nil {
		return fmt.Errorf("outbox publisher: %w", err)
	}
	topics := make([]string, 0, len(events))
	for _, ev := range domain.QueuedEvents(events) {
		msg, err := NewMessage(ev)
		if err != nil {
			return err
		}
		msg.SetContext(ctx)
		stampCorrelation(ctx, msg)
		topic := PartitionedTopic(ev.EventName(), ev.AggregateID(), o.partitions)
		if err := pub.Publish(topic, msg); err != nil {
			return fmt.Errorf("outbox publish %s: %w", ev.EventName(), err)
		}
		topics = append(topics, topic)
	}
	if len(topics) == 0 && (with == "" || len(events) == 0) {
		return nil
	}
	// Delivered on commit, so a subscriber with a Wakeup reads the events
	// at once instead of at its next poll.
	return notifyTopics(ctx, tx, distinctTopics(topics), with, args...)
}

// AckDeadline bounds how long a handler (with its retries) may hold a
// message before it is handed out again; it must exceed the retry budget.
const AckDeadline = 2 * time.Minute

// NewSQLSubscriber consumes topics stored in Postgres as consumer group
// ConsumerGroup; unacknowledged messages are delivered again, also to the
// next process after a crash.
func NewSQLSubscriber(db *sql.DB, log *slog.Logger, opts SQLQueueOptions) (*wsql.Subscriber, error) {
	return NewSQLSubscriberGroup(db, log, ConsumerGroup, opts)
}

// SQLQueueOptions tunes how a SQL subscriber reads its topics.
type SQLQueueOptions struct {
	// Wakeup, when set, has the subscriber read a topic as soon as the
	// outbox announces an event for it, polling only every second as a
	// fallback; without, it polls every 100 ms.
	Wakeup *Wakeup
	// FallbackPoll is how often a subscriber with a Wakeup reads its
	// topic unwoken; 0 means every second.
	FallbackPoll time.Duration
	// Stopping, once closed, has a subscriber with a Wakeup stop waiting
	// out its fallback poll, so that the process's stop does not wait for
	// it; it then polls every stopPoll until it is closed.
	Stopping <-chan struct{}
	// BatchSize is how many messages one read hands out, one after the
	// other, before their offsets are acknowledged in one commit; 0 means
	// Watermill's 100. The read's transaction stays open until the last is
	// handled; once it writes (a handling joined to it, the subscriber's
	// acknowledgement) it holds back what every topic's consumers may see
	// until it commits (see BENCHMARKS.md).
	BatchSize int
}

// NewSQLSubscriberGroup is NewSQLSubscriber for another consumer group:
// each group receives every message of a topic, while the subscribers of
// one group share them.
func NewSQLSubscriberGroup(db *sql.DB, log *slog.Logger, group string, opts SQLQueueOptions) (*wsql.Subscriber, error) {
	deadline := AckDeadline
	cfg := wsql.SubscriberConfig{
		ConsumerGroup:    group,
		AckDeadline:      &deadline,
		PollInterval:     100 * time.Millisecond,
		ResendInterval:   500 * time.Millisecond,
		RetryInterval:    time.Second,
		SchemaAdapter:    queueSchema{wsql.DefaultPostgreSQLSchema{SubscribeBatchSize: opts.BatchSize}},
		OffsetsAdapter:   offsetsAdapter{},
		InitializeSchema: true,
	}
	var wlog watermill.LoggerAdapter = watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	if wakeup := opts.Wakeup; wakeup != nil {
		wakeConfig(&cfg, wakeup, wakeup.done, opts.Stopping, opts.FallbackPoll)
		wlog = topicLogger{LoggerAdapter: wlog}
	} else {
		cfg.BackoffManager = quietStopBackoff{BackoffManager: wsql.NewDefaultBackoffManager(cfg.PollInterval, cfg.RetryInterval), retry: cfg.RetryInterval}
	}
	return wsql.NewSubscriber(newConsumeBeginner(db), cfg, wlog)
}

// NewSQLPublisher publishes outside any business transaction (dead
// letters); it creates topic tables on first use.
func NewSQLPublisher(db *sql.DB, log *slog.Logger) (*wsql.Publisher, error) {
	return wsql.NewPublisher(wsql.BeginnerFromStdSQL(db), wsql.PublisherConfig{SchemaAdapter: postgresSchema(), AutoInitializeSchema: true}, watermill.NewSlogLogger(log))
}

// InitializeTopics creates the tables of every partition of every event
// name the outbox may write, and the dead letters, before any transaction
// writes to them.
func InitializeTopics(sub *wsql.Subscriber, partitions int, names ...string) error {
	topics := []string{DeadLetterTopic}
	for _, n := range names {
		topics = append(topics, PartitionTopics(n, partitions)...)
	}
	for _, t := range topics {
		if err := sub.SubscribeInitialize(t); err != nil {
			return fmt.Errorf("initialize topic %s: %w", t, err)
		}
	}
	return nil
}
