package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DeliverOrder sends the delivery link of a fulfilled order and marks it
// delivered. It runs in the FulfilOrder run that completes the order (no
// message carries a fulfilled order on), in any later run that finds the
// order fulfilled, and from the reconciler. One worker
// at a time holds the order's delivery claim; a worker that takes over a
// stale claim (its holder died mid-way) revokes the links issued before, so
// at most one link ever works, even if an earlier email did go out.
//
// A delivery takes two units of work on the order, around the email that
// cannot be undone: the claim with the new link (the links before it
// revoked), then the mark delivered with the email's audit record (which
// the mailer, auditedMailer, leaves to it). A mark delivered that keeps
// failing never fails the sent email: its record is then written alone.
type DeliverOrder struct {
	tx     ports.Transactor
	orders ports.OrderRepository
	issuer linkIssuer
	log    *slog.Logger
}

// deliveryLease is how long a delivery claim holds.
const deliveryLease = 2 * time.Minute

// NewDeliverOrder wires DeliverOrder; it panics when a dependency is nil.
func NewDeliverOrder(tx ports.Transactor, orders ports.OrderRepository, links ports.DeliveryLinkRepository, mailer ports.Mailer, clock ports.Clock, ids ports.IDs, policy DeliveryPolicy, log *slog.Logger) DeliverOrder {
	require("DeliverOrder", "tx", tx, "orders", orders, "log", log)
	return DeliverOrder{tx: tx, orders: orders, issuer: newLinkIssuer("DeliverOrder", links, mailer, clock, ids, policy), log: log}
}

// Handle is a no-op for an order that is not fulfilled (already delivered,
// revoked) or whose delivery another worker holds; it returns an error to
// retry when mail or storage fails, after releasing its claim.
func (h DeliverOrder) Handle(ctx context.Context, orderID string) error {
	_, err := h.handle(ctx, orderID)
	return err
}

// handle is Handle, and whether it delivered the order: sent its link and
// marked it delivered.
func (h DeliverOrder) handle(ctx context.Context, orderID string) (bool, error) {
	d := h.newDelivery(ctx)
	// The claim, the revocation of the links before it (a worker that died
	// may have emailed one) and the new link commit together: a link is
	// stored before its email goes out, and a worker that dies before the
	// commit leaves no claim to wait out.
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		o, err := h.orders.Update(ctx, orderID, func(o *domain.Order) error {
			d.claimOn(o)
			return nil
		})
		if err != nil {
			return fmt.Errorf("claim delivery: %w", err)
		}
		return d.issueLink(ctx, o)
	})
	return d.finish(ctx, orderID, err)
}

// delivery is one worker's delivery of an order: its claim, taken in an
// update of the order (claimOn), and the link made in the same unit of
// work (issueLink); finish then sends it. FulfilOrder claims in the unit of
// work that completes the order, one unit of work less.
type delivery struct {
	DeliverOrder
	claim   string
	lease   time.Duration
	claimed bool
	// justFulfilled is set when the unit of work of the claim is the one
	// that completed the order: an order fulfilled only now never had a
	// delivery, so it has no link to revoke (links are issued only to
	// fulfilled orders, and status never goes back).
	justFulfilled bool
	o             *domain.Order
	link          *domain.DeliveryLink
	url           string
}

// newDelivery starts a delivery; its claim is named by the run of ctx
// (ports.RunID) when it has one, so that a retry of a message's handling
// takes over the claim an earlier try took, even one whose commit it
// never saw.
func (h DeliverOrder) newDelivery(ctx context.Context) *delivery {
	claim := ports.RunID(ctx)
	if claim == "" {
		claim = h.issuer.ids.NewID()
	}
	return &delivery{DeliverOrder: h, claim: claim, lease: deliveryLease}
}

// claimOn claims o's delivery, in an update function (which may run
// again: it starts afresh).
func (d *delivery) claimOn(o *domain.Order) {
	d.claimed, d.o, d.link = o.ClaimDelivery(d.claim, d.issuer.clock.Now(), d.lease), nil, nil
}

// issueLink revokes the order's links and stores the new one, in the
// unit of work that saved the claim on o; nothing when the claim was not
// taken.
func (d *delivery) issueLink(ctx context.Context, o *domain.Order) error {
	if !d.claimed {
		return nil
	}
	if !d.justFulfilled {
		if _, err := revokeLinks(ctx, d.issuer.links, o.ID(), "", d.issuer.clock.Now()); err != nil {
			return err
		}
	}
	var err error
	d.link, d.url, err = d.issuer.create(ctx, o)
	d.o = o
	return err
}

// finish sends the link once the unit of work of the claim committed
// (err is its outcome), and releases the claim when the delivery failed;
// it reports whether it delivered the order (sent the link and marked the
// order delivered with it).
func (d *delivery) finish(ctx context.Context, orderID string, err error) (delivered bool, _ error) {
	if err == nil && !d.claimed {
		return false, nil
	}
	if err == nil {
		delivered, err = d.deliver(ctx, d.o, d.link, d.url, d.claim, d.lease)
	}
	if errors.Is(err, errSentNotRecorded) {
		// The claim must lapse: a later try of this run must not take it
		// over and send another link.
		ports.EndRunHolds(ctx)
	}
	if err != nil && !errors.Is(err, errSentNotRecorded) {
		// Free the claim at once so the retry need not wait for the lease;
		// also when the request context is what failed. (A unit of work
		// that rolled back took its claim with it; the release is then a
		// no-op.)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, rerr := d.orders.Update(rctx, orderID, func(o *domain.Order) error {
			o.ReleaseDelivery(d.claim, d.issuer.clock.Now())
			return nil
		}); rerr != nil {
			d.log.WarnContext(ctx, "could not release delivery claim; the lease will expire", "order_id", orderID, "err", rerr)
		}
	}
	return delivered, err
}

// markWaits are the pauses before each attempt to record a sent delivery:
// together (1.3 s) they outlast a pool whose connections all died at once
// (a database restart, connections terminated), of which each attempt may
// draw one, so that a short outage does not leave the order waiting out
// the claim's lease.
var markWaits = []time.Duration{0, 10 * time.Millisecond, 50 * time.Millisecond, 250 * time.Millisecond, time.Second}

// errSentNotRecorded marks a delivery whose email went out but whose order
// could not record it: its claim is kept until the lease runs out.
var errSentNotRecorded = errors.New("delivery email sent, order not marked delivered")

// deliver emails the new link and marks the order delivered, checking
// before each step that cannot be undone that the claim is still held (a
// worker that stalled past its lease stops and revokes its own link).
// Before the email, o (as the claim's unit of work saved it) serves:
// no other worker can take the claim over while its lease runs, so the
// clock alone tells whether it is still held.
func (h DeliverOrder) deliver(ctx context.Context, o *domain.Order, link *domain.DeliveryLink, url, claim string, lease time.Duration) (delivered bool, _ error) {
	orderID := o.ID()
	if !o.HoldsDelivery(claim, h.issuer.clock.Now(), lease) {
		h.log.WarnContext(ctx, "delivery claim lost before sending; revoking own link", "order_id", orderID)
		return false, revokeLink(ctx, h.issuer.links, link.ID(), h.issuer.clock.Now())
	}
	// The email's audit record is staged in the unit of work that marks
	// the order delivered, not in one of its own.
	sctx, records := deferEmailRecords(ctx)
	if err := h.issuer.send(sctx, o, link, url); err != nil {
		return false, err
	}
	// The email is out: failing now would have the retry revoke the link
	// just sent and email another. So the order records it a few times
	// (markWaits), apart from the caller's context; if it still cannot, the claim is
	// kept (not released), the email is recorded on its own, and the order
	// is delivered again only once the lease has run out.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	// ranThrough: an attempt staged everything, yet its commit failed;
	// when its outcome was unknown it may have committed, records and all.
	lost, done, ranThrough := false, false, false
	var err error
	seen := o.Snapshot() // committed with the claim: the mark starts from it
	for _, wait := range markWaits {
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-mctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		if err != nil && mctx.Err() != nil {
			break // out of time: err is the last try's
		}
		// The mark concludes a queue handling of the order: a consumer may
		// acknowledge its message with it.
		err = h.tx.Atomically(ports.Concluding(mctx), func(ctx context.Context) error {
			if _, err := updateFrom(ctx, h.orders, &seen, orderID, func(o *domain.Order) error {
				// Set on every run of the function: a retried unit of work runs it again.
				// Delivered with this link: an earlier attempt marked it.
				if done = o.DeliveredWith(link.ID()); done {
					lost = false
					return nil
				}
				if lost = !o.HoldsDelivery(claim, h.issuer.clock.Now(), lease); lost {
					return nil
				}
				return o.MarkDelivered(link.ID(), h.issuer.clock.Now())
			}); err != nil {
				return err
			}
			if done && ranThrough {
				return nil // its records committed with it
			}
			if err := records.stage(ctx); err != nil {
				return err
			}
			ranThrough = true
			return nil
		})
		if err == nil {
			records.done()
			break
		}
	}
	if err != nil {
		// Its own time: the tries may have used mctx's up, and a try whose
		// outcome was unknown may have marked the order, records and all.
		gctx, gcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer gcancel()
		if o, gerr := h.orders.Get(gctx, orderID); gerr == nil && o.DeliveredWith(link.ID()) && ranThrough {
			records.done()
			h.log.InfoContext(ctx, "order delivered", "order_id", orderID, "link_id", link.ID())
			return true, nil
		}
		records.recordAlone(mctx)
		return false, fmt.Errorf("%w: mark delivered: %w", errSentNotRecorded, err)
	}
	if lost {
		h.log.WarnContext(ctx, "delivery claim lost after sending; revoking own link", "order_id", orderID)
		return false, revokeLink(ctx, h.issuer.links, link.ID(), h.issuer.clock.Now())
	}
	h.log.InfoContext(ctx, "order delivered", "order_id", orderID, "link_id", link.ID())
	return true, nil
}
