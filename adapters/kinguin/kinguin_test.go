package kinguin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// newClient points a client with short backoffs at srv.
func newClient(t *testing.T, srv *kinguintest.Server, mod ...func(*kinguin.Config)) *kinguin.Client {
	t.Helper()
	cfg := kinguin.Config{BaseURL: srv.BaseURL(), APIKey: kinguintest.APIKey, Backoff: 5 * time.Millisecond, MaxBackoff: 2 * time.Second,
		HTTPClient: &http.Client{Timeout: 2 * time.Second}}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := kinguin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSupplierContract(t *testing.T) {
	porttest.Supplier(t, func(t *testing.T) porttest.SupplierFixture {
		srv := kinguintest.New(t, 4)
		return porttest.SupplierFixture{
			Supplier:  newClient(t, srv),
			HoldKeys:  func() { srv.HoldKeys(true) },
			Deliver:   func(id string) { srv.Deliver(id, 0) },
			Purchases: srv.Purchases,
		}
	})
}

func request(ext string, qty int, price string) ports.PurchaseRequest {
	return ports.PurchaseRequest{ExternalID: ext, ProductID: kinguintest.ProductID, Qty: qty, Price: domain.MustMoney(price, "EUR")}
}

func TestProductsPageWithUpdatedSince(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 5) // extras updated 2025-03-01 01:00 .. 05:00
	c := newClient(t, srv)
	since := time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	var ids []string
	q := ports.ProductQuery{Limit: 2, UpdatedSince: since}
	for {
		page, err := c.Products(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Products {
			ids = append(ids, p.ID)
			if p.UpdatedAt.Before(since) {
				t.Errorf("%s updated %s, before %s", p.ID, p.UpdatedAt, since)
			}
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	// extras 3, 4, 5 and the reference product (updated 2025-03-14)
	if len(ids) != 4 {
		t.Fatalf("%d products since %s: %v, want 4", len(ids), since, ids)
	}
	p, err := c.Product(t.Context(), kinguintest.ProductID)
	if err != nil {
		t.Fatal(err)
	}
	want := ports.SupplierProduct{ID: kinguintest.ProductID, Name: "Hollow Lantern Steam CD Key", Platform: "Steam", Region: "Region free",
		Cost: domain.MustMoney("3.49", "EUR"), Qty: 37, UpdatedAt: time.Date(2025, 3, 14, 9, 12, 44, 0, time.UTC)}
	if p.ID != want.ID || p.Name != want.Name || p.Platform != want.Platform || p.Region != want.Region || !p.Cost.Equal(want.Cost) ||
		p.Qty != want.Qty || !p.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("reference product = %+v, want %+v", p, want)
	}
}

func TestTextAndImageKeysArriveLate(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	srv.HoldKeys(true)
	srv.ImageKeys(true)
	c := newClient(t, srv, func(c *kinguin.Config) { c.PageSize = 1 }) // one key a page
	o, err := c.PlaceOrder(t.Context(), request("item-late", 2, "3.49"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Keys(t.Context(), o.ID); !errors.Is(err, ports.ErrKeysPending) {
		t.Fatalf("Keys before delivery = %v, want ErrKeysPending", err)
	}
	srv.Deliver(o.ID, 1)
	if _, err := c.Keys(t.Context(), o.ID); !errors.Is(err, ports.ErrKeysPending) {
		t.Fatalf("Keys with 1 of 2 out = %v, want ErrKeysPending", err)
	}
	srv.Deliver(o.ID, 1)
	// The second key page is slower than the client waits: retried.
	srv.Fail("GET /v2/order/"+o.ID+"/keys", kinguintest.Fault{}, kinguintest.Fault{Delay: 3 * time.Second})
	keys, err := c.Keys(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	issued := srv.IssuedKeys("item-late")
	if len(keys) != 2 || keys[0].ContentType != "text/plain" || keys[1].ContentType != "image/png" {
		t.Fatalf("keys %d: %+v", len(keys), keys)
	}
	for i := range keys {
		if !bytes.Equal(keys[i].Data, issued[i].Data) {
			t.Errorf("key %d differs from the one issued", i)
		}
	}
	if !bytes.HasPrefix(keys[1].Data, []byte("\x89PNG")) {
		t.Error("the image key is not decoded PNG bytes")
	}
}

func TestPlaceOrderRetriesAndNeverBuysTwice(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		faults []kinguintest.Fault
	}{
		{"429 with Retry-After", []kinguintest.Fault{{Status: 429, RetryAfter: "1", Body: `{"error":"slow down"}`}}},
		{"503", []kinguintest.Fault{{Status: 503, Body: "<html>bad gateway</html>"}}},
		{"500 kind Error", []kinguintest.Fault{{Status: 500, Kind: "Error"}}},
		{"409 ResourceLock", []kinguintest.Fault{{Status: 409, Kind: "ResourceLock"}}},
		{"timeout", []kinguintest.Fault{{Delay: 3 * time.Second}}},
		{"answer lost after the order was made", []kinguintest.Fault{{Lost: true, Status: 502}}},
		{"malformed JSON after the order was made", []kinguintest.Fault{{Lost: true, Status: 201, Body: `{"orderId": `}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := kinguintest.New(t, 0)
			srv.Fail("POST /v2/order", c.faults...)
			cl := newClient(t, srv)
			start := time.Now()
			o, err := cl.PlaceOrder(t.Context(), request("item-1", 1, "3.49"))
			if err != nil {
				t.Fatalf("PlaceOrder: %v", err)
			}
			if o.ID != srv.OrderIDOf("item-1") || srv.Purchases("item-1") != 1 {
				t.Errorf("order %s, %d purchases; want %s once", o.ID, srv.Purchases("item-1"), srv.OrderIDOf("item-1"))
			}
			if c.faults[0].RetryAfter == "1" && time.Since(start) < time.Second {
				t.Errorf("retried after %s, before Retry-After", time.Since(start))
			}
		})
	}
}

func TestErrorsAreClassified(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		fault  kinguintest.Fault
		want   error
		reason string
	}{
		{"constraint violation (reference body)", kinguintest.Fault{Status: 400, Body: string(kinguintest.Fixture("kinguin-error.json"))}, ports.ErrSupplierPermanent, "ConstraintViolation"},
		{"order failed (observed body)", kinguintest.Fault{Status: 422, Body: string(kinguintest.Fixture("kinguin-error-observed.json"))}, ports.ErrSupplierPermanent, "OrderFailed"},
		{"insufficient balance", kinguintest.Fault{Status: 400, Kind: "InsufficientBalance"}, ports.ErrBalanceTooLow, "top up"},
		{"balance required (legacy kind)", kinguintest.Fault{Status: 422, Kind: "BalanceRequired"}, ports.ErrBalanceTooLow, "top up"},
		{"product unavailable", kinguintest.Fault{Status: 400, Kind: "ProductUnavailable"}, ports.ErrSupplierPermanent, "ProductUnavailable"},
		{"5xx every time", kinguintest.Fault{Status: 502}, ports.ErrSupplierTemporary, "502"},
		{"Retry-After longer than we wait", kinguintest.Fault{Status: 429, RetryAfter: "120"}, ports.ErrSupplierTemporary, "429"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := kinguintest.New(t, 0)
			srv.Fail("POST /v2/order", c.fault, c.fault, c.fault)
			_, err := newClient(t, srv).PlaceOrder(t.Context(), request("item-1", 1, "3.49"))
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.reason) ||
				!errors.Is(c.want, ports.ErrBalanceTooLow) && errors.Is(err, ports.ErrBalanceTooLow) {
				t.Fatalf("PlaceOrder = %v, want %v saying %q", err, c.want, c.reason)
			}
			if n := srv.Purchases("item-1"); n != 0 {
				t.Errorf("%d purchases", n)
			}
		})
	}
}

func TestRealRefusals(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	c := newClient(t, srv)
	srv.SetBalance(1)
	_, err := c.PlaceOrder(t.Context(), request("poor", 1, "3.49"))
	if !errors.Is(err, ports.ErrSupplierPermanent) || !strings.Contains(err.Error(), "top up") {
		t.Errorf("order beyond the balance = %v, want a final error saying to top up", err)
	}
	bad, err := kinguin.New(kinguin.Config{BaseURL: srv.BaseURL(), APIKey: "wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Health(t.Context()); !errors.Is(err, ports.ErrSupplierPermanent) || !strings.Contains(err.Error(), "KEYWARD_KINGUIN_API_KEY") {
		t.Errorf("Health with a wrong key = %v", err)
	}
	srv.RemoveProduct(kinguintest.ProductID)
	if _, err := c.Product(t.Context(), kinguintest.ProductID); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("Product of a removed product = %v, want not found", err)
	}
}

func TestMalformedAnswersRetry(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 2)
	srv.Fail("GET /v1/products", kinguintest.Fault{Status: 200, Body: `{"results": [`}, kinguintest.Fault{Status: 200, Body: `not json`})
	page, err := newClient(t, srv).Products(t.Context(), ports.ProductQuery{})
	if err != nil || len(page.Products) != 3 {
		t.Fatalf("Products after two malformed answers: %d, %v", len(page.Products), err)
	}
	srv.Fail("GET /v1/products", kinguintest.Fault{Status: 200, Body: `[]x`}, kinguintest.Fault{Status: 200, Body: `[]x`}, kinguintest.Fault{Status: 200, Body: `[]x`})
	if _, err := newClient(t, srv).Products(t.Context(), ports.ProductQuery{}); !errors.Is(err, ports.ErrSupplierTemporary) {
		t.Fatalf("Products while malformed = %v, want ErrSupplierTemporary", err)
	}
}

func TestHealthReadsTheBalanceOnce(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	c := newClient(t, srv)
	if b, err := c.Balance(t.Context()); err != nil || b != 152.37 {
		t.Fatalf("Balance = %v, %v; want 152.37 (kinguin-balance.json)", b, err)
	}
	srv.Fail("GET /v1/balance", kinguintest.Fault{Status: 503})
	if err := c.Health(t.Context()); !errors.Is(err, ports.ErrSupplierTemporary) {
		t.Fatalf("Health on 503 = %v", err)
	}
	if n := srv.Requests("GET /v1/balance"); n != 2 {
		t.Errorf("%d balance requests, want 2: a health check does not retry", n)
	}
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	srv.Fail("GET /v1/order/", kinguintest.Fault{Status: 503}, kinguintest.Fault{Status: 503}, kinguintest.Fault{Status: 503})
	c := newClient(t, srv, func(c *kinguin.Config) { c.Backoff = time.Second })
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Order(ctx, "PX"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Order with a short deadline = %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []kinguin.Config{
		{APIKey: ""},
		{APIKey: "k", BaseURL: "gateway.kinguin.net/esa/api"},
		{APIKey: "k", BaseURL: "https://user:pass@gateway.kinguin.net/esa/api"},
	} {
		if _, err := kinguin.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

func TestWrongKeyIsFinalForOrdersToo(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	c, err := kinguin.New(kinguin.Config{BaseURL: srv.BaseURL(), APIKey: "wrong", Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.PlaceOrder(t.Context(), request("item-1", 1, "3.49"))
	if !errors.Is(err, ports.ErrSupplierPermanent) || !strings.Contains(err.Error(), "KEYWARD_KINGUIN_API_KEY") {
		t.Fatalf("PlaceOrder with a wrong key = %v, want a final error naming the key setting", err)
	}
	if n := srv.Requests("POST /v2/order"); n != 1 {
		t.Errorf("%d POSTs with a wrong key, want 1", n)
	}
}

// TestOrderRequestHasTheReferenceShape: our POST /v2/order carries the
// reference request's fields, with our item id as orderExternalId and the
// price as a JSON number; keyType is left out so image keys may come.
func TestOrderRequestHasTheReferenceShape(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	if _, err := newClient(t, srv).PlaceOrder(t.Context(), request("item-42", 2, "3.49")); err != nil {
		t.Fatal(err)
	}
	var ref, ours struct {
		Products        []map[string]any `json:"products"`
		OrderExternalID string           `json:"orderExternalId"`
	}
	if err := json.Unmarshal(kinguintest.Fixture("kinguin-order-request-v2.json"), &ref); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(srv.LastOrderRequest(), &ours); err != nil {
		t.Fatal(err)
	}
	if ours.OrderExternalID != "item-42" || len(ours.Products) != 1 {
		t.Fatalf("request %s", srv.LastOrderRequest())
	}
	for k, v := range ref.Products[0] {
		if k == "keyType" || k == "offerId" {
			continue // optional: any key type, the cheapest offer at our price
		}
		if got, ok := ours.Products[0][k]; !ok || reflect.TypeOf(got) != reflect.TypeOf(v) {
			t.Errorf("products[0].%s = %#v, the reference has %#v", k, got, v)
		}
	}
	if ours.Products[0]["price"] != 3.49 || ours.Products[0]["productId"] != kinguintest.ProductID {
		t.Errorf("line %v", ours.Products[0])
	}
}

// TestReferenceProductsPage reads the reference listing as it is.
func TestReferenceProductsPage(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	srv.Fail("GET /v1/products", kinguintest.Fault{Status: 200, Body: string(kinguintest.Fixture("kinguin-products-page.json"))})
	page, err := newClient(t, srv).Products(t.Context(), ports.ProductQuery{})
	if err != nil || len(page.Products) != 1 || page.Next != "" {
		t.Fatalf("reference page: %+v, %v", page, err)
	}
	if p := page.Products[0]; p.ID != kinguintest.ProductID || !p.Cost.Equal(domain.MustMoney("3.49", "EUR")) || p.Qty != 37 || p.Region != "Region free" {
		t.Errorf("reference product read as %+v", p)
	}
}
