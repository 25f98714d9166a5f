package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// OperationsPolicy bounds how long orders may wait; the zero value of each
// field takes the default named beside it.
type OperationsPolicy struct {
	PaymentTimeout time.Duration // an unpaid order expires after this; 1h
	DeliverySLO    time.Duration // a paid order not delivered by then is flagged; 10m
	GiveUpAfter    time.Duration // a paid order that cannot progress is held for review; 30m
	LinkRetention  time.Duration // a delivery link expired this long is deleted; 720h
	// PreorderGrace: an order whose items wait for a pre-order's release
	// is neither held for review nor flagged late before its release date
	// plus this; 48h (KEYWARD_PREORDER_GRACE).
	PreorderGrace time.Duration
	// OnLateDelivery, when set, is told of each order flagged late (once
	// per order and process), e.g. to count it in metrics.
	OnLateDelivery func(ctx context.Context, orderID string, late time.Duration)
}

func (p OperationsPolicy) withDefaults() OperationsPolicy {
	if p.PaymentTimeout <= 0 {
		p.PaymentTimeout = time.Hour
	}
	if p.DeliverySLO <= 0 {
		p.DeliverySLO = 10 * time.Minute
	}
	if p.GiveUpAfter <= 0 {
		p.GiveUpAfter = 30 * time.Minute
	}
	if p.LinkRetention <= 0 {
		p.LinkRetention = 30 * 24 * time.Hour
	}
	if p.PreorderGrace <= 0 {
		p.PreorderGrace = DefaultPreorderGrace
	}
	return p
}

// Sweep is the periodic housekeeping of orders, one process at a time
// (Locks): unpaid orders expire after the payment timeout (a payment
// arriving later holds the order for review, see domain.Order.ApplyPayment);
// paid orders that made no progress for the give-up time are held for
// review with the reason; paid orders not delivered within the delivery
// SLO are flagged; the ciphertext of revoked orders is deleted again (a
// revoke that crashed between shredding steps is finished); delivery links
// expired for the link retention are deleted, when the link repository
// can (ports.ExpiredLinkPurger).
type Sweep struct {
	orders ports.OrderRepository
	locks  ports.Locks
	blobs  ports.BlobStore
	links  ports.ExpiredLinkPurger // nil: links are kept
	// signIns deletes customers' sign-in links as long expired as links;
	// nil: they are kept.
	signIns ports.ExpiredLinkPurger
	clock   ports.Clock
	policy  OperationsPolicy
	log     *slog.Logger
	late    *lateOrders
}

// lateOrders remembers which orders were flagged late, so each is counted
// once, and how many were.
type lateOrders struct {
	mu      sync.Mutex
	flagged map[string]bool
	count   atomic.Int64
}

// NewSweep wires Sweep; it panics when a dependency is nil.
func NewSweep(orders ports.OrderRepository, links ports.DeliveryLinkRepository, locks ports.Locks, blobs ports.BlobStore, clock ports.Clock, policy OperationsPolicy, log *slog.Logger) Sweep {
	require("Sweep", "orders", orders, "links", links, "locks", locks, "blobs", blobs, "clock", clock, "log", log)
	purger, _ := links.(ports.ExpiredLinkPurger)
	return Sweep{orders: orders, locks: locks, blobs: blobs, links: purger, clock: clock, policy: policy.withDefaults(), log: log,
		late: &lateOrders{flagged: map[string]bool{}}}
}

// SweepResult counts what a pass did.
type SweepResult struct {
	Expired   int // unpaid orders expired
	HeldStuck int // paid orders held for review after the give-up time
	Late      int // orders newly flagged past the delivery SLO
	Purged    int // revoked orders whose ciphertext was deleted (again)
	Links     int // expired delivery links deleted
}

// LateDeliveries returns how many orders this process flagged past the
// delivery SLO since it started.
func (h Sweep) LateDeliveries() int64 { return h.late.count.Load() }

// Handle makes one pass, or nothing while another process makes one. It
// returns an error when orders cannot be listed; a single order that
// cannot be changed is logged and tried again next pass.
func (h Sweep) Handle(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	release, ok, err := h.locks.TryLock(ctx, "sweep")
	if err != nil || !ok {
		return res, err
	}
	defer release()
	now := h.clock.Now()
	for _, step := range []func(context.Context, time.Time, *SweepResult) error{h.expireUnpaid, h.holdStuck, h.flagLate, h.purgeRevoked, h.purgeLinks} {
		if err := step(ctx, now, &res); err != nil {
			return res, err
		}
	}
	if res != (SweepResult{}) {
		h.log.InfoContext(ctx, "sweep", "expired", res.Expired, "held_stuck", res.HeldStuck, "late", res.Late, "purged", res.Purged, "links", res.Links)
	}
	return res, nil
}

// each calls fn for every order in status st.
func (h Sweep) each(ctx context.Context, st domain.OrderStatus, createdTo time.Time, fn func(*domain.Order)) error {
	after := ""
	for {
		page, err := h.orders.List(ctx, ports.OrderQuery{Status: &st, CreatedTo: createdTo, After: after, Limit: 100})
		if err != nil {
			return fmt.Errorf("list %s orders: %w", st, err)
		}
		for _, o := range page {
			fn(o)
		}
		if len(page) < 100 {
			return nil
		}
		after = page[len(page)-1].ID()
	}
}

func (h Sweep) expireUnpaid(ctx context.Context, now time.Time, res *SweepResult) error {
	cutoff := now.Add(-h.policy.PaymentTimeout)
	for _, st := range []domain.OrderStatus{domain.StatusAwaitingPaymentSetup, domain.StatusPendingPayment} {
		err := h.each(ctx, st, cutoff, func(o *domain.Order) {
			_, err := h.orders.Update(ctx, o.ID(), func(o *domain.Order) error {
				if o.Status() != domain.StatusAwaitingPaymentSetup && o.Status() != domain.StatusPendingPayment {
					return errSkip // paid meanwhile
				}
				return o.Expire(now)
			})
			switch {
			case err == nil:
				res.Expired++
			case !errors.Is(err, errSkip):
				h.log.WarnContext(ctx, "sweep: cannot expire order", "order_id", o.ID(), "err", err)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// DefaultPreorderGrace is how long after its release date a pre-order may
// wait for its keys before the sweep holds it for review.
const DefaultPreorderGrace = 48 * time.Hour

// awaitingRelease reports whether o waits for a pre-order's release that,
// with the grace, is still to come at now: such an order is not stuck.
func (h Sweep) awaitingRelease(o *domain.Order, now time.Time) bool {
	until, ok := releaseWaitUntil(o)
	return ok && now.Before(until.Add(h.policy.PreorderGrace))
}

// releaseWaitUntil is o.AwaitingReleaseUntil with a date for pre-orders
// whose release date nobody named: UndatedPreorderHorizon after the
// order's last step.
func releaseWaitUntil(o *domain.Order) (time.Time, bool) {
	until, ok := o.AwaitingReleaseUntil()
	if ok && until.IsZero() {
		until = progressSince(o).Add(UndatedPreorderHorizon)
	}
	return until, ok
}

// errSkip leaves an order unchanged inside an Update.
var errSkip = errors.New("skip")

// progressSince is when fulfilment of a paid order last moved: its
// payment, an admin's retry, or any step of an item (a purchase begun or
// recorded), so that an item bought and waiting for the supplier's keys
// is judged from its purchase, not from the payment.
func progressSince(o *domain.Order) time.Time {
	var since time.Time
	for _, e := range o.Timeline() {
		if e.At().After(since) {
			since = e.At()
		}
	}
	if since.IsZero() {
		since = o.CreatedAt()
	}
	return since
}

func (h Sweep) holdStuck(ctx context.Context, now time.Time, res *SweepResult) error {
	for _, st := range []domain.OrderStatus{domain.StatusPaid, domain.StatusFulfilling} {
		err := h.each(ctx, st, time.Time{}, func(o *domain.Order) {
			waited := now.Sub(progressSince(o))
			if waited < h.policy.GiveUpAfter || h.awaitingRelease(o, now) {
				return
			}
			reason := fmt.Sprintf("fulfilment made no progress for %s", waited.Truncate(time.Second))
			if until, ok := o.AwaitingReleaseUntil(); ok && !until.IsZero() {
				reason = fmt.Sprintf("pre-order released on %s: no keys %s after its release", until.Format(domain.DateLayout), now.Sub(until).Truncate(time.Second))
			} else if ok {
				reason = fmt.Sprintf("pre-order with no release date named: no keys after %s", waited.Truncate(time.Second))
			}
			_, err := h.orders.Update(ctx, o.ID(), func(o *domain.Order) error {
				if o.Status() != domain.StatusPaid && o.Status() != domain.StatusFulfilling || h.awaitingRelease(o, now) {
					return errSkip
				}
				return o.HoldForReview(reason, now)
			})
			switch {
			case err == nil:
				res.HeldStuck++
				h.log.WarnContext(ctx, "order held for review", "order_id", o.ID(), "reason", reason)
			case !errors.Is(err, errSkip):
				h.log.WarnContext(ctx, "sweep: cannot hold stuck order", "order_id", o.ID(), "err", err)
			}
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (h Sweep) flagLate(ctx context.Context, now time.Time, res *SweepResult) error {
	seen := map[string]bool{}
	for _, st := range []domain.OrderStatus{domain.StatusPaid, domain.StatusFulfilling, domain.StatusFulfilled, domain.StatusNeedsReview} {
		err := h.each(ctx, st, time.Time{}, func(o *domain.Order) {
			late := now.Sub(progressSince(o)) - h.policy.DeliverySLO
			if late < 0 || h.awaitingRelease(o, now) {
				return
			}
			seen[o.ID()] = true
			h.late.mu.Lock()
			first := !h.late.flagged[o.ID()]
			h.late.flagged[o.ID()] = true
			h.late.mu.Unlock()
			if !first {
				return
			}
			res.Late++
			h.late.count.Add(1)
			h.log.WarnContext(ctx, "order not delivered within the delivery SLO", "order_id", o.ID(), "status", o.Status().String(),
				"slo", h.policy.DeliverySLO, "late_by", late.Truncate(time.Second))
			if h.policy.OnLateDelivery != nil {
				h.policy.OnLateDelivery(ctx, o.ID(), late)
			}
		})
		if err != nil {
			return err
		}
	}
	// Orders delivered (or ended) since are forgotten, so the set stays
	// as small as the backlog.
	h.late.mu.Lock()
	for id := range h.late.flagged {
		if !seen[id] {
			delete(h.late.flagged, id)
		}
	}
	h.late.mu.Unlock()
	return nil
}

// purgeRevoked deletes the ciphertext of revoked and refunded orders (both
// shred it when they end; this finishes a delete the blob store refused
// then).
func (h Sweep) purgeRevoked(ctx context.Context, _ time.Time, res *SweepResult) error {
	for _, st := range []domain.OrderStatus{domain.StatusRevoked, domain.StatusRefunded} {
		err := h.each(ctx, st, time.Time{}, func(o *domain.Order) {
			if err := h.blobs.Delete(ctx, orderBlobRefs(o)...); err != nil {
				h.log.WarnContext(ctx, "sweep: cannot delete ciphertext of an ended order", "status", st.String(), "order_id", o.ID(), "err", err)
				return
			}
			res.Purged++
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (h Sweep) purgeLinks(ctx context.Context, now time.Time, res *SweepResult) error {
	if h.links == nil {
		return nil
	}
	n, err := h.links.DeleteExpired(ctx, now.Add(-h.policy.LinkRetention), 1000)
	if err != nil {
		h.log.WarnContext(ctx, "sweep: cannot delete expired links", "err", err)
		return nil
	}
	res.Links += n
	if h.signIns != nil {
		n, err := h.signIns.DeleteExpired(ctx, now.Add(-h.policy.LinkRetention), 1000)
		if err != nil {
			h.log.WarnContext(ctx, "sweep: cannot delete expired sign-in links", "err", err)
			return nil
		}
		res.Links += n
	}
	return nil
}
