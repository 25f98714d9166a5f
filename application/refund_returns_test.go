package application_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// thenFail is a supplier's returns that arms a fault once the supplier
// has taken keys back: what fails next fails after the supplier call.
type thenFail struct {
	ports.SupplierReturns
	arm *atomic.Bool
}

func (r thenFail) ReturnKeys(ctx context.Context, id string) (ports.KeyReturn, error) {
	got, err := r.SupplierReturns.ReturnKeys(ctx, id)
	if err == nil {
		r.arm.Store(true)
	}
	return got, err
}

// failingReads fails the next read of an order's revelations once armed:
// the read inside the refund's unit of work, after it revoked the links.
type failingReads struct {
	ports.RevelationLog
	armed atomic.Bool
}

func (r *failingReads) ListByOrder(ctx context.Context, orderID string) ([]domain.KeyRevelation, error) {
	if r.armed.CompareAndSwap(true, false) {
		return nil, errors.New("storage error (injected)")
	}
	return r.RevelationLog.ListByOrder(ctx, orderID)
}

// failingUpdates fails the next order update once armed.
type failingUpdates struct {
	ports.OrderRepository
	armed atomic.Bool
}

func (r *failingUpdates) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	if r.armed.CompareAndSwap(true, false) {
		return nil, errors.New("storage error (injected)")
	}
	return r.OrderRepository.Update(ctx, id, fn)
}

// TestRefundRetriedAfterItsUnitOfWorkFailedKeepsTheReturn: the supplier
// takes the key back, then the refund's unit of work fails; the refund
// tried again records the key returned, without asking the supplier again
// where its answer was recorded, and asking once more where the answer was
// lost (the supplier's "no keys to return" then means returned). Either
// way one key.returned event and one returned outcome in the audit trail.
func TestRefundRetriedAfterItsUnitOfWorkFailedKeepsTheReturn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// answerLost: the failure hits the recording of the supplier's
		// answer, not the refund's unit of work.
		answerLost bool
		asked      int
	}{
		{"unit of work fails", false, 1},
		{"answer lost", true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			r := &returns{asked: map[string]int{}}
			revs := &failingReads{RevelationLog: w.revs}
			orders := &failingUpdates{OrderRepository: w.orders}
			arm := &revs.armed
			if tc.answerLost {
				arm = &orders.armed
			}
			app := w.app(func(d *application.Deps, _ *application.Settings) {
				d.Suppliers[0].Returns, d.Revelations, d.Orders = thenFail{r, arm}, revs, orders
			})
			o, _ := deliveredToken(t, w)
			w.clock.Advance(time.Hour)
			cmd := application.RefundCommand{OrderID: o.ID(), Reason: "fraud", Reference: "r-1", Actor: "admin:a"}
			if _, err := app.Commands.RefundOrder.Handle(t.Context(), cmd); err == nil {
				t.Fatal("the refund whose storage failed succeeded")
			}
			if got, _ := w.orders.Get(t.Context(), o.ID()); got.Status() == domain.StatusRefunded {
				t.Fatal("the failed refund left the order refunded")
			}
			// A day later: past the return window, the earlier request decides.
			w.clock.Advance(24 * time.Hour)
			refunded, err := app.Commands.RefundOrder.Handle(t.Context(), cmd)
			if err != nil {
				t.Fatalf("refund tried again: %v", err)
			}
			if refunded.Status() != domain.StatusRefunded {
				t.Fatalf("order is %s, want refunded", refunded.Status())
			}
			if got := outcomes(t, w.orders, o.ID()); got[domain.KeyReturned.String()] != 1 || len(got) != 1 {
				t.Fatalf("outcomes %v, want the key returned", got)
			}
			r.mu.Lock()
			asked := 0
			for _, n := range r.asked {
				asked += n
			}
			r.mu.Unlock()
			if asked != tc.asked {
				t.Fatalf("%d return requests, want %d", asked, tc.asked)
			}
			returned := keyReturnedEvents(w, o.ID())
			if returned != 1 {
				t.Fatalf("%d key.returned events, want 1", returned)
			}
			recs, _ := w.audit.List(t.Context(), 0, 1000)
			actions := map[string]int{}
			for _, rec := range recs {
				if rec.Subject != o.ID() {
					continue
				}
				actions[rec.Action]++
				if rec.Action == application.AuditKeyOutcome && rec.Details["outcome"] != domain.KeyReturned.String() {
					t.Errorf("key outcome record %+v, want returned", rec.Details)
				}
			}
			if actions[application.AuditKeyOutcome] != 1 || actions[application.AuditOrderRefunded] != 1 ||
				actions[application.AuditReturnRequested] != 1 || actions[application.AuditReturnAnswered] != 1 {
				t.Fatalf("audit actions %v, want one return request, one answer, one key outcome, one refund", actions)
			}
		})
	}
}

// thenReveal is a supplier's returns that lets the customer reveal the
// order once the supplier has taken its keys back: a reveal that commits
// while the refund is between its supplier call and its unit of work.
type thenReveal struct {
	ports.SupplierReturns
	reveal func()
}

func (r thenReveal) ReturnKeys(ctx context.Context, id string) (ports.KeyReturn, error) {
	got, err := r.SupplierReturns.ReturnKeys(ctx, id)
	if err == nil {
		r.reveal()
	}
	return got, err
}

// TestRefundAfterARevealThatRacedTheReturnKeepsTheKeyReturned: the
// supplier took the key back, then a reveal came in and the refund
// stopped with a conflict. Tried again, the refund records what happened
// at the supplier: the key returned (one key.returned event, one request),
// not quarantined.
func TestRefundAfterARevealThatRacedTheReturnKeepsTheKeyReturned(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := &returns{asked: map[string]int{}}
	o, token := deliveredToken(t, w)
	var once atomic.Bool
	app := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers[0].Returns = thenReveal{r, func() {
			if once.CompareAndSwap(false, true) {
				if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); err != nil {
					t.Errorf("reveal: %v", err)
				}
			}
		}}
	})
	w.clock.Advance(5 * time.Minute) // the link still reveals
	cmd := application.RefundCommand{OrderID: o.ID(), Reason: "fraud", Reference: "r-2", Actor: "admin:a"}
	if _, err := app.Commands.RefundOrder.Handle(t.Context(), cmd); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("refund while a reveal came in: %v, want a conflict", err)
	}
	w.clock.Advance(time.Minute)
	if _, err := app.Commands.RefundOrder.Handle(t.Context(), cmd); err != nil {
		t.Fatalf("refund tried again: %v", err)
	}
	if got := outcomes(t, w.orders, o.ID()); got[domain.KeyReturned.String()] != 1 || len(got) != 1 {
		t.Fatalf("outcomes %v, want the key returned: the supplier has it back", got)
	}
	r.mu.Lock()
	if len(r.asked) != 1 {
		t.Errorf("return requests %v, want one supplier order asked once", r.asked)
	}
	for so, n := range r.asked {
		if n != 1 {
			t.Errorf("supplier order %s asked %d times, want once", so, n)
		}
	}
	r.mu.Unlock()
	returned := keyReturnedEvents(w, o.ID())
	if returned != 1 {
		t.Fatalf("%d key.returned events, want 1", returned)
	}
}

// answerLostWorld is a delivered order of one supplier key, its delivery
// token, and the application on ports wrap changed.
type answerLostWorld struct {
	app     application.App
	orders  ports.OrderRepository
	clock   *testkit.Clock
	orderID string
	token   string
}

// answerLostThenRevealedScenario: the supplier takes the key back, the
// customer reveals it, and the supplier's answer is not recorded (the
// refund fails). Tried again, the refund asks the supplier once more
// before it classifies the key: "no keys to return" means the first
// request took it, so the key, unseen when it was asked, is returned (not
// quarantined as revealed), the answer recorded and audited once, and the
// supplier order given a key.returned event.
func answerLostThenRevealedScenario(t *testing.T, newWorld func(wrap func(*application.Deps)) answerLostWorld) answerLostWorld {
	t.Helper()
	r := &returns{asked: map[string]int{}}
	var (
		w       answerLostWorld
		failing *failingUpdates
		once    atomic.Bool
	)
	w = newWorld(func(d *application.Deps) {
		failing = &failingUpdates{OrderRepository: d.Orders}
		d.Orders = failing
		d.Suppliers[0].Returns = thenReveal{r, func() {
			if once.CompareAndSwap(false, true) {
				if _, err := w.app.Commands.RevealKeys.Handle(t.Context(), application.RevealCommand{Token: w.token}); err != nil {
					t.Errorf("reveal: %v", err)
				}
				failing.armed.Store(true) // the answer's record fails
			}
		}}
	})
	ctx := t.Context()
	o, err := w.orders.Get(ctx, w.orderID)
	if err != nil {
		t.Fatal(err)
	}
	ref := o.Items()[0].SupplierOrderID()
	w.clock.Advance(5 * time.Minute) // the link still reveals
	cmd := application.RefundCommand{OrderID: w.orderID, Reason: "fraud", Reference: "r-3", Actor: "admin:a"}
	if _, err := w.app.Commands.RefundOrder.Handle(ctx, cmd); err == nil {
		t.Fatal("the refund whose answer was not recorded succeeded")
	}
	if o, _ = w.orders.Get(ctx, w.orderID); !o.ReturnRequest(ref).Requested || o.ReturnRequest(ref).Answered {
		t.Fatalf("after the failed refund the return is %+v, want requested, its answer lost", o.ReturnRequest(ref))
	}
	w.clock.Advance(time.Minute)
	if _, err := w.app.Commands.RefundOrder.Handle(ctx, cmd); err != nil {
		t.Fatalf("refund tried again: %v", err)
	}
	if got := outcomes(t, w.orders, w.orderID); got[domain.KeyReturned.String()] != 1 || len(got) != 1 {
		t.Fatalf("outcomes %v, want the key returned: the supplier took it before it was revealed", got)
	}
	if o, _ = w.orders.Get(ctx, w.orderID); !o.ReturnRequest(ref).Answered || o.ReturnRequest(ref).Returned != 1 {
		t.Fatalf("the return is recorded as %+v, want answered, one key returned", o.ReturnRequest(ref))
	}
	r.mu.Lock()
	if r.asked[ref] != 2 || len(r.asked) != 1 {
		t.Errorf("return requests %v, want %s asked twice: once more for the lost answer", r.asked, ref)
	}
	r.mu.Unlock()
	recs, err := w.app.Queries.AuditTrail.Page(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, rec := range recs {
		if rec.Subject != w.orderID {
			continue
		}
		actions[rec.Action]++
		switch {
		case rec.Action == application.AuditKeyOutcome && rec.Details["outcome"] != domain.KeyReturned.String():
			t.Errorf("key outcome record %+v, want returned", rec.Details)
		case rec.Action == application.AuditReturnAnswered && rec.Details["returned"] != "1":
			t.Errorf("return answer record %+v, want one key returned", rec.Details)
		case rec.Action == application.AuditOrderRefunded && rec.Details["returned_supplier_orders"] != ref:
			t.Errorf("refund record %+v, want supplier order %s returned", rec.Details, ref)
		}
	}
	if actions[application.AuditReturnRequested] != 1 || actions[application.AuditReturnAnswered] != 1 ||
		actions[application.AuditKeyOutcome] != 1 || actions[application.AuditOrderRefunded] != 1 {
		t.Fatalf("audit actions %v, want one return request, one answer, one key outcome, one refund", actions)
	}
	return w
}

func TestRefundAfterALostAnswerAndARevealKeepsTheKeyReturned(t *testing.T) {
	t.Parallel()
	mw := newWorld(t)
	w := answerLostThenRevealedScenario(t, func(wrap func(*application.Deps)) answerLostWorld {
		o, token := deliveredToken(t, mw)
		app := mw.app(func(d *application.Deps, _ *application.Settings) { wrap(d) })
		return answerLostWorld{app: app, orders: mw.orders, clock: mw.clock, orderID: o.ID(), token: token}
	})
	if n := keyReturnedEvents(mw, w.orderID); n != 1 {
		t.Fatalf("%d key.returned events, want 1", n)
	}
}

func TestRefundAfterALostAnswerAndARevealOnPostgres(t *testing.T) {
	t.Parallel()
	answerLostThenRevealedScenario(t, func(wrap func(*application.Deps)) answerLostWorld {
		pw := newPGStockWorld(t, wrap)
		ps, err := pw.app.Queries.ListProducts.Handle(t.Context(), "", 1)
		if err != nil || len(ps.Items) == 0 {
			t.Fatalf("products: %v", err)
		}
		id, err := pw.orderPaidAndFulfilled(t, ps.Items[0].SKU())
		if err != nil {
			t.Fatal(err)
		}
		if err := pw.app.Commands.DeliverOrder.Handle(t.Context(), id); err != nil {
			t.Fatal(err)
		}
		token, _ := claimWorld{app: pw.app, orders: pw.orders, mail: pw.mail}.lastLinkToken(t)
		return answerLostWorld{app: pw.app, orders: pw.orders, clock: pw.clock, orderID: id, token: token}
	})
}
