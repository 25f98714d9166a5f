package application_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// TestDeliverOrderTransactions counts what a delivery commits: the claim
// with the new link, and the mark delivered with the email's audit record
// (the claim is checked on the order the claim saved, not read again).
func TestDeliverOrderTransactions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.fulfilledOrder(t)
	c := &unitCounter{}
	deliver := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Tx = c
		d.Orders = unitOrders{OrderRepository: w.orders, c: c}
		d.Links = unitLinks{DeliveryLinkRepository: w.links, c: c}
	}).Commands.DeliverOrder
	if err := deliver.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusDelivered || len(w.mail.sent) != 1 {
		t.Fatalf("order %s after delivery, %d emails", s, len(w.mail.sent))
	}
	assertOneLiveLink(t, w, o.ID(), 1)
	if n := c.n.Load(); n != 2 {
		t.Fatalf("a delivery committed %d transactions, want 2", n)
	}
}

// markFails fails the next n saves that would mark an order delivered, as
// a database that drops its connections would.
type markFails struct {
	ports.OrderRepository
	n atomic.Int32
}

func (r *markFails) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	return r.OrderRepository.Update(ctx, id, func(o *domain.Order) error {
		if err := fn(o); err != nil {
			return err
		}
		if o.Status() == domain.StatusDelivered && r.n.Add(-1) >= 0 {
			return fmt.Errorf("%w: connection lost", ports.ErrStorageUnavailable)
		}
		return nil
	})
}

// Once the email is out, a failing "mark delivered" is tried again, and
// when it keeps failing the retry of the message sends no second email.
// The email is audited once either way: with the mark delivered, or on
// its own when that never commits.
func TestDeliveryEmailSentIsNeverSentAgain(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		fails int32
	}{{"recorded on a later try", 2}, {"recorded on the last try", 4}, {"not recorded at all", 100}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			o := w.fulfilledOrder(t)
			orders := &markFails{OrderRepository: w.orders}
			orders.n.Store(tt.fails)
			deliver := w.app(func(d *application.Deps, _ *application.Settings) { d.Orders = orders }).Commands.DeliverOrder
			err := deliver.Handle(t.Context(), o.ID())
			if tt.fails < 5 && err != nil { // five tries (markWaits)
				t.Fatalf("delivery with %d failed saves: %v", tt.fails, err)
			}
			if err == nil && w.status(t, o.ID()) != domain.StatusDelivered {
				t.Fatalf("delivery succeeded but the order is %s", w.status(t, o.ID()))
			}
			// The message is handled again (redelivery after an error).
			if err := deliver.Handle(t.Context(), o.ID()); err != nil {
				t.Fatalf("second delivery: %v", err)
			}
			if len(w.mail.sent) != 1 {
				t.Fatalf("%d delivery emails, want 1", len(w.mail.sent))
			}
			assertOneLiveLink(t, w, o.ID(), 1)
			recs, err := w.audit.List(t.Context(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			sent := 0
			for _, r := range recs {
				if r.Action == application.AuditEmailSent && r.Details["template"] == w.mail.sent[0].Template {
					sent++
				}
			}
			if sent != 1 {
				t.Fatalf("%d audit records of the delivery email, want 1", sent)
			}
		})
	}
}

// TestFulfilmentClaimsItsDeliveryWithTheSeal: the run that completes an
// order commits the seal, the order's completion, the delivery claim and
// the new link in one unit of work, then sends the link and marks the
// order delivered in another: a delivery costs the run one unit of work
// of its own, not two. The order's data key is stored with the purchase
// begun, not in a unit of work of its own, and the claim looks for no
// earlier link to revoke.
func TestFulfilmentClaimsItsDeliveryWithTheSeal(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	c := &unitCounter{}
	var listed atomic.Int32
	fulfil := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Tx = c
		d.Orders = unitOrders{OrderRepository: w.orders, c: c}
		d.Links = listedLinks{unitLinks{DeliveryLinkRepository: w.links, c: c}, &listed}
	}).Commands.FulfilOrder
	if err := fulfil.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusDelivered || len(w.mail.sent) != 1 {
		t.Fatalf("order %s after its run, %d emails", s, len(w.mail.sent))
	}
	assertOneLiveLink(t, w, o.ID(), 1)
	// The order's first read, the purchase begun with the order's new
	// data key, the seal with the claim and the link, the mark delivered.
	if n := c.n.Load(); n != 4 {
		t.Fatalf("a fulfilment and delivery committed %d units of work or reads, want 4", n)
	}
	if _, err := w.dataKeys.Get(t.Context(), o.ID()); err != nil {
		t.Fatalf("the order's data key: %v", err)
	}
	// An order fulfilled only now has no link to revoke: none is looked for.
	if n := listed.Load(); n != 0 {
		t.Fatalf("the run listed the order's links %d times, want 0", n)
	}
}

// listedLinks counts ListByOrder calls.
type listedLinks struct {
	ports.DeliveryLinkRepository
	n *atomic.Int32
}

func (l listedLinks) ListByOrder(ctx context.Context, orderID string) ([]*domain.DeliveryLink, error) {
	l.n.Add(1)
	return l.DeliveryLinkRepository.ListByOrder(ctx, orderID)
}

// unknownCommit commits a unit of work once the email went out and then
// reports its outcome unknown (up to n times), as the Postgres Transactor
// does when the connection drops during a COMMIT that went through.
type unknownCommit struct {
	sent  func() int
	n     atomic.Int32
	inner ports.Transactor
}

type unknownCommitTop struct{}

func (u *unknownCommit) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Value(unknownCommitTop{}) != nil {
		return fn(ctx)
	}
	err := u.inner.Atomically(context.WithValue(ctx, unknownCommitTop{}, true), fn)
	if err == nil && u.sent() > 0 && u.n.Add(-1) >= 0 {
		return fmt.Errorf("commit, outcome unknown: %w", ports.ErrStorageUnavailable)
	}
	return err
}

// TestDeliveryMarkedDeliveredAfterUnknownCommit: a mark delivered whose
// commit went through but was reported unknown is tried again; the retry
// finds the order delivered with its own link, which is success: the
// email is recorded once and its link stays live. Also when every try is
// reported unknown.
func TestDeliveryMarkedDeliveredAfterUnknownCommit(t *testing.T) {
	t.Parallel()
	for _, unknown := range []int32{1, 100} {
		t.Run(fmt.Sprint(unknown), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			o := w.fulfilledOrder(t)
			tx := &unknownCommit{sent: func() int { return len(w.mail.sent) }}
			tx.n.Store(unknown)
			app := w.app(func(d *application.Deps, _ *application.Settings) { tx.inner = d.Tx; d.Tx = tx })
			if err := app.Commands.DeliverOrder.Handle(t.Context(), o.ID()); err != nil {
				t.Fatalf("delivery: %v", err)
			}
			if got := w.status(t, o.ID()); got != domain.StatusDelivered {
				t.Fatalf("order %s, want delivered", got)
			}
			if len(w.mail.sent) != 1 {
				t.Fatalf("%d delivery emails, want 1", len(w.mail.sent))
			}
			assertOneLiveLink(t, w, o.ID(), 1)
			recs, err := w.audit.List(t.Context(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			sent := 0
			for _, r := range recs {
				if r.Action == application.AuditEmailSent {
					sent++
				}
			}
			if sent != 1 {
				t.Fatalf("%d email.sent records, want 1", sent)
			}
		})
	}
}

// heldAfterFulfilled refuses every save of an order once it is fulfilled,
// as a database gone after the seal committed: the delivery claim the
// seal took can be neither used nor released.
type heldAfterFulfilled struct{ ports.OrderRepository }

func (r heldAfterFulfilled) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	if o, err := r.Get(ctx, id); err == nil && o.Status() == domain.StatusFulfilled {
		return nil, fmt.Errorf("%w: connection lost", ports.ErrStorageUnavailable)
	}
	return r.OrderRepository.Update(ctx, id, fn)
}

func (r heldAfterFulfilled) UpdateSeen(ctx context.Context, seen domain.OrderSnapshot, fn func(*domain.Order) error) (*domain.Order, error) {
	return r.Update(ctx, seen.ID, fn)
}

// TestRetryOfARunTakesOverItsOwnDeliveryClaim: a run that sealed an order
// and claimed its delivery, then lost its database before it could send
// the email or release the claim, is tried again (the same message): the
// retry, the same run, delivers at once instead of waiting for its own
// claim to lapse; another run still leaves the claim alone.
func TestRetryOfARunTakesOverItsOwnDeliveryClaim(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	run := ports.WithRunID(t.Context(), "fulfil-paid@order.paid/msg-1")
	broken := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Orders = heldAfterFulfilled{w.orders}
		d.Mailer = failingMailer{err: fmt.Errorf("%w: smtp down", ports.ErrMailUnavailable)}
	})
	if err := broken.Commands.FulfilOrder.Handle(run, o.ID()); err == nil {
		t.Fatal("a run whose database went after the seal succeeded")
	}
	if s := w.status(t, o.ID()); s != domain.StatusFulfilled {
		t.Fatalf("order %s after the broken run, want fulfilled", s)
	}
	if got, _ := w.orders.Get(t.Context(), o.ID()); got.Snapshot().DeliveryClaim.ID != ports.RunID(run) {
		t.Fatalf("claim %+v after the broken run, want the run's", got.Snapshot().DeliveryClaim)
	}
	other := ports.WithRunID(t.Context(), "reconcile/1")
	if err := w.deliver().Handle(other, o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusFulfilled || len(w.mail.sent) != 0 {
		t.Fatalf("another run delivered under a held claim: order %s, %d emails", s, len(w.mail.sent))
	}
	// The retry finds the order fulfilled and delivers it (FulfilOrder
	// hands a fulfilled order to DeliverOrder), under the same run.
	if err := w.app().Commands.FulfilOrder.Handle(run, o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusDelivered || len(w.mail.sent) != 1 {
		t.Fatalf("the retried run left the order %s with %d emails, want delivered with 1", s, len(w.mail.sent))
	}
}

// TestRunWhoseEmailWentUnrecordedLetsItsClaimLapse: a try that sent the
// delivery email but could not record it keeps its claim to lapse; the
// next try of the same run takes a claim of its own, finds the order
// held, and sends no second link.
func TestRunWhoseEmailWentUnrecordedLetsItsClaimLapse(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.fulfilledOrder(t)
	orders := &markFails{OrderRepository: w.orders}
	orders.n.Store(100)
	deliver := w.app(func(d *application.Deps, _ *application.Settings) { d.Orders = orders }).Commands.DeliverOrder
	run := ports.WithRunID(t.Context(), "fulfil-paid@order.paid/msg-1/1")
	name := ports.RunID(run)
	claim := func() string {
		got, err := w.orders.Get(t.Context(), o.ID())
		if err != nil {
			t.Fatal(err)
		}
		return got.Snapshot().DeliveryClaim.ID
	}
	if err := deliver.Handle(run, o.ID()); err == nil {
		t.Fatal("a delivery whose mark kept failing succeeded")
	}
	if len(w.mail.sent) != 1 || claim() != name {
		t.Fatalf("%d emails and claim %q after the first try, want 1 and the run's claim kept", len(w.mail.sent), claim())
	}
	if err := deliver.Handle(run, o.ID()); err != nil {
		t.Fatalf("the run's next try: %v", err)
	}
	if len(w.mail.sent) != 1 || claim() != name {
		t.Fatalf("the run's next try: %d emails, claim %q, want 1 and the first try's claim left to lapse", len(w.mail.sent), claim())
	}
	assertOneLiveLink(t, w, o.ID(), 1)
}
