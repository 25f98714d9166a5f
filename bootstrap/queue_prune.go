package bootstrap

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// queuePruneBatch is how many messages of a topic one statement of a
// prune deletes at most: a delete holds back what the queue's consumers
// see while it runs, so each is kept short.
const queuePruneBatch = 1000

// queuePruneFirst is how long after its start a worker prunes the queue
// for the first time at most.
const queuePruneFirst = time.Minute

type queuePruneDeps struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    Config
	DB        *sqlx.DB `optional:"true"` // provided with KEYWARD_DATABASE_URL
	Locks     ports.Locks
	App       application.App
	Log       *slog.Logger
}

// runQueuePrune keeps the Postgres queue's tables from growing for ever:
// every KEYWARD_QUEUE_PRUNE_INTERVAL one worker (the Locks port lets one
// run at a time) deletes the messages older than KEYWARD_QUEUE_RETENTION
// that the consumer groups reading their topics have acknowledged, and
// the old messages of topics no group reads any more (events an earlier
// version queued). Without a database there is no such queue.
func runQueuePrune(d queuePruneDeps) {
	if d.DB == nil {
		return
	}
	ops := d.Config.Operations
	topics := queueTopics(d.App, d.Config.QueuePartitions)
	log := d.Log.With("component", "queue-prune")
	pass := func(ctx context.Context) {
		release, ok, err := d.Locks.TryLock(ctx, "queue-prune")
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("queue not pruned: its lock could not be taken; the next pass retries", "err", err)
			}
			return
		case !ok:
			return // another worker prunes
		}
		defer release()
		res, err := messaging.PruneSQLQueue(ctx, d.DB.DB, topics, ops.QueueRetention, queuePruneBatch)
		if err != nil && ctx.Err() == nil {
			log.Warn("queue messages past their retention not all deleted; the next pass retries", "deleted", res.Deleted, "err", err)
		} else if res.Deleted > 0 {
			log.Info("queue messages past their retention deleted", "messages", res.Deleted)
		}
		if len(res.Waiting) > 0 {
			log.Debug("queue topics kept whole: a consumer group reading them has not subscribed yet", "topics", res.Waiting)
		}
	}
	if ops.QueuePrune <= 0 {
		return
	}
	// The first pass comes soon after the start, so that workers
	// restarted more often than the interval still prune.
	first := min(ops.QueuePrune, queuePruneFirst)
	runInBackground(d.Lifecycle, func(ctx context.Context) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(first):
		}
		pass(ctx)
		every(ops.QueuePrune, pass)(ctx)
	})
}

// queueTopics are the topics of the Postgres queue, partitions apart, with
// the consumer groups that read each: the pipeline's (directly, or through
// the forwarder to a broker) and the customer notifications'. The events
// that are not queued (domain.QueueEventNames) come with no group: their
// tables hold what earlier versions wrote, which nobody reads now.
func queueTopics(app application.App, partitions int) []messaging.QueueTopic {
	readers := map[string][]string{}
	for _, r := range pipelineRoutes(app) {
		readers[r.event] = append(readers[r.event], messaging.ConsumerGroup)
	}
	for _, r := range notificationRoutes(app) {
		readers[r.event] = append(readers[r.event], notificationConsumerGroup)
	}
	var topics []messaging.QueueTopic
	for _, name := range slices.Compact(slices.Sorted(slices.Values(slices.Concat(domain.OrderEventNames, domain.CustomerEventNames)))) {
		groups := slices.Compact(slices.Sorted(slices.Values(readers[name])))
		for _, topic := range messaging.PartitionTopics(name, partitions) {
			topics = append(topics, messaging.QueueTopic{Name: topic, Groups: groups})
		}
	}
	return topics
}
