package application_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// refundWorld is what the refund scenario needs of a world.
type refundWorld struct {
	claimWorld
	// sell places, pays and fulfils one order of sku and returns its id;
	// an out-of-stock refusal is returned as is.
	sell func(t *testing.T, sku string) (string, error)
}

// outcomes returns the key_outcome entries of an order's timeline as
// "outcome" counts, and each entry's detail by outcome.
func outcomes(t *testing.T, orders ports.OrderRepository, id string) map[string]int {
	t.Helper()
	o, err := orders.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range o.Timeline() {
		if e.Kind() == domain.EventKindKeyOutcome {
			got[e.Metadata()["outcome"]]++
		}
	}
	return got
}

func available(t *testing.T, app application.App, sku string) int {
	t.Helper()
	l, err := app.Queries.ListStock.Handle(t.Context(), sku)
	if err != nil {
		t.Fatal(err)
	}
	return l.Counts.Available
}

// refundScenario: an own-stock key is revealed, claimed and replaced from
// the stock; the replacement is not revealed. The refund quarantines the
// revealed (bad) key and puts the replacement back into the stock, exactly
// once; a second refund changes nothing; the old link no longer reveals;
// the restocked key sells again to another order, the revealed one never.
// sku is stock_only with three keys and no other order.
func refundScenario(t *testing.T, w refundWorld, sku string) {
	t.Helper()
	ctx := t.Context()
	app := w.app
	id, err := w.sell(t, sku)
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Commands.DeliverOrder.Handle(ctx, id); err != nil {
		t.Fatal(err)
	}
	token, _ := w.lastLinkToken(t)
	seen := w.revealText(t, token)
	o, _ := w.orders.Get(ctx, id)
	c, err := app.Commands.OpenClaim.Handle(ctx, application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "not_working"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.ApproveClaim.Handle(ctx, application.ApproveClaimCommand{ClaimID: c.ID(), Source: "stock", Actor: "admin:support"}); err != nil {
		t.Fatal(err)
	}
	if n := available(t, app, sku); n != 1 {
		t.Fatalf("%d keys available before the refund, want 1", n)
	}

	cmd := application.RefundCommand{OrderID: id, Reason: "customer changed their mind", Reference: "bank transfer 2026-12-07 #4411", Actor: "admin:support"}
	refunded, err := app.Commands.RefundOrder.Handle(ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	if refunded.Status() != domain.StatusRefunded {
		t.Fatalf("order is %s, want refunded", refunded.Status())
	}
	if got := outcomes(t, w.orders, id); got[domain.KeyQuarantined.String()] != 1 || got[domain.KeyRestocked.String()] != 1 || len(got) != 2 {
		t.Fatalf("key outcomes %v, want one quarantined (the revealed key) and one restocked", got)
	}
	if n := available(t, app, sku); n != 2 {
		t.Fatalf("%d keys available after the refund, want 2 (exactly one back)", n)
	}
	if _, err := app.Commands.RefundOrder.Handle(ctx, cmd); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("second refund: %v, want ErrConflict", err)
	}
	if n := available(t, app, sku); n != 2 {
		t.Fatalf("%d keys available after a second refund, want 2", n)
	}
	if _, err := app.Commands.RevealKeys.Handle(ctx, application.RevealCommand{Token: token}); err == nil {
		t.Fatal("the refunded order's link still reveals")
	}

	var sold []string
	for {
		other, err := w.sell(t, sku)
		if errors.Is(err, domain.ErrOutOfStock) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Commands.DeliverOrder.Handle(ctx, other); err != nil {
			t.Fatal(err)
		}
		tok, _ := w.lastLinkToken(t)
		sold = append(sold, w.revealText(t, tok))
		if len(sold) > 3 {
			t.Fatalf("sold %v: more keys than the stock holds", sold)
		}
	}
	sort.Strings(sold)
	if len(sold) != 2 || sold[0] == sold[1] {
		t.Fatalf("after the refund the stock sold %v, want two different keys", sold)
	}
	for _, k := range sold {
		if k == seen {
			t.Fatalf("the revealed key %q was sold again", seen)
		}
	}
}

func TestRefundRestocksOnlyWhatWasNeverRevealed(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockOnly, "MEM-STOCK-1", "MEM-STOCK-2", "MEM-STOCK-3")
	refundScenario(t, refundWorld{claimWorld: claimWorld{app: w.app(), orders: w.orders, mail: w.mail}, sell: func(t *testing.T, sku string) (string, error) {
		o, err := placePaid(t, w, sku)
		if err != nil {
			return "", err
		}
		return o.ID(), w.fulfil().Handle(t.Context(), o.ID())
	}}, p.SKU())

	counts := map[string]int{}
	w.events.mu.Lock()
	for _, ev := range w.events.events {
		counts[ev.EventName()]++
	}
	w.events.mu.Unlock()
	if counts[domain.EventOrderRefunded] != 1 || counts[domain.EventKeyReturned] != 0 {
		t.Fatalf("events %v, want one order.refunded and no key.returned", counts)
	}
	recs, _ := w.audit.List(t.Context(), 0, 1000)
	actions := map[string]int{}
	for _, r := range recs {
		actions[r.Action]++
		if r.Action == application.AuditOrderRefunded && (r.Details["reference"] != "bank transfer 2026-12-07 #4411" || r.Details["links_revoked"] == "0") {
			t.Errorf("refund record %+v", r)
		}
	}
	if actions[application.AuditOrderRefunded] != 1 || actions[application.AuditKeyOutcome] != 2 {
		t.Fatalf("audit actions %v, want one refund and two key outcomes", actions)
	}
}

func TestRefundRestocksOnPostgres(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	sku := w.stockProduct(t, domain.SourcingStockOnly)
	refundScenario(t, refundWorld{claimWorld: claimWorld{app: w.app, orders: w.orders, mail: w.mail}, sell: func(t *testing.T, sku string) (string, error) {
		return w.orderPaidAndFulfilled(t, sku)
	}}, sku)
	var n int
	if err := w.db.Get(&n, `SELECT count(*) FROM stock_keys WHERE sku = $1 AND status = 'available'`, sku); err != nil || n != 0 {
		t.Fatalf("%d keys still available after selling out, %v", n, err)
	}
}

// keyReturnedEvents counts the key.returned events of an order.
func keyReturnedEvents(w *world, orderID string) int {
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	n := 0
	for _, ev := range w.events.events {
		if ev.EventName() == domain.EventKeyReturned && ev.AggregateID() == orderID {
			n++
		}
	}
	return n
}

// returns is a supplier that takes keys back: it counts the requests per
// supplier order and refuses a second, as Kinguin does.
type returns struct {
	mu    sync.Mutex
	asked map[string]int
}

func (r *returns) ReturnKeys(_ context.Context, id string) (ports.KeyReturn, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.asked[id]++
	if r.asked[id] > 1 {
		return ports.KeyReturn{}, fmt.Errorf("%w (%w): NoKeysToReturn", ports.ErrReturnRefused, ports.ErrNothingToReturn)
	}
	return ports.KeyReturn{Returned: 1}, nil
}

// TestRefundReturnsUnrevealedSupplierKeys: a supplier key never revealed
// is offered back once, within the day after delivery; later it is not
// returnable; a revealed one is quarantined without asking.
func TestRefundReturnsUnrevealedSupplierKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		reveal  bool
		after   time.Duration
		outcome domain.KeyOutcome
		asked   int
	}{
		{"unrevealed", false, time.Hour, domain.KeyReturned, 1},
		{"too late", false, 25 * time.Hour, domain.KeyNotReturnable, 0},
		{"revealed", true, time.Hour, domain.KeyQuarantined, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			r := &returns{asked: map[string]int{}}
			app := w.app(func(d *application.Deps, _ *application.Settings) { d.Suppliers[0].Returns = r })
			o, token := deliveredToken(t, w)
			if tc.reveal {
				if _, err := app.Commands.RevealKeys.Handle(t.Context(), application.RevealCommand{Token: token}); err != nil {
					t.Fatal(err)
				}
			}
			w.clock.Advance(tc.after)
			if _, err := app.Commands.RefundOrder.Handle(t.Context(), application.RefundCommand{OrderID: o.ID(), Reason: "fraud", Actor: "admin:a"}); err != nil {
				t.Fatal(err)
			}
			if got := outcomes(t, w.orders, o.ID()); got[tc.outcome.String()] != 1 || len(got) != 1 {
				t.Fatalf("outcomes %v, want one %s", got, tc.outcome)
			}
			so := o.Items()[0].SupplierOrderID()
			if got, _ := w.orders.Get(t.Context(), o.ID()); got.Items()[0].SupplierOrderID() != "" {
				so = got.Items()[0].SupplierOrderID()
			}
			r.mu.Lock()
			asked := 0
			for _, n := range r.asked {
				asked += n
			}
			r.mu.Unlock()
			if asked != tc.asked {
				t.Fatalf("%d return requests (supplier order %q), want %d", asked, so, tc.asked)
			}
			returned := keyReturnedEvents(w, o.ID())
			if want := map[bool]int{true: 1, false: 0}[tc.outcome == domain.KeyReturned]; returned != want {
				t.Fatalf("%d key.returned events, want %d", returned, want)
			}
		})
	}
}

// TestRefundedPaymentNotificationRefundsAPaidOrder: NOWPayments reporting
// a delivered order's payment refunded takes the admin's refund path
// (reason "payment refunded", reference the payment id): links revoked,
// each key's outcome recorded; the same notification again changes nothing.
func TestRefundedPaymentNotificationRefundsAPaidOrder(t *testing.T) {
	t.Parallel()
	w := newNPWorld(t)
	placed, err := w.place(t)
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	if r, err := w.ipn(t, o, "finished", o.Payment().PayAmount, ""); err != nil || r.Status != domain.StatusPaid {
		t.Fatalf("payment: %+v %v", r, err)
	}
	app := w.app(t)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if err := app.Commands.DeliverOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	body := w.srv.IPN(o.Payment().PaymentID, "refunded", o.Payment().PayAmount, "")
	for i := range 2 {
		r, err := w.ipnBody(t, body)
		if err != nil || r.Status != domain.StatusRefunded || r.Duplicate != (i == 1) || r.Changed != (i == 0) {
			t.Fatalf("refunded notification %d: %+v, %v", i, r, err)
		}
	}
	if n := w.eventCount(o.ID(), domain.EventOrderRefunded); n != 1 {
		t.Fatalf("order.refunded %d times, want 1", n)
	}
	if got := outcomes(t, w.orders, o.ID()); got[domain.KeyNotReturnable.String()] != 1 || len(got) != 1 {
		t.Fatalf("outcomes %v, want the sandbox key not returnable", got)
	}
	recs, _ := w.audit.List(t.Context(), 0, 1000)
	found := false
	for _, r := range recs {
		if r.Action == application.AuditOrderRefunded {
			found = r.Actor == application.ActorGateway && r.Details["reason"] == application.RefundReasonPaymentRefunded && r.Details["reference"] == o.Payment().PaymentID
		}
	}
	if !found {
		t.Fatal("no refund audit record by the gateway with the payment id as reference")
	}
	links, err := w.links.ListByOrder(t.Context(), o.ID())
	if err != nil || len(links) == 0 {
		t.Fatalf("the order's links: %d (%v), want the delivery link", len(links), err)
	}
	for _, l := range links {
		if !l.Revoked() {
			t.Fatalf("link %s not revoked", l.ID())
		}
	}
}

// revealDuringPlan is a revelation log whose second read (the refund's
// plan) lets the customer reveal the order first, as a reveal that
// commits while the refund is being planned does.
type revealDuringPlan struct {
	ports.RevelationLog
	mu     sync.Mutex
	reads  int
	reveal func()
}

func (r *revealDuringPlan) ListByOrder(ctx context.Context, orderID string) ([]domain.KeyRevelation, error) {
	r.mu.Lock()
	r.reads++
	n := r.reads
	r.mu.Unlock()
	if n == 2 {
		r.reveal()
	}
	return r.RevelationLog.ListByOrder(ctx, orderID)
}

// TestRefundRefusesAKeyRevealedWhileItWasPlanned: a reveal that commits
// after the refund looked at the reveals and before its unit of work
// makes the refund stop with a conflict, and the key the customer saw is
// not put back into the stock.
func TestRefundRefusesAKeyRevealedWhileItWasPlanned(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockOnly, "RACE-STOCK-1", "RACE-STOCK-2")
	o, err := placePaid(t, w, p.SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	w.mail.mu.Lock()
	body := w.mail.sent[len(w.mail.sent)-1].Text
	w.mail.mu.Unlock()
	i := strings.Index(body, "/deliver/")
	if i < 0 {
		t.Fatalf("no delivery link in the last email: %s", body)
	}
	token := strings.Fields(body[i+len("/deliver/"):])[0]
	log := &revealDuringPlan{RevelationLog: w.revs}
	log.reveal = func() {
		if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); err != nil {
			t.Errorf("reveal: %v", err)
		}
	}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Revelations = log })
	before := available(t, app, p.SKU())
	_, err = app.Commands.RefundOrder.Handle(t.Context(), application.RefundCommand{OrderID: o.ID(), Reason: "r", Reference: "x", Actor: "admin:support"})
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("refund while a reveal came in: %v, want a conflict", err)
	}
	if got := available(t, app, p.SKU()); got != before {
		t.Fatalf("%d keys available after the refused refund, want %d: the revealed key went back", got, before)
	}
}
