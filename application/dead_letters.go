package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of the dead-letter operations.
const (
	AuditDeadLetterReplayed  = "dead_letter.replayed"
	AuditDeadLetterDiscarded = "dead_letter.discarded"
)

// RecordDeadLetter stores a message the pipeline gave up on. When the
// failure needs a person or is permanent, the order it concerns is held
// for review with the reason (the customer hears of the delay once); a
// transient one leaves the order to the reconciler, which resumes it once
// the dependency is back and holds it after the give-up time.
type RecordDeadLetter struct {
	letters ports.DeadLetters
	orders  ports.OrderRepository
	clock   ports.Clock
	log     *slog.Logger
}

// NewRecordDeadLetter wires RecordDeadLetter; it panics when a dependency is nil.
func NewRecordDeadLetter(letters ports.DeadLetters, orders ports.OrderRepository, clock ports.Clock, log *slog.Logger) RecordDeadLetter {
	require("RecordDeadLetter", "deadLetters", letters, "orders", orders, "clock", clock, "log", log)
	return RecordDeadLetter{letters: letters, orders: orders, clock: clock, log: log}
}

// Handle stores l (its CreatedAt set now) and, when hold is set, holds its
// order for review when failure is not transient. It returns the storage's error: the message is then
// not acknowledged and comes back. A letter stored before (a redelivered
// message) is not an error.
func (h RecordDeadLetter) Handle(ctx context.Context, l ports.DeadLetter, failure Failure, hold bool) error {
	l.CreatedAt = h.clock.Now()
	l.Reason = failure.String() + ": " + l.Reason
	if err := h.letters.Add(ctx, l); err != nil && !errors.Is(err, domain.ErrConflict) {
		return fmt.Errorf("record dead letter: %w", err)
	}
	h.log.WarnContext(ctx, "message dead-lettered", "dead_letter_id", l.ID, "topic", l.Topic, "order_id", l.OrderID, "attempts", l.Attempts, "reason", l.Reason)
	if !hold || failure == FailureTransient || l.OrderID == "" {
		return nil
	}
	_, err := h.orders.Update(ctx, l.OrderID, func(o *domain.Order) error {
		return o.HoldForReview(l.Reason, h.clock.Now())
	})
	switch {
	case err == nil, errors.Is(err, domain.ErrInvalidTransition), errors.Is(err, domain.ErrNotFound):
		// Only a paid or fulfilling order can be held; others have an
		// outcome already (or their own way forward).
		return nil
	default:
		return fmt.Errorf("hold order %s for review: %w", l.OrderID, err)
	}
}

// DeadLetterPage is one page of dead letters; Next is the cursor of the
// following page, "" on the last.
type DeadLetterPage struct {
	Items []ports.DeadLetter
	Next  string
}

// ListDeadLetters pages through the dead letters, oldest first.
type ListDeadLetters struct{ letters ports.DeadLetters }

// NewListDeadLetters wires ListDeadLetters; it panics when a dependency is nil.
func NewListDeadLetters(letters ports.DeadLetters) ListDeadLetters {
	require("ListDeadLetters", "deadLetters", letters)
	return ListDeadLetters{letters: letters}
}

// Handle returns up to q.Limit letters (50 by default, at most 200) after
// q.After, filtered by topic and order id.
func (h ListDeadLetters) Handle(ctx context.Context, q ports.DeadLetterQuery) (DeadLetterPage, error) {
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	items, err := h.letters.List(ctx, q)
	if err != nil {
		return DeadLetterPage{}, err
	}
	page := DeadLetterPage{Items: items}
	if len(items) > want {
		page.Items = items[:want]
		page.Next = items[want-1].ID
	}
	return page, nil
}

// ReplayDeadLetter hands a dead letter's message back to its topic, once:
// the first replay requeues it and is audited; a second one finds it
// replayed and does nothing more (the handlers are idempotent besides, so
// an order is fulfilled once however often its message comes).
type ReplayDeadLetter struct {
	tx      ports.Transactor
	letters ports.DeadLetters
	requeue ports.MessageRequeue
	audit   ports.AuditLog
	clock   ports.Clock
}

// NewReplayDeadLetter wires ReplayDeadLetter; it panics when a dependency is nil.
func NewReplayDeadLetter(tx ports.Transactor, letters ports.DeadLetters, requeue ports.MessageRequeue, audit ports.AuditLog, clock ports.Clock) ReplayDeadLetter {
	require("ReplayDeadLetter", "tx", tx, "deadLetters", letters, "requeue", requeue, "audit", audit, "clock", clock)
	return ReplayDeadLetter{tx: tx, letters: letters, requeue: requeue, audit: audit, clock: clock}
}

// Handle replays letter id for actor and returns the letter and whether
// this call requeued it first (false: replayed before). It returns
// domain.ErrNotFound for an unknown id, or the requeue's error wrapped in
// ErrUnavailable (nothing is marked then: replay again).
//
// The requeue is a publish on the broker, outside any unit of work, so it
// runs before the unit of work that marks the letter replayed and audits
// it, never inside: a unit of work may run its function again (a
// serialization failure, a deadlock), which would publish again, and a
// publish after the commit could fail with the letter marked, losing the
// message. In this order a unit of work that fails after the publish
// leaves the letter waiting, to be replayed again: the message is then
// delivered twice, never lost, and the handlers absorb the second delivery
// (they are idempotent). Two replays racing may both requeue likewise;
// only the one that marks the letter audits it.
func (h ReplayDeadLetter) Handle(ctx context.Context, id, actor string) (ports.DeadLetter, bool, error) {
	l, err := h.letters.Get(ctx, id)
	if err != nil {
		return ports.DeadLetter{}, false, err
	}
	if l.ReplayedAt != nil {
		return l, false, nil
	}
	if err := h.requeue.Requeue(ctx, l.Topic, l.Payload, l.Metadata); err != nil {
		return ports.DeadLetter{}, false, fmt.Errorf("%w: requeue dead letter %s: %v", ErrUnavailable, id, err)
	}
	first := false
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		var err error
		if first, err = h.letters.MarkReplayed(ctx, id, h.clock.Now()); err != nil || !first {
			return err
		}
		if _, err := h.audit.Append(ctx, actor, AuditDeadLetterReplayed, l.OrderID, map[string]string{"dead_letter_id": id, "topic": l.Topic}); err != nil {
			return fmt.Errorf("audit replay: %w", err)
		}
		return nil
	})
	if err != nil {
		return ports.DeadLetter{}, false, err
	}
	return l, first, nil
}

// DiscardDeadLetter deletes a dead letter an operator has dealt with, and
// audits it.
type DiscardDeadLetter struct {
	tx      ports.Transactor
	letters ports.DeadLetters
	audit   ports.AuditLog
}

// NewDiscardDeadLetter wires DiscardDeadLetter; it panics when a dependency is nil.
func NewDiscardDeadLetter(tx ports.Transactor, letters ports.DeadLetters, audit ports.AuditLog) DiscardDeadLetter {
	require("DiscardDeadLetter", "tx", tx, "deadLetters", letters, "audit", audit)
	return DiscardDeadLetter{tx: tx, letters: letters, audit: audit}
}

// Handle deletes letter id for actor; domain.ErrNotFound for an unknown id.
func (h DiscardDeadLetter) Handle(ctx context.Context, id, actor string) error {
	return h.tx.Atomically(ctx, func(ctx context.Context) error {
		l, err := h.letters.Get(ctx, id)
		if err != nil {
			return err
		}
		if err := h.letters.Delete(ctx, id); err != nil {
			return err
		}
		if _, err := h.audit.Append(ctx, actor, AuditDeadLetterDiscarded, l.OrderID, map[string]string{"dead_letter_id": id, "topic": l.Topic, "reason": l.Reason}); err != nil {
			return fmt.Errorf("audit discard: %w", err)
		}
		return nil
	})
}
