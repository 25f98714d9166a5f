package bootstrap_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/codeswholesale/codeswholesaletest"
	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// startKinguinAndCodesWholesale runs keyward buying from Kinguin (first:
// its catalog is imported at start-up) and CodesWholesale.
func startKinguinAndCodesWholesale(t *testing.T, kg *kinguintest.Server, cw *codeswholesaletest.Server, mod func(*bootstrap.Config), extra ...fx.Option) *harness {
	t.Helper()
	// The harness reads the sandbox supplier, which this process has not.
	extra = append(extra, fx.Provide(func() *sandbox.Supplier { return nil }))
	return start(t, func(c *bootstrap.Config) {
		c.Supplier = bootstrap.SupplierConfig{SupplierKinds: "kinguin,codeswholesale",
			KinguinAPIURL: kg.BaseURL(), KinguinAPIKey: kinguintest.APIKey, KinguinWebhookSecret: testKinguinSecret,
			CodesWholesale: bootstrap.CodesWholesaleConfig{CodesWholesaleAPIURL: cw.BaseURL(), CodesWholesaleClientID: codeswholesaletest.ClientID,
				CodesWholesaleClientSecret: codeswholesaletest.ClientSecret, CodesWholesaleClientSignature: codeswholesaletest.ClientSignature}}
		if mod != nil {
			mod(c)
		}
	}, extra...)
}

// syncSupplier imports one supplier's catalog and returns how many
// products it read.
func (h *harness) syncSupplier(name string) int {
	h.t.Helper()
	var out struct {
		Products int `json:"products"`
	}
	code, _, raw := h.do("POST", "/v1/admin/catalog/sync", map[string]any{"supplier": name}, map[string]string{"Authorization": "Bearer " + testAdminKey}, &out)
	if code != http.StatusOK {
		h.t.Fatalf("sync %s: %d %s", name, code, raw)
	}
	return out.Products
}

// preOrderPostback is the reference PREORDER postback for the order.
func preOrderPostback(orderID, authHash string) []byte {
	b := codeswholesaletest.Fixture("codeswholesale-postback-preorder.json")
	b = bytes.ReplaceAll(b, []byte("00000000-0000-0000-0000-0000000000a1"), []byte(orderID))
	return bytes.ReplaceAll(b, []byte("f99d6c2e157aa4924b5db4258d769d9446a7460ea31364214052a156ad6cde68"), []byte(authHash))
}

// TestCodesWholesaleAlongsideKinguin: one order with a Kinguin line, a
// CodesWholesale image key and a CodesWholesale pre-order. Each line is
// bought once, from its product's supplier; the image key is revealed as
// CodesWholesale issued it; the pre-order waits until its keys are out
// and the PREORDER postback (authenticated by authHash, read as a hint)
// finishes the order.
func TestCodesWholesaleAlongsideKinguin(t *testing.T) {
	t.Parallel()
	kg := kinguintest.New(t, 0)
	cw := codeswholesaletest.New(t, 0, 0)
	cw.SetStock(codeswholesaletest.PreOrderProductID, 5) // listed as sellable before its release
	h := startKinguinAndCodesWholesale(t, kg, cw, nil)
	h.waitCatalog(1, 20*time.Second)
	if n := h.syncSupplier("codeswholesale"); n != 3 {
		t.Fatalf("CodesWholesale sync read %d products, want 3", n)
	}
	h.waitCatalog(4, 5*time.Second)
	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code != 200 || !strings.Contains(string(raw), `"supplier.codeswholesale"`) || !strings.Contains(string(raw), `"supplier.kinguin"`) {
		t.Fatalf("readyz: %d %s", code, raw)
	}

	const email = "two-suppliers@example.com"
	o := h.placeOrder(email, line(kinguintest.ProductID, 1), line(codeswholesaletest.ImageProductID, 1), line(codeswholesaletest.PreOrderProductID, 1))
	h.pay(o)
	var got orderResp
	// The pre-ordered code makes the third a pre-order's wait, its date
	// unknown (CodesWholesale's releaseDate format is not documented).
	testkit.EventuallyWith(t, 30*time.Second, func() string { return "items " + itemStatuses(got) + ", want sealed, sealed, awaiting_release" }, func() bool {
		got = h.getOrder(o)
		return len(got.Items) == 3 && got.Items[0].Status == "sealed" && got.Items[1].Status == "sealed" && got.Items[2].Status == "awaiting_release"
	})
	kItem, imgItem, preItem := got.Items[0].ID, got.Items[1].ID, got.Items[2].ID
	if kg.Purchases(kItem) != 1 || cw.Purchases(imgItem) != 1 || cw.Purchases(preItem) != 1 || kg.Requests("POST /v2/order") != 1 || cw.Requests("POST /v3/orders") != 2 {
		t.Fatalf("purchases: Kinguin %d (%d POSTs), CodesWholesale %d and %d (%d POSTs); want each line once, at its supplier",
			kg.Purchases(kItem), kg.Requests("POST /v2/order"), cw.Purchases(imgItem), cw.Purchases(preItem), cw.Requests("POST /v3/orders"))
	}

	cwOrder := cw.OrderIDOf(preItem)
	postback := func(body []byte) int {
		code, _, _ := h.do("POST", "/v1/webhooks/codeswholesale", body, nil, nil)
		return code
	}
	if code := postback(preOrderPostback(cwOrder, strings.Repeat("0", 64))); code != http.StatusUnauthorized {
		t.Fatalf("postback with a wrong authHash: %d, want 401", code)
	}
	good := preOrderPostback(cwOrder, "f99d6c2e157aa4924b5db4258d769d9446a7460ea31364214052a156ad6cde68")
	// Before the release the postback is only a hint: the order is read
	// again, its keys are still pending.
	if code := postback(good); code != http.StatusNoContent {
		t.Fatalf("early postback: %d", code)
	}
	if st := h.getOrder(o).Items[2].Status; st != "awaiting_release" {
		t.Fatalf("after an early postback the pre-order is %s, want awaiting_release", st)
	}
	cw.ReleasePreOrders()
	if code := postback(good); code != http.StatusNoContent {
		t.Fatalf("postback after the release: %d", code)
	}
	h.waitStatus(o, "delivered", 20*time.Second)
	if cw.Purchases(preItem) != 1 || cw.Requests("POST /v3/orders") != 2 {
		t.Fatal("the pre-order was bought again")
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
	if code, _, raw := h.do("POST", "/v1/deliveries/"+h.deliveryToken(email)+"/reveal", nil, nil, &rv); code != http.StatusOK || len(rv.Items) != 3 {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	img := rv.Items[1].Keys[0]
	data, _ := base64.StdEncoding.DecodeString(img.DataBase64)
	if img.Type != "image" || img.ContentType != "image/png" || !bytes.Equal(data, cw.IssuedKeys(imgItem)[0].Data) {
		t.Errorf("image key revealed as %s %s, not as CodesWholesale issued it", img.Type, img.ContentType)
	}
	if pre := rv.Items[2].Keys[0]; pre.Type != "text" || pre.Value != string(cw.IssuedKeys(preItem)[0].Data) {
		t.Error("the pre-order's key differs from the one CodesWholesale released")
	}
	if k := rv.Items[0].Keys[0]; k.Value != string(kg.IssuedKeys(kItem)[0].Data) {
		t.Error("the Kinguin key differs from the one Kinguin issued")
	}
}

func itemStatuses(o orderResp) string {
	var s []string
	for _, it := range o.Items {
		s = append(s, it.Status)
	}
	return strings.Join(s, ", ")
}

// TestCrashAfterCodesWholesaleOrderPlaced: the process dies after
// CodesWholesale took the order and before keyward recorded it.
// CodesWholesale does not de-duplicate orders: the next process on the
// same database finds the order in the history by clientOrderId and posts
// nothing more.
func TestCrashAfterCodesWholesaleOrderPlaced(t *testing.T) {
	t.Parallel()
	url, admin := pgtest.NewDatabase(t)
	kg := kinguintest.New(t, 0)
	cw := codeswholesaletest.New(t, 0, 0)
	f := newFreezer(t)
	hook := decorateSuppliers(func(s ports.Supplier) ports.Supplier { return freezeSupplier{Supplier: s, f: f, atPlace: true} })
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) { c.DatabaseURL = url; c.KeyringFile = keyring }
	var db1 *sqlx.DB
	h1 := startKinguinAndCodesWholesale(t, kg, cw, mod, hook, fx.Populate(&db1))
	h1.waitCatalog(1, 20*time.Second)
	h1.syncSupplier("codeswholesale")
	const email = "codeswholesale-crash@example.com"
	o := h1.placeOrder(email, line(codeswholesaletest.ProductID, 2))
	h1.pay(o)
	select {
	case <-f.crashed:
	case <-time.After(15 * time.Second):
		t.Fatal("fulfilment never placed the CodesWholesale order")
	}
	item := h1.getOrder(o).Items[0]
	if item.Status != "purchasing" || cw.Purchases(item.ID) != 1 {
		t.Fatalf("at the crash the item is %s with %d CodesWholesale orders, want purchasing and 1", item.Status, cw.Purchases(item.ID))
	}
	kill(t, h1, db1, admin)

	h2 := startKinguinAndCodesWholesale(t, kg, cw, func(c *bootstrap.Config) { mod(c); c.MailDir = h1.cfg.MailDir })
	h2.waitStatus(o, "delivered", 30*time.Second)
	if n, posts := cw.Purchases(item.ID), cw.Requests("POST /v3/orders"); n != 1 || posts != 1 {
		t.Fatalf("%d CodesWholesale orders from %d POSTs after the crash, want 1 from 1", n, posts)
	}
	if kg.Requests("POST /v2/order") != 0 {
		t.Fatal("the CodesWholesale line was bought from Kinguin")
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
	issued := cw.IssuedKeys(item.ID)
	if len(rv.Items) != 1 || len(rv.Items[0].Keys) != 2 || len(issued) != 2 || rv.Items[0].Keys[0].Value != string(issued[0].Data) || rv.Items[0].Keys[1].Value != string(issued[1].Data) {
		t.Fatal("revealed keys differ from the ones CodesWholesale issued before the crash")
	}
}
