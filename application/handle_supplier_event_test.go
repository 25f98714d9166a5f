package application_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// countingSupplier counts Keys calls: a waiting order must not poll.
type countingSupplier struct {
	ports.Supplier
	keys atomic.Int32
}

func (s *countingSupplier) Keys(ctx context.Context, id string) ([]ports.SupplierKey, error) {
	s.keys.Add(1)
	return s.Supplier.Keys(ctx, id)
}

// slowSupplierWorld is a world whose supplier delivers keys an hour after
// the purchase, on the world's clock.
func slowSupplierWorld(t *testing.T) (*world, *countingSupplier, application.App) {
	t.Helper()
	w := newWorld(t)
	w.supplier = sandbox.NewSupplier(sandbox.SupplierConfig{KeyDelay: time.Hour, Clock: func() time.Time { return w.clock.Now() }})
	cs := &countingSupplier{Supplier: w.supplier}
	return w, cs, w.app(func(d *application.Deps, _ *application.Settings) { d.Suppliers[0].Supplier = cs })
}

func item(t *testing.T, w *world, orderID string) *domain.OrderItem {
	t.Helper()
	o, err := w.orders.Get(t.Context(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	return o.Items()[0]
}

func TestFulfilOrderWaitsForKeysWithoutPolling(t *testing.T) {
	t.Parallel()
	w, cs, app := slowSupplierWorld(t)
	o := w.paidOrder(t, 1)
	for run := 1; run <= 2; run++ { // the first message, then a redelivery
		if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
			t.Fatalf("run %d: a waiting order is not an error to retry: %v", run, err)
		}
		if n := cs.keys.Load(); n != int32(run) {
			t.Fatalf("run %d: %d key requests, want one per run", run, n)
		}
	}
	if st, it := w.status(t, o.ID()), item(t, w, o.ID()); st != domain.StatusFulfilling || it.Status() != domain.ItemPurchased {
		t.Fatalf("waiting order is %s with its item %s, want fulfilling and purchased", st, it.Status())
	}
	if n := w.supplier.TotalPurchases(); n != 1 {
		t.Fatalf("%d purchases", n)
	}
	// The reconciler's slower pass finishes it once the keys are out.
	w.clock.Advance(2 * time.Hour)
	if _, err := app.Commands.Reconcile.Handle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Fatalf("after the keys came out and a reconcile pass the order is %s", st)
	}
}

func orderEvent(orderID, externalID, status string, at time.Time) []byte {
	return fmt.Appendf(nil, `{"orderId":%q,"orderExternalId":%q,"status":%q,"updatedAt":%q}`, orderID, externalID, status, at.Format("2006-01-02T15:04:05.000-07:00"))
}

func TestSupplierEventResumesAWaitingOrder(t *testing.T) {
	t.Parallel()
	w, cs, app := slowSupplierWorld(t)
	o := w.paidOrder(t, 1)
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	it := item(t, w, o.ID())
	handle := func(ctx context.Context, event, secret string, body []byte) (application.SupplierEventResult, error) {
		return app.Commands.SupplierWebhook.Handle(ctx, "sandbox", kinguinWebhook(event, secret, body))
	}
	before, _ := w.orders.Get(t.Context(), o.ID())
	at := w.clock.Now().Add(time.Minute)

	if _, err := handle(t.Context(), "order.complete", "wrong", orderEvent(it.SupplierOrderID(), it.ID(), "", at)); !errors.Is(err, ports.ErrSignatureInvalid) {
		t.Fatalf("wrong secret: %v, want ErrSignatureInvalid", err)
	}
	if _, err := handle(t.Context(), "order.status", testWebhookSecret, []byte(`{"orderId": 12`)); !errors.Is(err, ports.ErrMalformedNotice) {
		t.Fatalf("malformed body: %v, want ErrMalformedNotice", err)
	}
	res, err := handle(t.Context(), "order.status", testWebhookSecret, orderEvent(it.SupplierOrderID(), it.ID(), "processing", at.Add(5*time.Second)))
	if err != nil || res.Outcome != "ignored" {
		t.Fatalf("processing: %+v, %v", res, err)
	}
	// Delivered out of order: older than the processing notice.
	res, err = handle(t.Context(), "order.status", testWebhookSecret, orderEvent(it.SupplierOrderID(), it.ID(), "canceled", at))
	if err != nil || res.Outcome != "ignored" || !strings.Contains(res.Reason, "stale") {
		t.Fatalf("stale notice: %+v, %v; want ignored as stale", res, err)
	}
	if after, _ := w.orders.Get(t.Context(), o.ID()); after.Version() != before.Version() || cs.keys.Load() != 1 {
		t.Fatalf("refused or idle events changed the order (version %d → %d) or polled (%d key requests)", before.Version(), after.Version(), cs.keys.Load())
	}

	w.clock.Advance(2 * time.Hour) // the supplier delivers
	res, err = handle(t.Context(), "order.complete", testWebhookSecret, orderEvent(it.SupplierOrderID(), it.ID(), "", at.Add(10*time.Second)))
	if err != nil || res.Outcome != "resumed" || res.OrderID != o.ID() {
		t.Fatalf("order.complete: %+v, %v", res, err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusDelivered {
		t.Fatalf("after order.complete the order is %s, want delivered", st)
	}

	for _, c := range []struct {
		name, event string
		body        []byte
	}{
		{"stale", "order.status", orderEvent(it.SupplierOrderID(), it.ID(), "completed", at)},
		{"unknown order", "order.status", orderEvent("PXUNKNOWN", "no-such-item", "completed", at)},
		{"done order", "order.status", orderEvent(it.SupplierOrderID(), it.ID(), "completed", at.Add(time.Hour))},
		{"unhandled event", "order.created", []byte(`{}`)},
	} {
		res, err := handle(t.Context(), c.event, testWebhookSecret, c.body)
		if err != nil || res.Outcome != "ignored" || res.Reason == "" {
			t.Errorf("%s: %+v, %v; want ignored with a reason", c.name, res, err)
		}
	}
}

func TestProductUpdateRefreshesTheCatalogEntry(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	app := w.app()
	const sku = "elden-ring-steam-global"
	before, err := w.catalog.Get(t.Context(), sku)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.supplier.PlaceOrder(t.Context(), ports.PurchaseRequest{ExternalID: "elsewhere", ProductID: sku, Qty: 3, Price: before.Source().Cost}); err != nil {
		t.Fatal(err)
	}
	event := func(id string, at time.Time) []byte {
		return fmt.Appendf(nil, `{"kinguinId":48211,"productId":%q,"qty":1,"textQty":1,"cheapestOfferId":["x"],"updatedAt":%q}`, id, at.Format(time.RFC3339Nano))
	}
	at := before.UpdatedAt().Add(time.Minute)
	res, err := app.Commands.SupplierWebhook.Handle(t.Context(), "sandbox", kinguinWebhook("product.update", testWebhookSecret, event(sku, at)))
	if err != nil || res.Outcome != "refreshed" {
		t.Fatalf("product.update: %+v, %v", res, err)
	}
	after, _ := w.catalog.Get(t.Context(), sku)
	if after.Stock() != before.Stock()-3 || !after.Price().Equal(before.Price()) || !after.UpdatedAt().Equal(at) {
		t.Fatalf("refreshed entry: stock %d (was %d), price %s, updated %s", after.Stock(), before.Stock(), after.Price(), after.UpdatedAt())
	}
	for name, body := range map[string][]byte{
		"stale":           event(sku, at.Add(-time.Second)),
		"unknown product": event("no-such-product", at),
	} {
		res, err := app.Commands.SupplierWebhook.Handle(t.Context(), "sandbox", kinguinWebhook("product.update", testWebhookSecret, body))
		if err != nil || res.Outcome != "ignored" {
			t.Errorf("%s: %+v, %v; want ignored", name, res, err)
		}
	}
}

// kinguinWebhook is a webhook in Kinguin's form, as the sandbox supplier of
// these tests takes them.
func kinguinWebhook(event, secret string, body []byte) ports.SupplierWebhook {
	h := http.Header{}
	h.Set(kinguin.EventNameHeader, event)
	h.Set(kinguin.EventSecretHeader, secret)
	return ports.SupplierWebhook{Header: h.Get, Body: body}
}
