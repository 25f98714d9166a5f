package application_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

func TestFulfilOrderSealsEveryKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 2, 1)
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusFulfilled {
		t.Fatalf("status %s", got.Status())
	}
	for _, it := range got.Items() {
		issued := w.supplier.IssuedKeys(it.ID())
		if it.Status() != domain.ItemSealed || len(it.Keys()) != it.Quantity() || len(issued) != it.Quantity() {
			t.Fatalf("item %s: %s with %d keys", it.SKU(), it.Status(), len(it.Keys()))
		}
		for i, k := range it.Keys() {
			ct, err := w.blobs.Get(t.Context(), k.BlobRef)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(ct), string(issued[i].Data)) {
				t.Fatalf("ciphertext contains the plaintext key")
			}
		}
	}
	// Running again (a redelivered message) buys nothing more.
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if n := w.supplier.TotalPurchases(); n != 2 {
		t.Fatalf("%d purchases, want 2", n)
	}
}

func TestFulfilOrderConcurrentRunsBuyOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1, 1, 1)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.fulfil().Handle(t.Context(), o.ID()) }()
	}
	wg.Wait()
	// Whatever interleaving happened, a final run completes the order.
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusFulfilled {
		t.Fatalf("status %s", s)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	for _, it := range got.Items() {
		if n := w.supplier.PurchaseCount(it.ID()); n != 1 {
			t.Fatalf("item %s bought %d times", it.ID(), n)
		}
	}
}

// TestFulfilOrderResumesAfterCrash stops fulfilment once the supplier has
// taken the purchase: right after the call, and right before the unit of
// work that records it with the sealed keys. The purchase was begun on the
// order before the call, so a new run finds it by our item id and seals the
// keys the supplier issued without buying again.
func TestFulfilOrderResumesAfterCrash(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		crash func(*world, *application.Deps)
	}{
		{"after the supplier call", func(w *world, d *application.Deps) {
			d.Suppliers[0].Supplier = crashAfterPlaceOrder{Supplier: w.supplier}
		}},
		{"before the purchase commits", func(w *world, d *application.Deps) { d.Orders = crashBeforePurchaseCommit{OrderRepository: w.orders} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			o := w.paidOrder(t, 2)
			crashing := w.app(func(d *application.Deps, _ *application.Settings) { tc.crash(w, d) }).Commands.FulfilOrder
			func() {
				defer func() {
					if r := recover(); r != errCrash {
						t.Fatalf("recovered %v", r)
					}
				}()
				_ = crashing.Handle(t.Context(), o.ID())
			}()
			mid, _ := w.orders.Get(t.Context(), o.ID())
			itemID := mid.Items()[0].ID()
			if mid.Status() != domain.StatusFulfilling || mid.Items()[0].Status() != domain.ItemPurchasing || w.supplier.PurchaseCount(itemID) != 1 {
				t.Fatalf("at the crash the order is %s, its item %s with %d purchases; want fulfilling, purchasing and 1",
					mid.Status(), mid.Items()[0].Status(), w.supplier.PurchaseCount(itemID))
			}
			if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
				t.Fatal(err)
			}
			got, _ := w.orders.Get(t.Context(), o.ID())
			if got.Status() != domain.StatusFulfilled {
				t.Fatalf("status %s", got.Status())
			}
			if n := w.supplier.PurchaseCount(itemID); n != 1 {
				t.Fatalf("bought %d times", n)
			}
			assertSealedIssuedKeys(t, w, got)
		})
	}
}

// assertSealedIssuedKeys opens every sealed key of o and compares it with
// the one the supplier issued for its item and slot.
func assertSealedIssuedKeys(t *testing.T, w *world, o *domain.Order) {
	t.Helper()
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	body := w.mail.sent[len(w.mail.sent)-1].Text
	const prefix = "https://keys.example/deliver/"
	token := strings.Fields(body[strings.Index(body, prefix)+len(prefix):])[0]
	rv, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range rv.Items {
		issued := w.supplier.IssuedKeys(it.ItemID)
		if len(it.Keys) != len(issued) || len(issued) == 0 {
			t.Fatalf("item %s: %d keys revealed, %d issued", it.ItemID, len(it.Keys), len(issued))
		}
		for i, k := range it.Keys {
			if string(k.Data) != string(issued[i].Data) {
				t.Fatalf("item %s: key %d differs from the issued one", it.ItemID, i)
			}
		}
	}
}

// TestFulfilOrderUnitsOfWork counts the order changes fulfilment makes: a
// supplier-bought item takes one before the supplier call (which also
// starts the order) and one after it (which also completes the order after
// the last item); an item whose keys the supplier has yet to deliver, one
// before and one recording the purchase. Fewer would be as wrong as more:
// the purchase must be begun on the order before the supplier is called.
func TestFulfilOrderUnitsOfWork(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		qty       []int
		keyDelay  time.Duration
		want      int32
		status    domain.OrderStatus
		itemState domain.ItemStatus
	}{
		{"one item", []int{2}, 0, 2, domain.StatusFulfilled, domain.ItemSealed},
		{"two items", []int{1, 2}, 0, 4, domain.StatusFulfilled, domain.ItemSealed},
		{"keys pending", []int{1}, time.Hour, 2, domain.StatusFulfilling, domain.ItemPurchased},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: tc.keyDelay, Clock: func() time.Time { return w.clock.Now() }})
			o := w.paidOrder(t, tc.qty...)
			counted := &countingOrders{OrderRepository: w.orders}
			fulfil := application.FulfilOnly(w.app(func(d *application.Deps, _ *application.Settings) { d.Orders = counted }).Commands.FulfilOrder)
			if err := fulfil.Handle(t.Context(), o.ID()); err != nil {
				t.Fatal(err)
			}
			got, _ := w.orders.Get(t.Context(), o.ID())
			if got.Status() != tc.status {
				t.Fatalf("status %s, want %s", got.Status(), tc.status)
			}
			for _, it := range got.Items() {
				if it.Status() != tc.itemState || w.supplier.PurchaseCount(it.ID()) != 1 {
					t.Fatalf("item %s is %s, bought %d times", it.ID(), it.Status(), w.supplier.PurchaseCount(it.ID()))
				}
			}
			if n := counted.updates.Load(); n != tc.want {
				t.Fatalf("%d order units of work, want %d", n, tc.want)
			}
		})
	}
}

func TestFulfilOrderWaitsForVault(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	w.vault.down.Store(true)
	err := w.fulfil().Handle(t.Context(), o.ID())
	if !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusFulfilling {
		t.Fatalf("vault outage left the order %s", s)
	}
	w.vault.down.Store(false)
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusFulfilled {
		t.Fatalf("status %s", s)
	}
}

func TestRevealAndRevoke(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.fulfilledOrder(t)
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil || len(w.mail.sent) != 1 {
		t.Fatalf("second delivery: %v, %d mails", err, len(w.mail.sent))
	}
	body := w.mail.sent[0].Text
	i := strings.Index(body, "https://keys.example/deliver/")
	token := strings.Fields(body[i+len("https://keys.example/deliver/"):])[0]

	w.vault.down.Store(true)
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("reveal with vault down: %v", err)
	}
	w.vault.down.Store(false)
	rv, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token, IP: "192.0.2.1", UserAgent: "ua"})
	if err != nil {
		t.Fatal(err)
	}
	if rv.Link.RevealsUsed() != 1 || !rv.First {
		t.Fatalf("the failed reveal consumed a reveal: used %d", rv.Link.RevealsUsed())
	}
	if string(rv.Items[0].Keys[0].Data) != string(w.supplier.IssuedKeys(rv.Items[0].ItemID)[0].Data) {
		t.Fatal("revealed key differs from the issued one")
	}

	revoke := w.app().Commands.RevokeOrder
	if _, err := revoke.Handle(t.Context(), o.ID(), "chargeback", "admin:test"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.dataKeys.Get(t.Context(), o.ID()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("data key survives revoke: %v", err)
	}
	if ok, _ := w.blobs.Exists(t.Context(), "orders/"+o.ID()+"/"+o.Items()[0].ID()+"/0"); ok {
		t.Fatal("ciphertext survives revoke")
	}

	// A crash after the order was marked revoked, before the shredding:
	// the re-run still finds and deletes the ciphertext.
	o2 := w.paidOrder(t, 2)
	if err := w.fulfil().Handle(t.Context(), o2.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.orders.Update(t.Context(), o2.ID(), func(o *domain.Order) error { return o.Revoke("crash test", w.clock.Now()) }); err != nil {
		t.Fatal(err)
	}
	ref := "orders/" + o2.ID() + "/" + o2.Items()[0].ID() + "/1"
	if ok, _ := w.blobs.Exists(t.Context(), ref); !ok {
		t.Fatal("test setup: no ciphertext to find")
	}
	if _, err := revoke.Handle(t.Context(), o2.ID(), "resume", "admin:test"); err != nil {
		t.Fatal(err)
	}
	if ok, _ := w.blobs.Exists(t.Context(), ref); ok {
		t.Fatal("a resumed revoke left the ciphertext")
	}
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); !errors.Is(err, domain.ErrLinkRevoked) {
		t.Fatalf("reveal after revoke: %v", err)
	}
	if _, err := revoke.Handle(t.Context(), o.ID(), "again", "admin:test"); err != nil {
		t.Fatalf("revoking twice: %v", err)
	}
	recs, err := w.audit.List(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions, transitions []string
	for _, r := range recs {
		switch r.Action {
		case application.AuditOrderTransition:
			if r.Subject == o.ID() {
				transitions = append(transitions, r.Details["to"])
			}
		case application.AuditDataKeyCreated, application.AuditEmailSent:
		default:
			actions = append(actions, r.Actor+" "+r.Action)
		}
	}
	// One record per revoke, written with it: re-runs (the resumed
	// shredding, the second revoke) only finish the work and add none.
	want := []string{"customer keys.revealed", "admin:test order.revoked"}
	if strings.Join(actions, ",") != strings.Join(want, ",") {
		t.Fatalf("audit trail %v, want %v", actions, want)
	}
	// Every status the use cases moved the order to is on the trail, once
	// (paidOrder pays it through the bare repository).
	if got := strings.Join(transitions, ","); got != "pending_payment,fulfilling,fulfilled,delivered,revoked" {
		t.Fatalf("order transitions on the trail: %s", got)
	}
	if n, err := w.audit.Verify(t.Context()); err != nil || n != len(recs) {
		t.Fatalf("audit chain: %d %v", n, err)
	}
}

// TestReconcileFinishesStuckOrders: an order left fulfilling (its message
// lost) and one left fulfilled (mail down) are completed by a pass; fresh
// orders are left to the pipeline.
func TestReconcileFinishesStuckOrders(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stuck := w.paidOrder(t, 1)
	if _, err := w.orders.Update(t.Context(), stuck.ID(), func(o *domain.Order) error {
		_, err := o.StartFulfilment(w.clock.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	undelivered := w.fulfilledOrder(t)
	locks := memory.NewLocks()
	rec := w.app(func(d *application.Deps, _ *application.Settings) { d.Locks = locks }).Commands.Reconcile
	if res, err := rec.Handle(t.Context()); err != nil || res.Resumed != 0 {
		t.Fatalf("fresh orders touched: %+v %v", res, err)
	}
	w.clock.Advance(2 * time.Minute)
	release, _, _ := locks.TryLock(t.Context(), "reconcile") // another process is reconciling
	if res, err := rec.Handle(t.Context()); err != nil || res.Resumed != 0 {
		t.Fatalf("a pass ran while another held the lock: %+v %v", res, err)
	}
	release()
	res, err := rec.Handle(t.Context())
	if err != nil || res.Resumed != 2 || res.Completed != 2 {
		t.Fatalf("pass: %+v %v", res, err)
	}
	for _, id := range []string{stuck.ID(), undelivered.ID()} {
		if s := w.status(t, id); s != domain.StatusDelivered {
			t.Fatalf("order %s is %s", id, s)
		}
	}
	if len(w.mail.sent) != 2 {
		t.Fatalf("%d emails, want 2", len(w.mail.sent))
	}
}

// TestDeliveryRetryRevokesEarlierLinks: a worker whose email may or may
// not have gone out releases its claim; the retry sends a new link at once
// and the earlier one stops working.
func TestDeliveryRetryRevokesEarlierLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.fulfilledOrder(t)
	failing := &failOnce{Mailer: w.mail}
	first := w.app(func(d *application.Deps, _ *application.Settings) { d.Mailer = failing }).Commands.DeliverOrder
	if err := first.Handle(t.Context(), o.ID()); err == nil {
		t.Fatal("the mail failure was swallowed")
	}
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil || w.status(t, o.ID()) != domain.StatusDelivered {
		t.Fatalf("retry after a released claim: %v, %s", err, w.status(t, o.ID()))
	}
	assertOneLiveLink(t, w, o.ID(), 2)
}

// TestDeliveryWaitsForAHeldClaim: while another worker holds a fresh claim
// nothing is sent; once its lease runs out (it died), the order is taken
// over.
func TestDeliveryWaitsForAHeldClaim(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.fulfilledOrder(t)
	if _, err := w.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		o.ClaimDelivery("stalled-worker", w.clock.Now(), 2*time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil || len(w.mail.sent) != 0 {
		t.Fatalf("delivered under someone else's fresh claim: %v, %d mails", err, len(w.mail.sent))
	}
	w.clock.Advance(3 * time.Minute)
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil || w.status(t, o.ID()) != domain.StatusDelivered {
		t.Fatalf("takeover: %v", err)
	}
	assertOneLiveLink(t, w, o.ID(), 1)
}

func assertOneLiveLink(t *testing.T, w *world, orderID string, total int) {
	t.Helper()
	links, _ := w.links.ListByOrder(t.Context(), orderID)
	live := 0
	for _, l := range links {
		if !l.Revoked() {
			live++
		}
	}
	if len(links) != total || live != 1 {
		t.Fatalf("%d links, %d live; want %d and 1", len(links), live, total)
	}
}

// failOnce fails its first Send after the message was handed over (the
// email may have gone out; the worker does not know).
type failOnce struct {
	ports.Mailer
	failed bool
}

func (f *failOnce) Send(ctx context.Context, e ports.Email) (ports.Receipt, error) {
	if !f.failed {
		f.failed = true
		_, _ = f.Mailer.Send(ctx, e)
		return ports.Receipt{}, errors.New("connection reset after DATA")
	}
	return f.Mailer.Send(ctx, e)
}

// TestFulfilOrderDeliversWhatItCompletes: the run that seals an order's
// last item delivers it (one link, one email) with no other handler; a
// run that finds the order fulfilled (a crash between the seal and the
// delivery's commit) delivers it; a run after the delivery sends nothing.
func TestFulfilOrderDeliversWhatItCompletes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fulfil := w.app().Commands.FulfilOrder
	o := w.paidOrder(t, 1, 2)
	if err := fulfil.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusDelivered || len(w.mail.sent) != 1 {
		t.Fatalf("after the run that sealed it the order is %s with %d emails, want delivered with 1", s, len(w.mail.sent))
	}
	assertOneLiveLink(t, w, o.ID(), 1)

	stopped := w.paidOrder(t, 1)
	if err := w.fulfil().Handle(t.Context(), stopped.ID()); err != nil || w.status(t, stopped.ID()) != domain.StatusFulfilled {
		t.Fatalf("fulfilment alone: %v, %s", err, w.status(t, stopped.ID()))
	}
	if err := fulfil.Handle(t.Context(), stopped.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, stopped.ID()); s != domain.StatusDelivered || len(w.mail.sent) != 2 {
		t.Fatalf("a run over a fulfilled order left it %s with %d emails in all, want delivered with 2", s, len(w.mail.sent))
	}
	for _, id := range []string{o.ID(), stopped.ID()} {
		if err := fulfil.Handle(t.Context(), id); err != nil {
			t.Fatal(err)
		}
	}
	if len(w.mail.sent) != 2 || w.supplier.TotalPurchases() != 3 {
		t.Fatalf("runs after the delivery: %d emails, %d purchases; want 2 and 3", len(w.mail.sent), w.supplier.TotalPurchases())
	}
	assertOneLiveLink(t, w, stopped.ID(), 1)
}

// TestFulfilOrderRetriesAFailedDelivery: a delivery that fails in the
// run that sealed the order fails the run, so the message is retried; the
// retry delivers it without buying again.
func TestFulfilOrderRetriesAFailedDelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	failing := &failOnce{Mailer: w.mail}
	fulfil := w.app(func(d *application.Deps, _ *application.Settings) { d.Mailer = failing }).Commands.FulfilOrder
	o := w.paidOrder(t, 1)
	if err := fulfil.Handle(t.Context(), o.ID()); err == nil {
		t.Fatal("the mail failure was swallowed")
	}
	if s := w.status(t, o.ID()); s != domain.StatusFulfilled {
		t.Fatalf("after the failed delivery the order is %s, want fulfilled", s)
	}
	if err := fulfil.Handle(t.Context(), o.ID()); err != nil || w.status(t, o.ID()) != domain.StatusDelivered {
		t.Fatalf("retry: %v, %s", err, w.status(t, o.ID()))
	}
	if n := w.supplier.TotalPurchases(); n != 1 {
		t.Fatalf("%d purchases, want 1", n)
	}
	assertOneLiveLink(t, w, o.ID(), 2)
}

// TestReconcileDeliversOnceTheClaimLapses: a worker that died holding a
// fulfilled order's delivery claim (after the seal that completed it) left
// the order to the reconciler; the order is delivered by the first pass
// after the claim's lease, even when that is before the order counts as
// stale.
func TestReconcileDeliversOnceTheClaimLapses(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.fulfilledOrder(t)
	if _, err := w.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		o.ClaimDelivery("dead-worker", w.clock.Now(), 2*time.Minute)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rec := w.app(func(d *application.Deps, s *application.Settings) {
		d.Locks = memory.NewLocks()
		s.ReconcileAfter = 10 * time.Minute
	}).Commands.Reconcile
	if res, err := rec.Handle(t.Context()); err != nil || res.Resumed != 0 || len(w.mail.sent) != 0 {
		t.Fatalf("under a held claim: %+v %v, %d mails", res, err, len(w.mail.sent))
	}
	w.clock.Advance(2*time.Minute + time.Second)
	res, err := rec.Handle(t.Context())
	if err != nil || res.Resumed != 1 || w.status(t, o.ID()) != domain.StatusDelivered {
		t.Fatalf("after the lease: %+v %v, order %s", res, err, w.status(t, o.ID()))
	}
	assertOneLiveLink(t, w, o.ID(), 1)
}
