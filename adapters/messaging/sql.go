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
	pub, err := wsql.NewPublisher(wsql.TxFromStdSQL(tx), wsql.PublisherConfig{SchemaAdapter: postgresSchema()}, o.log)
	if err != nil {
		return fmt.Errorf("outbox publisher: %w", err)
	}
	for _, ev := range events {
		msg, err := NewMessage(ev)
		if err != nil {
			return err
		}
		msg.SetContext(ctx)
		stampCorrelation(ctx, msg)
		if err := pub.Publish(PartitionedTopic(ev.EventName(), ev.AggregateID(), o.partitions), msg); err != nil {
			return fmt.Errorf("outbox publish %s: %w", ev.EventName(), err)
		}
	}
	return nil
}

// AckDeadline bounds how long a handler (with its retries) may hold a
// message before it is handed out again; it must exceed the retry budget.
const AckDeadline = 2 * time.Minute

// NewSQLSubscriber consumes topics stored in Postgres as consumer group
// ConsumerGroup; unacknowledged messages are delivered again, also to the
// next process after a crash.
func NewSQLSubscriber(db *sql.DB, log *slog.Logger) (*wsql.Subscriber, error) {
	return NewSQLSubscriberGroup(db, log, ConsumerGroup)
}

// NewSQLSubscriberGroup is NewSQLSubscriber for another consumer group:
// each group receives every message of a topic, while the subscribers of
// one group share them.
func NewSQLSubscriberGroup(db *sql.DB, log *slog.Logger, group string) (*wsql.Subscriber, error) {
	deadline := AckDeadline
	return wsql.NewSubscriber(wsql.BeginnerFromStdSQL(db), wsql.SubscriberConfig{
		ConsumerGroup:    group,
		AckDeadline:      &deadline,
		PollInterval:     100 * time.Millisecond,
		ResendInterval:   500 * time.Millisecond,
		RetryInterval:    time.Second,
		SchemaAdapter:    postgresSchema(),
		OffsetsAdapter:   wsql.DefaultPostgreSQLOffsetsAdapter{},
		InitializeSchema: true,
	}, watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
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
