package bootstrap_test

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/internal/testkit"
)

// pipelineProbe watches keyward's asynchronous pipeline from the outside:
// which messages were put on the topics the router consumes, and which of
// those the router acknowledged. Every piece of pipeline work (a purchase,
// a link, an email, a timeline entry) is done while handling such a
// message, and a handler puts its follow-up messages before its own is
// acknowledged; so when all of them are acknowledged, no work is left that
// could still surface.
type pipelineProbe struct {
	dbURL string // Postgres: the outbox tables hold what was put

	mu        sync.Mutex
	topics    map[string]bool // subscribed to by the router
	published map[string]bool // message uuids put on those topics in process
	acked     map[string]bool // message uuids the router acknowledged
	db        *sqlx.DB
}

func newPipelineProbe(dbURL string) *pipelineProbe {
	return &pipelineProbe{dbURL: dbURL, topics: map[string]bool{}, published: map[string]bool{}, acked: map[string]bool{}}
}

// options wraps keyward's Watermill publisher and subscriber.
func (p *pipelineProbe) options() fx.Option {
	return fx.Options(
		fx.Decorate(func(pub message.Publisher) message.Publisher { return probedPublisher{pub, p} }),
		fx.Decorate(func(sub message.Subscriber) message.Subscriber { return probedSubscriber{sub, p} }),
	)
}

type probedPublisher struct {
	message.Publisher
	p *pipelineProbe
}

// Publish notes the messages before they can be handled.
func (pp probedPublisher) Publish(topic string, msgs ...*message.Message) error {
	pp.p.mu.Lock()
	consumed := pp.p.topics[topic]
	for _, m := range msgs {
		if consumed {
			pp.p.published[m.UUID] = true
		}
	}
	pp.p.mu.Unlock()
	err := pp.Publisher.Publish(topic, msgs...)
	if err != nil && consumed {
		pp.p.mu.Lock()
		for _, m := range msgs {
			delete(pp.p.published, m.UUID)
		}
		pp.p.mu.Unlock()
	}
	return err
}

type probedSubscriber struct {
	message.Subscriber
	p *pipelineProbe
}

// Subscribe passes messages on unchanged, in order, one at a time, and
// notes each one the router acknowledges.
func (ps probedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	ps.p.mu.Lock()
	ps.p.topics[topic] = true
	ps.p.mu.Unlock()
	in, err := ps.Subscriber.Subscribe(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := make(chan *message.Message)
	go func() {
		defer close(out)
		for msg := range in {
			go ps.p.watch(ctx, msg)
			select {
			case out <- msg:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

func (p *pipelineProbe) watch(ctx context.Context, msg *message.Message) {
	select {
	case <-msg.Acked():
		p.mu.Lock()
		p.acked[msg.UUID] = true
		p.mu.Unlock()
	case <-msg.Nacked(): // handed out again as a new delivery
	case <-ctx.Done():
	}
}

// unacknowledged returns how many messages were put on the consumed topics
// and how many of them the router has not acknowledged. The acknowledged
// set is read before what was put: a message put later descends from one
// not yet acknowledged, which then shows up as left.
func (p *pipelineProbe) unacknowledged(ctx context.Context) (put, left int, err error) {
	p.mu.Lock()
	acked := maps.Clone(p.acked)
	published := maps.Clone(p.published)
	topics := make([]string, 0, len(p.topics))
	for topic := range p.topics {
		topics = append(topics, topic)
	}
	p.mu.Unlock()
	if p.dbURL != "" {
		if p.db == nil {
			if p.db, err = sqlx.Open("postgres", p.dbURL); err != nil {
				return 0, 0, err
			}
		}
		for _, topic := range topics {
			var ids []string
			if err := p.db.SelectContext(ctx, &ids, `SELECT uuid FROM `+wsql.DefaultPostgreSQLSchema{}.MessagesTable(topic)); err != nil {
				return 0, 0, err
			}
			for _, id := range ids {
				published[id] = true
			}
		}
	}
	for id := range published {
		if !acked[id] {
			left++
		}
	}
	return len(published), left, nil
}

func (p *pipelineProbe) close() {
	if p.db != nil {
		_ = p.db.Close()
	}
}

// waitPipelineIdle waits until every message put on a topic the router
// consumes has been acknowledged, so that no queued or running work can
// still change what the test then counts.
func (h *harness) waitPipelineIdle(within time.Duration) {
	h.t.Helper()
	// The probe's queries outlive the wait by a margin, so that the last
	// poll, at the deadline, reports what is left rather than its own
	// timeout.
	ctx, cancel := context.WithTimeout(context.Background(), within+5*time.Second)
	defer cancel()
	var put, left int
	testkit.EventuallyWith(h.t, within, func() string {
		return fmt.Sprintf("%d of %d pipeline messages still unacknowledged", left, put)
	}, func() bool {
		var err error
		put, left, err = h.pipeline.unacknowledged(ctx)
		if err != nil {
			h.t.Fatalf("pipeline probe: %v", err)
		}
		if put == 0 {
			h.t.Fatal("the pipeline probe saw no message: is it wired to keyward's publisher and subscriber?")
		}
		if left == 0 {
			return true
		}
		h.pipeline.mu.Lock()
		for id := range h.pipeline.published {
			if !h.pipeline.acked[id] {
				h.t.Logf("%s left; topics %v", id, h.pipeline.topics)
			}
		}
		h.pipeline.mu.Unlock()
		return false
	})
}
