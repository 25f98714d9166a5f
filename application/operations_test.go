package application_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

func TestClassifyFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want application.Failure
	}{
		{fmt.Errorf("%w: purchase: timeout", application.ErrUnavailable), application.FailureTransient},
		{fmt.Errorf("get order: %w", ports.ErrStorageUnavailable), application.FailureTransient},
		{fmt.Errorf("kinguin: %w", ports.ErrSupplierTemporary), application.FailureTransient},
		{context.DeadlineExceeded, application.FailureTransient},
		{errors.New("something nobody explained"), application.FailureTransient},
		{fmt.Errorf("kinguin: %w", ports.ErrSupplierPermanent), application.FailurePermanent},
		{fmt.Errorf("order: %w", domain.ErrNotFound), application.FailurePermanent},
		{fmt.Errorf("decode: %w", application.ErrMalformedMessage), application.FailurePermanent},
		{fmt.Errorf("%w: supplier lost the purchase", application.ErrNeedsReview), application.FailureNeedsReview},
	}
	for _, c := range cases {
		if got := application.ClassifyFailure(c.err); got != c.want {
			t.Errorf("ClassifyFailure(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// sweepWorld is a world whose sweeper uses short, explicit bounds.
func sweepApp(w *world, late *[]string) application.App {
	return w.app(func(_ *application.Deps, s *application.Settings) {
		s.Operations = application.OperationsPolicy{PaymentTimeout: time.Hour, DeliverySLO: 10 * time.Minute, GiveUpAfter: 30 * time.Minute,
			OnLateDelivery: func(_ context.Context, id string, _ time.Duration) { *late = append(*late, id) }}
	})
}

// TestSweepExpiresUnpaidOrdersAndKeepsLatePayments: an order unpaid after
// the payment timeout expires (not before); a payment finishing after
// that holds it for review with the reason instead of being dropped.
func TestSweepExpiresUnpaidOrdersAndKeepsLatePayments(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var late []string
	app := sweepApp(w, &late)
	placed, err := app.Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com",
		Lines: []application.PlaceOrderLine{{SKU: firstInStock(t, w), Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	id := placed.Order.ID()
	w.clock.Advance(59 * time.Minute)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.Expired != 0 {
		t.Fatalf("before the timeout: %+v %v", res, err)
	}
	w.clock.Advance(2 * time.Minute)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.Expired != 1 {
		t.Fatalf("after the timeout: %+v %v", res, err)
	}
	if st := w.status(t, id); st != domain.StatusExpired {
		t.Fatalf("unpaid order is %s, want expired", st)
	}
	p := placed.Order.Payment()
	o, err := w.orders.Update(t.Context(), id, func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status() != domain.StatusNeedsReview || !strings.HasPrefix(o.ReviewReason(), "late_payment") {
		t.Fatalf("late payment left the order %s (%q), want needs_review", o.Status(), o.ReviewReason())
	}
}

// TestSweepHoldsStuckOrdersAndFlagsLateOnes: a paid order that cannot
// progress is flagged once past the delivery SLO and held for review with
// the reason after the give-up time; an admin retry picks it up again.
func TestSweepHoldsStuckOrdersAndFlagsLateOnes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var late []string
	app := sweepApp(w, &late)
	o := w.paidOrder(t, 1)
	w.clock.Advance(11 * time.Minute)
	for range 2 {
		if _, err := app.Commands.Sweep.Handle(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if len(late) != 1 || late[0] != o.ID() || app.Commands.Sweep.LateDeliveries() != 1 {
		t.Fatalf("flagged %v (count %d), want %s once", late, app.Commands.Sweep.LateDeliveries(), o.ID())
	}
	if st := w.status(t, o.ID()); st != domain.StatusPaid {
		t.Fatalf("order is %s before the give-up time", st)
	}
	w.clock.Advance(20 * time.Minute)
	res, err := app.Commands.Sweep.Handle(t.Context())
	if err != nil || res.HeldStuck != 1 {
		t.Fatalf("after the give-up time: %+v %v", res, err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusNeedsReview || !strings.Contains(got.ReviewReason(), "no progress") {
		t.Fatalf("stuck order is %s (%q), want needs_review", got.Status(), got.ReviewReason())
	}
	if _, err := app.Commands.RetryFulfilment.Handle(t.Context(), o.ID(), "admin"); err != nil {
		t.Fatal(err)
	}
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Fatalf("retried order is %s, want delivered", st)
	}
	if res, _ := app.Commands.Sweep.Handle(t.Context()); res.HeldStuck != 0 {
		t.Fatalf("a fulfilled order was held: %+v", res)
	}
}

// TestUnknownSupplierPurchaseNeedsReview: a supplier that does not know a
// purchase we recorded holds the order for review, once, instead of a retry
// loop.
func TestUnknownSupplierPurchaseNeedsReview(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	it := o.Items()[0]
	_, err := w.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		if _, err := o.StartFulfilment(w.clock.Now()); err != nil {
			return err
		}
		if err := o.BeginItemPurchase(it.ID(), w.clock.Now()); err != nil {
			return err
		}
		return o.RecordItemPurchase(it.ID(), "SUPPLIER-FORGOT-THIS", w.clock.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatalf("fulfil = %v, want nil (held, not retried)", err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusNeedsReview || !strings.Contains(got.ReviewReason(), "SUPPLIER-FORGOT-THIS") {
		t.Fatalf("order is %s (%q), want needs_review naming the purchase", got.Status(), got.ReviewReason())
	}
}

// TestDeadLetterHoldsAndReplaysOnce: a permanent failure's dead letter
// holds its order for review; a transient one does not; replaying hands
// the message back once, and a failed requeue leaves it replayable.
func TestDeadLetterHoldsAndReplaysOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app := w.app()
	held, waiting := w.paidOrder(t, 1), w.paidOrder(t, 1)
	letter := func(id, orderID string) ports.DeadLetter {
		return ports.DeadLetter{ID: id, Topic: "order.paid", OrderID: orderID, Reason: "boom", Attempts: 6, Payload: []byte(`{}`)}
	}
	if err := app.Commands.RecordDeadLetter.Handle(t.Context(), letter("a", held.ID()), application.FailurePermanent, true); err != nil {
		t.Fatal(err)
	}
	if err := app.Commands.RecordDeadLetter.Handle(t.Context(), letter("b", waiting.ID()), application.FailureTransient, true); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, held.ID()); st != domain.StatusNeedsReview {
		t.Fatalf("permanent failure left the order %s", st)
	}
	if st := w.status(t, waiting.ID()); st != domain.StatusPaid {
		t.Fatalf("transient failure moved the order to %s", st)
	}

	w.requeue.fail = errors.New("broker down")
	if _, _, err := app.Commands.ReplayDeadLetter.Handle(t.Context(), "a", "admin"); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("replay with the publisher down = %v, want ErrUnavailable", err)
	}
	w.requeue.fail = nil
	for i, want := range []bool{true, false} {
		_, requeued, err := app.Commands.ReplayDeadLetter.Handle(t.Context(), "a", "admin")
		if err != nil || requeued != want {
			t.Fatalf("replay %d: requeued=%t err=%v, want %t", i, requeued, err, want)
		}
	}
	if n := w.requeue.count(); n != 1 {
		t.Fatalf("requeued %d times, want 1", n)
	}
	if _, _, err := app.Commands.ReplayDeadLetter.Handle(t.Context(), "nope", "admin"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("replay unknown = %v", err)
	}
}

// TestPlaceOrderIdempotencyKey: the same key and request return the same
// order and token; another request under the key is refused.
func TestPlaceOrderIdempotencyKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app := w.app()
	cmd := application.PlaceOrderCommand{Email: "buyer@example.com", Lines: []application.PlaceOrderLine{{SKU: firstInStock(t, w), Quantity: 1}},
		IdempotencyKey: "key-1"}
	a, err := app.Commands.PlaceOrder.Handle(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	b, err := app.Commands.PlaceOrder.Handle(t.Context(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if a.Order.ID() != b.Order.ID() || a.AccessToken != b.AccessToken || !b.Replayed || a.Replayed {
		t.Fatalf("retry: %s/%t after %s/%t", b.Order.ID(), b.Replayed, a.Order.ID(), a.Replayed)
	}
	if !b.Order.CheckAccessToken(b.AccessToken) {
		t.Fatal("the replayed token does not open the order")
	}
	cmd.Lines[0].Quantity = 2
	if _, err := app.Commands.PlaceOrder.Handle(t.Context(), cmd); !errors.Is(err, application.ErrIdempotencyKeyReused) {
		t.Fatalf("key reused = %v", err)
	}
}

func firstInStock(t *testing.T, w *world) string {
	t.Helper()
	products, err := w.catalog.List(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range products {
		if p.InStock() && p.Stock() >= 2 {
			return p.SKU()
		}
	}
	t.Fatal("no product in stock")
	return ""
}

// TestSweepPurgesLongExpiredLinks: a delivery link is kept while it may
// still be asked about, and deleted once expired for the retention time.
func TestSweepPurgesLongExpiredLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var late []string
	app := sweepApp(w, &late)
	o, _ := deliveredToken(t, w)
	w.clock.Advance(29 * 24 * time.Hour)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.Links != 0 {
		t.Fatalf("within the retention: %+v %v", res, err)
	}
	w.clock.Advance(2 * 24 * time.Hour)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.Links != 1 {
		t.Fatalf("after the retention: %+v %v", res, err)
	}
	if links, err := w.links.ListByOrder(t.Context(), o.ID()); err != nil || len(links) != 0 {
		t.Fatalf("links left: %d %v", len(links), err)
	}
}

// TestSweepJudgesProgressFromTheLastStep: an item bought 20 minutes after
// the payment and waiting for the supplier's keys is not stuck 31 minutes
// after the payment, only once the give-up time has passed since the
// purchase.
func TestSweepJudgesProgressFromTheLastStep(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var late []string
	app := sweepApp(w, &late)
	o := w.paidOrder(t, 1)
	it := o.Items()[0]
	w.clock.Advance(20 * time.Minute)
	w.update(t, o.ID(), func(o *domain.Order) error {
		if _, err := o.StartFulfilment(w.clock.Now()); err != nil {
			return err
		}
		if err := o.BeginItemPurchase(it.ID(), w.clock.Now()); err != nil {
			return err
		}
		return o.RecordItemPurchase(it.ID(), "SO-WAITING-FOR-KEYS", w.clock.Now())
	})
	w.clock.Advance(11 * time.Minute)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 0 {
		t.Fatalf("31 min after payment, 11 after the purchase: %+v %v, want nothing held", res, err)
	}
	w.clock.Advance(20 * time.Minute)
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 1 {
		t.Fatalf("31 min after the purchase: %+v %v, want the order held", res, err)
	}
}
