package bootstrap

import (
	"context"
	"log/slog"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/application"
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
	ops := d.Config.Operations
	if d.DB == nil || ops.QueuePrune <= 0 {
		return
	}
	topics := queueTopics(d.App)
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
	// The first pass comes soon after the start, so that workers
	// restarted more often than the interval still prune.
	runInBackground(d.Lifecycle, everyAfter(min(ops.QueuePrune, queuePruneFirst), ops.QueuePrune, pass))
}
