package application

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Reconcile finishes orders the pipeline left behind: a crash, a message
// that went to the dead letters during a long outage, a mail server or a
// payment gateway that was down. Orders untouched for StaleAfter that
// await their payment setup get their payment; paid or fulfilling ones are
// fulfilled again (the run that completes one delivers it), fulfilled ones
// delivered again, and a fulfilled one whose delivery claim lapsed as soon
// as it lapsed; every step is idempotent. One
// process at a time makes a pass (Locks), so instances sharing a database
// do not resume the same order together.
type Reconcile struct {
	orders     ports.OrderRepository
	locks      ports.Locks
	setUp      SetUpPayment
	fulfil     FulfilOrder
	deliver    DeliverOrder
	clock      ports.Clock
	staleAfter time.Duration
	log        *slog.Logger
	// poll, when set, is given the pre-orders left before their release,
	// for its daily looks (a restart lost them; a moved date is found).
	poll *pollSchedule
}

// NewReconcile wires Reconcile; it panics when a dependency is nil.
func NewReconcile(orders ports.OrderRepository, locks ports.Locks, setUp SetUpPayment, fulfil FulfilOrder, deliver DeliverOrder, clock ports.Clock, staleAfter time.Duration, log *slog.Logger) Reconcile {
	require("Reconcile", "orders", orders, "locks", locks, "fulfil", fulfil, "deliver", deliver, "clock", clock, "log", log)
	return Reconcile{orders: orders, locks: locks, setUp: setUp, fulfil: fulfil, deliver: deliver, clock: clock, staleAfter: staleAfter, log: log}
}

// ReconcileResult counts what a pass did.
type ReconcileResult struct {
	Resumed   int // orders whose payment setup, fulfilment or delivery was run again
	Completed int // of those, orders that are now delivered (or have their payment)
	Failed    int // runs that returned an error (retried next pass)
}

// Handle makes one pass, or nothing while another process makes one; it
// returns an error only when orders cannot be listed or locked.
func (h Reconcile) Handle(ctx context.Context) (ReconcileResult, error) {
	var res ReconcileResult
	release, ok, err := h.locks.TryLock(ctx, "reconcile")
	if err != nil || !ok {
		return res, err // another process is making this pass
	}
	defer release()
	cutoff := h.clock.Now().Add(-h.staleAfter)
	for _, st := range []domain.OrderStatus{domain.StatusAwaitingPaymentSetup, domain.StatusPaid, domain.StatusFulfilling, domain.StatusFulfilled} {
		after := ""
		for {
			page, err := h.orders.List(ctx, ports.OrderQuery{Status: &st, After: after, Limit: 100})
			if err != nil {
				return res, fmt.Errorf("list %s orders: %w", st, err)
			}
			for _, o := range page {
				// A fulfilled order whose delivery claim lapsed is resumed
				// at once, however recent the claim: its holder died, and
				// the message that found the claim held was acknowledged.
				if o.UpdatedAt().After(cutoff) && !o.DeliveryClaimLapsed(h.clock.Now(), deliveryLease) {
					continue
				}
				if until, ok := releaseWaitUntil(o); ok && h.clock.Now().Before(until) {
					// A pre-order before its release: the supplier's webhook
					// or the poll resumes it (the poll looks once a day
					// before, in case the date moved).
					if h.poll != nil {
						h.poll.preorderWaiting(o.ID(), until)
					}
					continue
				}
				res.Resumed++
				if err := h.resume(ctx, o); err != nil {
					res.Failed++
					h.log.WarnContext(ctx, "reconcile: order still stuck", "order_id", o.ID(), "status", o.Status().String(), "err", err)
					continue
				}
				if got, err := h.orders.Get(ctx, o.ID()); err == nil && (got.Status() == domain.StatusDelivered ||
					st == domain.StatusAwaitingPaymentSetup && got.Status() != st) {
					res.Completed++
				}
			}
			if len(page) < 100 {
				break
			}
			after = page[len(page)-1].ID()
		}
	}
	if res.Resumed > 0 {
		h.log.InfoContext(ctx, "reconciled stuck orders", "resumed", res.Resumed, "completed", res.Completed, "failed", res.Failed)
	}
	return res, nil
}

// resumeTimeout bounds one order's resume well inside the delivery claim's
// lease, so a stalled pass cannot outlive its claim.
const resumeTimeout = time.Minute

func (h Reconcile) resume(ctx context.Context, o *domain.Order) error {
	ctx, cancel := context.WithTimeout(ctx, resumeTimeout)
	defer cancel()
	if o.Status() == domain.StatusAwaitingPaymentSetup {
		return h.setUp.Handle(ctx, o.ID())
	}
	if o.Status() == domain.StatusFulfilled {
		return h.deliver.Handle(ctx, o.ID())
	}
	if err := h.fulfil.Handle(ctx, o.ID()); err != nil {
		return err
	}
	if h.fulfil.deliver != nil {
		return nil // the run that completed the order delivered it
	}
	return h.deliver.Handle(ctx, o.ID())
}
