package bootstrap_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

const testKinguinSecret = "test-kinguin-webhook-secret"

func TestSupplierConfigNamesTheMissingVariable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"KEYWARD_SUPPLIER", "kinguin", "KEYWARD_KINGUIN_WEBHOOK_SECRET", "dev-hook"}, "KEYWARD_KINGUIN_API_KEY"},
		{[]string{"KEYWARD_SUPPLIER", "kinguin", "KEYWARD_KINGUIN_API_KEY", "k"}, "KEYWARD_KINGUIN_WEBHOOK_SECRET"},
		{[]string{"KEYWARD_SUPPLIER", "kinguin", "KEYWARD_KINGUIN_API_KEY", "k", "KEYWARD_KINGUIN_WEBHOOK_SECRET", "dev-hook",
			"KEYWARD_KINGUIN_API_URL", "gateway.kinguin.net"}, "KEYWARD_KINGUIN_API_URL"},
		{[]string{"KEYWARD_SUPPLIER", "g2a"}, "KEYWARD_SUPPLIER"},
		{[]string{"KEYWARD_SUPPLIERS", "kinguin,g2a", "KEYWARD_KINGUIN_API_KEY", "k", "KEYWARD_KINGUIN_WEBHOOK_SECRET", "dev-hook"}, "KEYWARD_SUPPLIERS"},
		{[]string{"KEYWARD_SUPPLIERS", "sandbox,sandbox"}, "KEYWARD_SUPPLIERS"},
		{[]string{"KEYWARD_SUPPLIERS", " , "}, "KEYWARD_SUPPLIERS"},
		{[]string{"KEYWARD_SUPPLIERS", "codeswholesale", "KEYWARD_CODESWHOLESALE_CLIENT_SECRET", "s"}, "KEYWARD_CODESWHOLESALE_CLIENT_ID"},
		{[]string{"KEYWARD_SUPPLIERS", "codeswholesale", "KEYWARD_CODESWHOLESALE_CLIENT_ID", "i"}, "KEYWARD_CODESWHOLESALE_CLIENT_SECRET"},
		// KEYWARD_SUPPLIERS wins over the older single-supplier variable.
		{[]string{"KEYWARD_SUPPLIER", "sandbox", "KEYWARD_SUPPLIERS", "sandbox,kinguin"}, "KEYWARD_KINGUIN_API_KEY"},
	} {
		_, err := bootstrap.LoadConfig(env(c.env...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error naming %s", c.env, err, c.want)
		}
	}
	if _, err := bootstrap.LoadConfig(env("KEYWARD_SUPPLIER", "kinguin", "KEYWARD_KINGUIN_API_KEY", "k", "KEYWARD_KINGUIN_WEBHOOK_SECRET", "dev-hook")); err != nil {
		t.Errorf("complete Kinguin settings refused: %v", err)
	}
	cfg, err := bootstrap.LoadConfig(env("KEYWARD_SUPPLIERS", " Kinguin, codeswholesale", "KEYWARD_KINGUIN_API_KEY", "k", "KEYWARD_KINGUIN_WEBHOOK_SECRET", "dev-hook",
		"KEYWARD_CODESWHOLESALE_CLIENT_ID", "i", "KEYWARD_CODESWHOLESALE_CLIENT_SECRET", "s"))
	if err != nil || !slices.Equal(cfg.Supplier.Names(), []string{"kinguin", "codeswholesale"}) {
		t.Errorf("two suppliers: %v, %v", cfg.Supplier.Names(), err)
	}
}

// startKinguin runs keyward buying from srv.
func startKinguin(t *testing.T, srv *kinguintest.Server, mod func(*bootstrap.Config), extra ...fx.Option) *harness {
	t.Helper()
	// The harness reads the sandbox supplier, which a Kinguin process has not.
	extra = append(extra, fx.Provide(func() *sandbox.Supplier { return nil }))
	return start(t, func(c *bootstrap.Config) {
		c.Supplier = bootstrap.SupplierConfig{SupplierKinds: "kinguin", KinguinAPIURL: srv.BaseURL(), KinguinAPIKey: kinguintest.APIKey,
			KinguinWebhookSecret: testKinguinSecret}
		if mod != nil {
			mod(c)
		}
	}, extra...)
}

// waitCatalog waits until the catalog lists n products.
func (h *harness) waitCatalog(n int, within time.Duration) {
	h.t.Helper()
	listed := 0
	testkit.EventuallyWith(h.t, within, func() string { return fmt.Sprintf("%d products, want %d", listed, n) }, func() bool {
		var page struct {
			Items []product `json:"items"`
		}
		if code, _, raw := h.do("GET", "/v1/products?limit=100", nil, nil, &page); code != 200 {
			h.t.Fatalf("products: %d %s", code, raw)
		}
		listed = len(page.Items)
		return listed == n
	})
}

// waitItem waits until the order's first item has the status.
func (h *harness) waitItem(o orderResp, want string, within time.Duration) orderResp {
	h.t.Helper()
	var got orderResp
	testkit.EventuallyWith(h.t, within, func() string { return fmt.Sprintf("order %s is %+v, want its item %s", o.ID, got, want) },
		func() bool {
			got = h.getOrder(o)
			return len(got.Items) > 0 && got.Items[0].Status == want
		})
	return got
}

func (h *harness) kinguinWebhook(event, secret, body string) (int, []byte) {
	h.t.Helper()
	code, _, raw := h.do("POST", "/v1/webhooks/kinguin", []byte(body), map[string]string{"X-Event-Name": event, "X-Event-Secret": secret}, nil)
	return code, raw
}

func orderStatusBody(orderID, externalID, status string, at time.Time) string {
	return fmt.Sprintf(`{"orderId":%q,"orderExternalId":%q,"status":%q,"updatedAt":%q}`, orderID, externalID, status, at.Format("2006-01-02T15:04:05.000-07:00"))
}

// TestKinguinEndToEnd: the catalog is imported from Kinguin in the
// background while keyward answers; a paid order is bought once with our
// item id, waits for its keys without a retry loop (the first supplier poll
// is 5 s away), and the order.complete webhook finishes it; wrong secrets
// change nothing, stale and unknown events are acknowledged; product.update
// refreshes the entry; readiness follows Kinguin's balance endpoint.
func TestKinguinEndToEnd(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 3)
	srv.HoldKeys(true)
	srv.ImageKeys(true)
	// The first catalog page is slow: start-up must not wait for it.
	srv.Fail("GET /v1/products", kinguintest.Fault{Delay: time.Second})
	h := startKinguin(t, srv, nil)
	var page struct {
		Items []product `json:"items"`
	}
	if code, _, raw := h.do("GET", "/v1/products", nil, nil, &page); code != 200 || len(page.Items) != 0 {
		t.Fatalf("while the import runs the catalog answers %d %s", code, raw)
	}
	h.waitCatalog(4, 20*time.Second)
	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code != 200 || !strings.Contains(string(raw), `"supplier"`) {
		t.Fatalf("readyz: %d %s", code, raw)
	}

	const email = "kinguin@example.com"
	o := h.placeOrder(email, line(kinguintest.ProductID, 2))
	h.pay(o)
	got := h.waitItem(o, "purchased", 20*time.Second)
	itemID := got.Items[0].ID
	supplierOrder := srv.OrderIDOf(itemID)
	keysRoute := "GET /v2/order/" + supplierOrder + "/keys"
	if got.Status != "fulfilling" || supplierOrder == "" {
		t.Fatalf("waiting order is %s, supplier order %q", got.Status, supplierOrder)
	}
	// Wrong secrets change nothing; unknown and stale events are acknowledged.
	at := time.Now().UTC()
	for _, c := range []struct {
		name, event, secret, body string
		want                      int
	}{
		{"no secret", "order.complete", "", orderStatusBody(supplierOrder, itemID, "completed", at), http.StatusUnauthorized},
		{"wrong secret", "order.complete", "not-" + testKinguinSecret, orderStatusBody(supplierOrder, itemID, "completed", at), http.StatusUnauthorized},
		{"unknown order", "order.status", testKinguinSecret, orderStatusBody("PXOTHER", "not-our-item", "completed", at), http.StatusNoContent},
		{"processing", "order.status", testKinguinSecret, orderStatusBody(supplierOrder, itemID, "processing", at.Add(5*time.Second)), http.StatusNoContent},
		{"stale", "order.status", testKinguinSecret, orderStatusBody(supplierOrder, itemID, "completed", at), http.StatusNoContent},
	} {
		if code, raw := h.kinguinWebhook(c.event, c.secret, c.body); code != c.want {
			t.Fatalf("%s: %d %s, want %d", c.name, code, raw, c.want)
		}
	}
	if got := h.getOrder(o); got.Status != "fulfilling" || got.Items[0].Status != "purchased" || srv.Requests(keysRoute) != 1 {
		t.Fatalf("after refused and ignored events: order %s, item %s, %d key requests (want 1: no polling)", got.Status, got.Items[0].Status, srv.Requests(keysRoute))
	}

	srv.Deliver(supplierOrder, 0)
	if code, raw := h.kinguinWebhook("order.complete", testKinguinSecret, string(kinguinComplete(t, supplierOrder, itemID, at.Add(10*time.Second)))); code != http.StatusNoContent {
		t.Fatalf("order.complete: %d %s", code, raw)
	}
	h.waitStatus(o, "delivered", 20*time.Second)
	if n := srv.TotalPurchases(); n != 1 {
		t.Fatalf("%d Kinguin orders, want 1", n)
	}
	var rv struct {
		Items []struct {
			Keys []struct {
				Type        string `json:"type"`
				Value       string `json:"value"`
				ContentType string `json:"content_type"`
				DataBase64  string `json:"data_base64"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+h.deliveryToken(email)+"/reveal", nil, nil, &rv); code != 200 {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	issued := srv.IssuedKeys(itemID)
	keys := rv.Items[0].Keys
	if len(keys) != 2 || keys[0].Value != string(issued[0].Data) || keys[1].ContentType != "image/png" {
		t.Fatalf("revealed %+v, issued a text key and a PNG", keys)
	}
	if img, err := base64.StdEncoding.DecodeString(keys[1].DataBase64); err != nil || !bytes.Equal(img, issued[1].Data) {
		t.Fatalf("the image key revealed differs from the one issued (%v)", err)
	}

	// product.update refreshes the entry; an older one is ignored.
	srv.SetProduct(kinguintest.ProductID, 4.00, 5, time.Now())
	update := func(at time.Time) string {
		return fmt.Sprintf(`{"kinguinId":48211,"productId":%q,"qty":5,"textQty":5,"cheapestOfferId":["x"],"updatedAt":%q}`, kinguintest.ProductID, at.Format(time.RFC3339Nano))
	}
	for _, at := range []time.Time{time.Now().Add(time.Second), time.Now().Add(-time.Hour)} {
		if code, raw := h.kinguinWebhook("product.update", testKinguinSecret, update(at)); code != http.StatusNoContent {
			t.Fatalf("product.update: %d %s", code, raw)
		}
	}
	var p product
	if code, _, raw := h.do("GET", "/v1/products/"+kinguintest.ProductID, nil, nil, &p); code != 200 || p.Price.Amount != "4.99" {
		t.Fatalf("after product.update: %d %s, want 4.00 × 1.10 → 4.99", code, raw)
	}

	var sync struct {
		Products int `json:"products"`
	}
	if code, _, raw := h.do("POST", "/v1/admin/catalog/sync", nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, &sync); code != 200 || sync.Products != 4 {
		t.Fatalf("admin sync: %d %s", code, raw)
	}
	srv.Fail("GET /v1/balance", kinguintest.Fault{Status: 503})
	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code != http.StatusServiceUnavailable || !strings.Contains(string(raw), `"down"`) {
		t.Fatalf("readyz with Kinguin down: %d %s", code, raw)
	}
}

// kinguinComplete is the reference order.complete event for our order.
func kinguinComplete(t *testing.T, orderID, externalID string, at time.Time) []byte {
	t.Helper()
	b := kinguintest.Fixture("kinguin-webhook-order-complete.json")
	b = bytes.ReplaceAll(b, []byte("PX7Q2LMN4RA"), []byte(orderID))
	b = bytes.ReplaceAll(b, []byte("ord_01HZX3K9Q2"), []byte(externalID))
	return bytes.ReplaceAll(b, []byte("2025-03-14T10:43:12.088+00:00"), []byte(at.Format("2006-01-02T15:04:05.000-07:00")))
}

// TestCrashAfterKinguinOrderPlaced: the process dies after Kinguin took
// the order and before keyward recorded it. The next process on the same
// database finds the order by our external id and buys nothing more.
func TestCrashAfterKinguinOrderPlaced(t *testing.T) {
	t.Parallel()
	url, admin := pgtest.NewDatabase(t)
	srv := kinguintest.New(t, 0)
	f := newFreezer(t)
	hook := decorateSuppliers(func(s ports.Supplier) ports.Supplier { return freezeSupplier{Supplier: s, f: f, atPlace: true} })
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) { c.DatabaseURL = url; c.KeyringFile = keyring }
	var db1 *sqlx.DB
	h1 := startKinguin(t, srv, mod, hook, fx.Populate(&db1))
	h1.waitCatalog(1, 20*time.Second)
	const email = "kinguin-crash@example.com"
	o := h1.placeOrder(email, line(kinguintest.ProductID, 2))
	h1.pay(o)
	select {
	case <-f.crashed:
	case <-time.After(15 * time.Second):
		t.Fatal("fulfilment never placed the Kinguin order")
	}
	item := h1.getOrder(o).Items[0]
	if item.Status != "purchasing" || srv.Purchases(item.ID) != 1 {
		t.Fatalf("at the crash the item is %s with %d Kinguin orders, want purchasing and 1", item.Status, srv.Purchases(item.ID))
	}
	kill(t, h1, db1, admin)

	h2 := startKinguin(t, srv, func(c *bootstrap.Config) { mod(c); c.MailDir = h1.cfg.MailDir })
	h2.waitStatus(o, "delivered", 30*time.Second)
	if n, posts := srv.Purchases(item.ID), srv.Requests("POST /v2/order"); n != 1 || posts != 1 {
		t.Fatalf("%d Kinguin orders from %d POSTs after the crash, want 1 from 1", n, posts)
	}
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h2.do("POST", "/v1/deliveries/"+h2.deliveryToken(email)+"/reveal", nil, nil, &rv); code != http.StatusOK {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	issued := srv.IssuedKeys(item.ID)
	if len(rv.Items) != 1 || len(rv.Items[0].Keys) != 2 || rv.Items[0].Keys[0].Value != string(issued[0].Data) || rv.Items[0].Keys[1].Value != string(issued[1].Data) {
		t.Fatal("revealed keys differ from the ones Kinguin issued before the crash")
	}
}
