package codeswholesale_test

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

	"github.com/keyward/keyward/adapters/codeswholesale"
	"github.com/keyward/keyward/adapters/codeswholesale/codeswholesaletest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// newClient points a client with short waits at srv.
func newClient(t *testing.T, srv *codeswholesaletest.Server, mod ...func(*codeswholesale.Config)) *codeswholesale.Client {
	t.Helper()
	cfg := codeswholesale.Config{BaseURL: srv.BaseURL(), ClientID: codeswholesaletest.ClientID, ClientSecret: codeswholesaletest.ClientSecret,
		Backoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, KeysWait: 100 * time.Millisecond,
		HTTPClient: &http.Client{Timeout: 2 * time.Second}}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := codeswholesale.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSupplierContract(t *testing.T) {
	porttest.Supplier(t, func(t *testing.T) porttest.SupplierFixture {
		srv := codeswholesaletest.New(t, 4, 3)
		return porttest.SupplierFixture{
			Supplier:  newClient(t, srv),
			HoldKeys:  func() { srv.HoldKeys(true) },
			Deliver:   srv.Deliver,
			Purchases: srv.Purchases,
		}
	})
}

func request(ext, product string, qty int, price string) ports.PurchaseRequest {
	return ports.PurchaseRequest{ExternalID: ext, ProductID: product, Qty: qty, Price: domain.MustMoney(price, "EUR")}
}

// TestTokenIsCachedAndRenewedAfterA401: one token serves every call until
// CodesWholesale refuses it; the refused call is made again, once, with a
// new token. The credentials travel in the body (HTTP Basic is refused).
func TestTokenIsCachedAndRenewedAfterA401(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	c := newClient(t, srv)
	for range 3 {
		if _, err := c.Product(t.Context(), codeswholesaletest.ProductID); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Fatalf("%d tokens for 3 calls, want 1 (cached)", n)
	}
	srv.ExpireTokens()
	if _, err := c.Product(t.Context(), codeswholesaletest.ProductID); err != nil {
		t.Fatalf("call after the token expired: %v", err)
	}
	if n, m := srv.TokenRequests(), srv.Requests("GET /v3/products/"+codeswholesaletest.ProductID); n != 2 || m != 5 {
		t.Fatalf("%d tokens and %d product reads after a 401, want 2 and 5 (one retry)", n, m)
	}
	if n := srv.BasicAuthRefused(); n != 0 {
		t.Errorf("%d token requests with HTTP Basic", n)
	}
}

// TestTokenIsRenewedBeforeItExpires: a token expiring within RenewBefore
// is not used.
func TestTokenIsRenewedBeforeItExpires(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.SetTokenLifetime(30)
	c := newClient(t, srv) // RenewBefore: 60 s
	for range 2 {
		if _, err := c.Balance(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.TokenRequests(); n != 2 {
		t.Fatalf("%d tokens for 2 calls with tokens of 30 s, want 2", n)
	}
}

func TestWrongCredentialsAreFinal(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	c := newClient(t, srv, func(c *codeswholesale.Config) { c.ClientSecret = "wrong" })
	_, err := c.PlaceOrder(t.Context(), request("item-1", codeswholesaletest.ProductID, 1, "9.99"))
	if !errors.Is(err, ports.ErrSupplierPermanent) || !strings.Contains(err.Error(), "KEYWARD_CODESWHOLESALE_CLIENT_SECRET") {
		t.Fatalf("PlaceOrder with a wrong secret = %v, want a final error naming the setting", err)
	}
	if n := srv.Requests("POST /v3/orders"); n != 0 {
		t.Errorf("%d POSTs without a token", n)
	}
}

func TestProductsPagedWithUpdatedSince(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 5, 2) // extras updated 2025-03-01 01:00 .. 05:00
	c := newClient(t, srv)
	since := time.Date(2025, 3, 1, 3, 0, 0, 0, time.UTC)
	var ids []string
	q := ports.ProductQuery{UpdatedSince: since}
	for {
		page, err := c.Products(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.Products {
			ids = append(ids, p.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	// the reference product (updated 2025-03-11) and extras 3, 4, 5
	want := []string{codeswholesaletest.ProductID, codeswholesaletest.GeneratedProductID(3), codeswholesaletest.GeneratedProductID(4), codeswholesaletest.GeneratedProductID(5)}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("products since %s: %v, want %v", since, ids, want)
	}
	if n := srv.Requests("GET /v3/products"); n != 2 {
		t.Errorf("%d page requests, want 2", n)
	}
	p, err := c.Product(t.Context(), codeswholesaletest.ProductID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Example Game (Test Product)" || p.Platform != "Steam" || p.Region != "WORLDWIDE" || !p.Cost.Equal(domain.MustMoney("9.99", "EUR")) || p.Qty != 42 {
		t.Errorf("reference product = %+v", p)
	}
	if _, err := c.Product(t.Context(), "00000000-0000-0000-0000-00000000dead"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("unknown product: %v, want domain.ErrNotFound (code 20001)", err)
	}
}

// TestReferenceProductsPage reads the reference listing as it is: the
// unit price is the tier from 1, the regions as listed, and its
// continuation token is sent back as it came.
func TestReferenceProductsPage(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.Fail("GET /v3/products", codeswholesaletest.Fault{Status: 200, Body: string(codeswholesaletest.Fixture("codeswholesale-products-page.json"))})
	c := newClient(t, srv)
	page, err := c.Products(t.Context(), ports.ProductQuery{})
	if err != nil || len(page.Products) != 2 || page.Next == "" {
		t.Fatalf("reference page: %+v, %v", page, err)
	}
	if p := page.Products[1]; p.ID != codeswholesaletest.PreOrderProductID || !p.Cost.Equal(domain.MustMoney("29.99", "EUR")) || p.Qty != 0 || p.Region != "EU" {
		t.Errorf("pre-order product read as %+v", p)
	}
	// The fake server did not issue the reference token: it refuses it,
	// and the refusal is final.
	if _, err := c.Products(t.Context(), ports.ProductQuery{Cursor: page.Next}); !errors.Is(err, ports.ErrSupplierPermanent) {
		t.Errorf("next page with the reference token: %v, want a refusal", err)
	}
}

// TestOrderRequestHasTheReferenceShape: our POST /v3/orders carries the
// reference request's fields, with our item id as orderId.
func TestOrderRequestHasTheReferenceShape(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	o, err := newClient(t, srv).PlaceOrder(t.Context(), request("item-42", codeswholesaletest.ProductID, 2, "9.99"))
	if err != nil {
		t.Fatal(err)
	}
	if o.ExternalID != "item-42" || o.ID == "" || o.Status != ports.PurchasePending {
		t.Errorf("order %+v, want item-42, an id, pending (Fulfilling)", o)
	}
	var ref, ours map[string]any
	if err := json.Unmarshal(codeswholesaletest.Fixture("codeswholesale-order-request.json"), &ref); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(srv.LastOrderRequest(), &ours); err != nil {
		t.Fatal(err)
	}
	for k, v := range ref {
		if reflect.TypeOf(ours[k]) != reflect.TypeOf(v) {
			t.Errorf("%s = %#v, the reference has %#v", k, ours[k], v)
		}
	}
	line := ours["products"].([]any)[0].(map[string]any)
	for k, v := range ref["products"].([]any)[0].(map[string]any) {
		if reflect.TypeOf(line[k]) != reflect.TypeOf(v) {
			t.Errorf("products[0].%s = %#v, the reference has %#v", k, line[k], v)
		}
	}
	if ours["orderId"] != "item-42" || line["price"] != 9.99 || line["quantity"] != 2.0 || line["productId"] != codeswholesaletest.ProductID {
		t.Errorf("request %s", srv.LastOrderRequest())
	}
}

// TestAFailedPostIsLookedUpBeforeAnother: CodesWholesale does not
// de-duplicate orders, so a POST whose answer was lost is never simply
// repeated: the order is looked up by clientOrderId first, and found.
func TestAFailedPostIsLookedUpBeforeAnother(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		fault      codeswholesaletest.Fault
		wantPosts  int
		wantLookup int
	}{
		// The order was created; the client timed out (its timeout is 1 s).
		"timeout after the order was created": {codeswholesaletest.Fault{After: true, Delay: 3 * time.Second}, 1, 2},
		"502 after the order was created":     {codeswholesaletest.Fault{After: true, Status: 502}, 1, 2},
		// Nothing was created: looked up, not found, posted again.
		"503 before the order was created": {codeswholesaletest.Fault{Status: 503}, 2, 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := codeswholesaletest.New(t, 0, 0)
			srv.Fail("POST /v3/orders", c.fault)
			cl := newClient(t, srv, func(c *codeswholesale.Config) { c.HTTPClient = &http.Client{Timeout: time.Second} })
			o, err := cl.PlaceOrder(t.Context(), request("item-7", codeswholesaletest.ProductID, 1, "9.99"))
			if err != nil || o.ID == "" || o.ExternalID != "item-7" {
				t.Fatalf("PlaceOrder = %+v, %v", o, err)
			}
			if n := srv.Purchases("item-7"); n != 1 {
				t.Fatalf("%d orders for one item", n)
			}
			if p, l := srv.Requests("POST /v3/orders"), srv.Requests("GET /v3/orders"); p != c.wantPosts || l != c.wantLookup {
				t.Errorf("%d POSTs and %d history lookups, want %d and %d", p, l, c.wantPosts, c.wantLookup)
			}
			keys, err := cl.Keys(t.Context(), o.ID)
			if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Data, srv.IssuedKeys("item-7")[0].Data) {
				t.Fatalf("keys %d, %v", len(keys), err)
			}
		})
	}
}

// TestErrorsAreMappedRetryableOrFinal: balance (10002), stock (310003)
// and a withdrawn product (20001) are final, with what to do; a 5xx that
// lasts is retryable.
func TestErrorsAreMappedRetryableOrFinal(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		setup  func(*codeswholesaletest.Server)
		want   error
		code   int
		advice string
	}{
		"balance too low": {func(s *codeswholesaletest.Server) { s.SetBalance(1) }, ports.ErrSupplierPermanent, codeswholesale.CodeBalanceTooLow, "top up"},
		"stock too low":   {func(s *codeswholesaletest.Server) { s.SetStock(codeswholesaletest.ProductID, 0) }, ports.ErrSupplierPermanent, codeswholesale.CodeStockTooLow, "sync the catalog"},
		"withdrawn": {func(s *codeswholesaletest.Server) {
			s.Fail("POST /v3/orders", codeswholesaletest.Fault{Status: 404, Code: codeswholesale.CodeProductNotFound})
		}, ports.ErrSupplierPermanent, codeswholesale.CodeProductNotFound, "price list"},
		"down": {func(s *codeswholesaletest.Server) {
			s.Fail("POST /v3/orders", codeswholesaletest.Fault{Status: 503}, codeswholesaletest.Fault{Status: 503}, codeswholesaletest.Fault{Status: 503})
		}, ports.ErrSupplierTemporary, 0, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := codeswholesaletest.New(t, 0, 0)
			c.setup(srv)
			_, err := newClient(t, srv).PlaceOrder(t.Context(), request("item-e", codeswholesaletest.ProductID, 1, "9.99"))
			var ae *codeswholesale.APIError
			if !errors.Is(err, c.want) || c.code != 0 && (!errors.As(err, &ae) || ae.Code != c.code) || !strings.Contains(err.Error(), c.advice) {
				t.Fatalf("PlaceOrder = %v, want %v with code %d and advice %q", err, c.want, c.code, c.advice)
			}
			if n := srv.Purchases("item-e"); n != 0 {
				t.Errorf("%d orders after a refusal", n)
			}
		})
	}
}

// TestImageKeyReadByItsLink: an image code left out of the order is read
// from GET /v3/codes/{id} and decoded from base64.
func TestImageKeyReadByItsLink(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.ImageCodesByLink(true)
	c := newClient(t, srv)
	o, err := c.PlaceOrder(t.Context(), request("item-img", codeswholesaletest.ImageProductID, 1, "4.50"))
	if err != nil {
		t.Fatal(err)
	}
	keys, err := c.Keys(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	issued := srv.IssuedKeys("item-img")
	if len(keys) != 1 || keys[0].ContentType != "image/png" || !bytes.Equal(keys[0].Data, issued[0].Data) || !bytes.HasPrefix(keys[0].Data, []byte("\x89PNG")) {
		t.Fatalf("image key: %d keys, %q", len(keys), keys[0].ContentType)
	}
	if n := srv.Requests("GET /v3/codes/" + o.ID + "-c0-0"); n != 1 {
		t.Errorf("%d code reads, want 1", n)
	}
}

// TestPreOrderKeysComeLater: a pre-order's code holds no key until the
// release; its keys are pending until then, without polling for minutes.
func TestPreOrderKeysComeLater(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	c := newClient(t, srv, func(c *codeswholesale.Config) { c.KeysWait = time.Minute })
	o, err := c.PlaceOrder(t.Context(), request("item-pre", codeswholesaletest.PreOrderProductID, 1, "29.99"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Keys(t.Context(), o.ID); !errors.Is(err, ports.ErrKeysPending) || time.Since(start) > 10*time.Second {
		t.Fatalf("Keys of a pre-order = %v after %s, want ErrKeysPending at once", err, time.Since(start))
	}
	srv.ReleasePreOrders()
	keys, err := c.Keys(t.Context(), o.ID)
	if err != nil || len(keys) != 1 || keys[0].ContentType != "text/plain" || !bytes.Equal(keys[0].Data, srv.IssuedKeys("item-pre")[0].Data) {
		t.Fatalf("Keys after the release: %d keys, %v", len(keys), err)
	}
}

// TestFulfillingIsPolledWithBackoff: an order still Fulfilling is read
// again, then reported pending.
func TestFulfillingIsPolledWithBackoff(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.HoldKeys(true)
	c := newClient(t, srv)
	o, err := c.PlaceOrder(t.Context(), request("item-slow", codeswholesaletest.ProductID, 1, "9.99"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Keys(t.Context(), o.ID); !errors.Is(err, ports.ErrKeysPending) {
		t.Fatalf("Keys while Fulfilling = %v", err)
	}
	if n := srv.Requests("GET /v3/orders/" + o.ID); n < 2 {
		t.Errorf("%d reads of a Fulfilling order, want it polled", n)
	}
}

func TestHealthReadsTheBalance(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	c := newClient(t, srv)
	if b, err := c.Balance(t.Context()); err != nil || b != 250 {
		t.Fatalf("Balance = %v, %v; want 250 (codeswholesale-account.json)", b, err)
	}
	srv.Fail("GET /v3/accounts/current", codeswholesaletest.Fault{Status: 503})
	if err := c.Health(t.Context()); !errors.Is(err, ports.ErrSupplierTemporary) {
		t.Fatalf("Health on 503 = %v", err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, cfg := range []codeswholesale.Config{
		{ClientID: "", ClientSecret: "s"},
		{ClientID: "i", ClientSecret: ""},
		{ClientID: "i", ClientSecret: "s", BaseURL: "sandbox.codeswholesale.com"},
		{ClientID: "i", ClientSecret: "s", BaseURL: "https://u:p@sandbox.codeswholesale.com"},
	} {
		if _, err := codeswholesale.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestKeysPollingEndsBeforeTheCallersDeadline: a caller with a short
// deadline gets "pending", not its own deadline's error.
func TestKeysPollingEndsBeforeTheCallersDeadline(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.HoldKeys(true)
	c := newClient(t, srv, func(c *codeswholesale.Config) { c.KeysWait = time.Minute })
	o, err := c.PlaceOrder(t.Context(), request("item-deadline", codeswholesaletest.ProductID, 1, "9.99"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
	defer cancel()
	if _, err := c.Keys(ctx, o.ID); !errors.Is(err, ports.ErrKeysPending) || ctx.Err() != nil {
		t.Fatalf("Keys with 1.5 s left = %v (context %v), want ErrKeysPending before the deadline", err, ctx.Err())
	}
}

// TestOrderHistoryWindow: the lookup asks for the configured window up to
// tomorrow, in the official SDK's date format.
func TestOrderHistoryWindow(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	var got string
	srv.Fail("GET /v3/orders", codeswholesaletest.Fault{Status: 200, Body: `{"items":[]}`})
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	c := newClient(t, srv, func(c *codeswholesale.Config) {
		c.Now = func() time.Time { return now }
		c.HTTPClient = &http.Client{Transport: recordQuery{&got, http.DefaultTransport}, Timeout: 2 * time.Second}
	})
	if _, err := c.FindOrder(t.Context(), "item-x"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("FindOrder in an empty history = %v", err)
	}
	if got != "endOn=2026-12-08&startFrom=2026-09-08" {
		t.Errorf("history query %q, want 90 days back to tomorrow", got)
	}
}

type recordQuery struct {
	q    *string
	next http.RoundTripper
}

func (r recordQuery) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/v3/orders" {
		*r.q = req.URL.RawQuery
	}
	return r.next.RoundTrip(req)
}
