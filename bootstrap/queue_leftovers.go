package bootstrap

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/application"
)

// leftoverKey is a consumer group's reading of an event.
type leftoverKey struct{ group, event string }

// leftover is a topic of another partition count that a consumer group has
// not read to its end; drained is closed once it has, which stops its
// reader.
type leftover struct {
	topic   string
	drained chan struct{}
}

// leftovers are, by consumer group and event, the queue topics of another
// partition count (one an earlier start ran with) that hold messages the
// group had not read when the process started. The group's consumers read
// them too, until they are read to their end (watchLeftovers looks every
// leftoverCheck), so that changing KEYWARD_QUEUE_PARTITIONS strands
// nothing: a paid order left there would wait for the reconciler, and a
// customer's sign-in email would never go.
type leftovers map[leftoverKey][]leftover

// leftoverCheck is how often a process reading leftovers looks whether
// they are read to their end; leftoversTimeout bounds a look.
const (
	leftoverCheck    = 5 * time.Second
	leftoversTimeout = 15 * time.Second
)

// findLeftovers looks for the leftovers, in two statements a consumer
// group, and has watchLeftovers stop the reader of each once it is read to
// its end. A look that fails is logged and the process goes on without
// the leftovers: the reconciler still resumes their orders (their customer
// emails wait for the next start).
func findLeftovers(lc fx.Lifecycle, cfg Config, db *sqlx.DB, app application.App, log *slog.Logger) leftovers {
	log = log.With("component", "queue-leftovers")
	events := map[string][]string{} // group → the events it reads
	for ev, groups := range queueReaders(app) {
		for _, g := range groups {
			events[g] = append(events[g], ev)
		}
	}
	left := leftovers{}
	reading := map[string]map[string]leftover{} // group → topic → its leftover
	for _, group := range slices.Sorted(maps.Keys(events)) {
		var topics []string
		eventOf := map[string]string{}
		for _, ev := range events[group] {
			for _, t := range messaging.OtherPartitionTopics(ev, cfg.QueuePartitions) {
				topics, eventOf[t] = append(topics, t), ev
			}
		}
		found, err := unreadTopics(context.Background(), db, group, topics)
		if err != nil {
			log.Warn("could not look for messages another KEYWARD_QUEUE_PARTITIONS left unread", "group", group, "err", err)
			continue
		}
		for _, u := range found {
			log.Warn("reading what another KEYWARD_QUEUE_PARTITIONS left on the queue", "topic", u.Topic, "group", group, "messages", u.Pending)
			l := leftover{topic: u.Topic, drained: make(chan struct{})}
			k := leftoverKey{group, eventOf[u.Topic]}
			left[k] = append(left[k], l)
			if reading[group] == nil {
				reading[group] = map[string]leftover{}
			}
			reading[group][u.Topic] = l
		}
	}
	if len(reading) > 0 {
		runInBackground(lc, func(ctx context.Context) { watchLeftovers(ctx, db, reading, log) })
	}
	return left
}

// watchLeftovers looks every leftoverCheck whether the leftovers still
// being read (by group and topic) are read to their end, and stops the
// reader of each that is; it returns once none is left, or when ctx ends,
// stopping the readers left.
func watchLeftovers(ctx context.Context, db *sqlx.DB, reading map[string]map[string]leftover, log *slog.Logger) {
	defer func() {
		for _, topics := range reading {
			for _, l := range topics {
				close(l.drained)
			}
		}
	}()
	t := time.NewTicker(leftoverCheck)
	defer t.Stop()
	for len(reading) > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for group, topics := range reading {
			found, err := unreadTopics(ctx, db, group, slices.Collect(maps.Keys(topics)))
			if err != nil {
				if ctx.Err() == nil {
					log.Warn("could not look whether what another KEYWARD_QUEUE_PARTITIONS left is read; the next look retries", "group", group, "err", err)
				}
				continue
			}
			still := map[string]bool{}
			for _, u := range found {
				still[u.Topic] = true
			}
			for topic, l := range topics {
				if !still[topic] {
					log.Info("read what another KEYWARD_QUEUE_PARTITIONS left on the queue; its reader stops", "topic", topic, "group", group)
					close(l.drained)
					delete(topics, topic)
				}
			}
			if len(topics) == 0 {
				delete(reading, group)
			}
		}
	}
}

// unreadTopics is messaging.UnreadTopics within leftoversTimeout.
func unreadTopics(ctx context.Context, db *sqlx.DB, group string, topics []string) ([]messaging.TopicLag, error) {
	ctx, cancel := context.WithTimeout(ctx, leftoversTimeout)
	defer cancel()
	return messaging.UnreadTopics(ctx, db.DB, group, topics)
}
