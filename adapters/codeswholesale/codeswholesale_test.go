package codeswholesale_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
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
	for name, fault := range map[string]codeswholesaletest.Fault{
		// The order was created; the client timed out (its timeout is 1 s).
		"timeout after the order was created": {After: true, Delay: 3 * time.Second},
		"502 after the order was created":     {After: true, Status: 502},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := codeswholesaletest.New(t, 0, 0)
			srv.Fail("POST /v3/orders", fault)
			cl := newClient(t, srv, func(c *codeswholesale.Config) { c.HTTPClient = &http.Client{Timeout: time.Second} })
			o, err := cl.PlaceOrder(t.Context(), request("item-7", codeswholesaletest.ProductID, 1, "9.99"))
			if err != nil || o.ID == "" || o.ExternalID != "item-7" {
				t.Fatalf("PlaceOrder = %+v, %v", o, err)
			}
			if n := srv.Purchases("item-7"); n != 1 {
				t.Fatalf("%d orders for one item", n)
			}
			if p, l := srv.Requests("POST /v3/orders"), srv.Requests("GET /v3/orders"); p != 1 || l != 2 {
				t.Errorf("%d POSTs and %d history lookups, want 1 and 2", p, l)
			}
			keys, err := cl.Keys(t.Context(), o.ID)
			if err != nil || len(keys) != 1 || !bytes.Equal(keys[0].Data, srv.IssuedKeys("item-7")[0].Data) {
				t.Fatalf("keys %d, %v", len(keys), err)
			}
		})
	}
}

// TestAnUnclearPostIsNeverPostedAgainInTheSameCall: a POST that fails
// without saying whether the order was made (here a 503 before it was,
// and a 502 after it was, with the history not listing it yet) is not
// posted again by the same call: the call is temporary, and the next one
// looks up first. Refused by then (too few keys left, say), the item is
// still temporary: the first order may exist.
func TestAnUnclearPostIsNeverPostedAgainInTheSameCall(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.Fail("POST /v3/orders", codeswholesaletest.Fault{Status: 503})
	cl := newClient(t, srv)
	_, err := cl.PlaceOrder(t.Context(), request("item-u", codeswholesaletest.ProductID, 1, "9.99"))
	if !errors.Is(err, ports.ErrSupplierTemporary) {
		t.Fatalf("PlaceOrder after a 503 = %v, want temporary", err)
	}
	if p, l := srv.Requests("POST /v3/orders"), srv.Requests("GET /v3/orders"); p != 1 || l != 2 {
		t.Fatalf("%d POSTs and %d lookups in one call after a 503, want 1 and 2", p, l)
	}
	srv.SetStock(codeswholesaletest.ProductID, 0)
	_, err = cl.PlaceOrder(t.Context(), request("item-u", codeswholesaletest.ProductID, 1, "9.99"))
	if !errors.Is(err, ports.ErrSupplierTemporary) || errors.Is(err, ports.ErrSupplierPermanent) {
		t.Fatalf("a refusal after an unanswered POST = %v, want temporary only", err)
	}
	// Stock again: the next call looks up, finds nothing, buys once.
	srv.SetStock(codeswholesaletest.ProductID, 5)
	if _, err := cl.PlaceOrder(t.Context(), request("item-u", codeswholesaletest.ProductID, 1, "9.99")); err != nil {
		t.Fatal(err)
	}
	if n := srv.Purchases("item-u"); n != 1 {
		t.Fatalf("%d orders, want 1", n)
	}
}

// TestOrderHistoryIsReadToTheEndOrUnknown: the lookup follows
// continuationToken; a listed order without clientOrderId, a page
// without items or a token that repeats make the answer unknown
// (temporary), never "not found", which would lead to a second order.
func TestOrderHistoryIsReadToTheEndOrUnknown(t *testing.T) {
	t.Parallel()
	t.Run("continuationToken followed", func(t *testing.T) {
		t.Parallel()
		srv := codeswholesaletest.New(t, 0, 0)
		cl := newClient(t, srv)
		o, err := cl.PlaceOrder(t.Context(), request("item-p", codeswholesaletest.ProductID, 1, "9.99"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		cl = newClient(t, srv, func(c *codeswholesale.Config) {
			c.HTTPClient = &http.Client{Transport: recordQueries{&got, http.DefaultTransport}, Timeout: 2 * time.Second}
		})
		srv.Fail("GET /v3/orders", codeswholesaletest.Fault{Status: 200, Body: `{"items":[{"orderId":"other","clientOrderId":"item-q","status":"Completed"}],"continuationToken":"page-2"}`})
		found, err := cl.FindOrder(t.Context(), "item-p")
		if err != nil || found.ID != o.ID {
			t.Fatalf("FindOrder on the second page = %+v, %v", found, err)
		}
		if len(got) != 2 || !strings.Contains(got[1], "continuationToken=page-2") {
			t.Fatalf("history queries %q, want the second with continuationToken=page-2", got)
		}
	})
	for name, body := range map[string]string{
		"an order without clientOrderId": `{"items":[{"orderId":"x1","status":"Completed"}]}`,
		"a page without items":           `{"continuationToken":null}`,
		"a repeated token":               `{"items":[],"continuationToken":"again"}`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := codeswholesaletest.New(t, 0, 0)
			srv.Fail("GET /v3/orders", codeswholesaletest.Fault{Status: 200, Body: body}, codeswholesaletest.Fault{Status: 200, Body: body})
			_, err := newClient(t, srv).FindOrder(t.Context(), "item-z")
			if !errors.Is(err, ports.ErrSupplierTemporary) || errors.Is(err, domain.ErrNotFound) {
				t.Fatalf("FindOrder with %s = %v, want temporary", name, err)
			}
		})
	}
}

// TestOrderHistoryAroundThePurchase: a purchase begun at a known time is
// searched for from the day before; one begun longer ago than the history
// window cannot be told bought or not: ErrPurchaseUnverifiable, and
// PlaceOrder posts nothing.
func TestOrderHistoryAroundThePurchase(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	var got string
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	c := newClient(t, srv, func(c *codeswholesale.Config) {
		c.Now = func() time.Time { return now }
		c.HTTPClient = &http.Client{Transport: recordQuery{&got, http.DefaultTransport}, Timeout: 2 * time.Second}
	})
	ctx := ports.WithPurchaseBegun(t.Context(), now.Add(-3*24*time.Hour))
	if _, err := c.FindOrder(ctx, "item-w"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("FindOrder = %v", err)
	}
	if got != "endOn=2026-12-08&startFrom=2026-12-03" {
		t.Errorf("history query %q, want from the day before the purchase began", got)
	}
	old := ports.WithPurchaseBegun(t.Context(), now.Add(-91*24*time.Hour))
	if _, err := c.PlaceOrder(old, request("item-w", codeswholesaletest.ProductID, 1, "9.99")); !errors.Is(err, ports.ErrPurchaseUnverifiable) {
		t.Fatalf("PlaceOrder for a purchase begun 91 days ago = %v, want ErrPurchaseUnverifiable", err)
	}
	if n := srv.Requests("POST /v3/orders"); n != 0 {
		t.Fatalf("%d POSTs for a purchase that cannot be looked up", n)
	}
}

type recordQueries struct {
	q    *[]string
	next http.RoundTripper
}

func (r recordQueries) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/v3/orders" && req.Method == http.MethodGet {
		*r.q = append(*r.q, req.URL.RawQuery)
	}
	return r.next.RoundTrip(req)
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
		"balance too low": {func(s *codeswholesaletest.Server) { s.SetBalance(1) }, ports.ErrBalanceTooLow, codeswholesale.CodeBalanceTooLow, "top up"},
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
			if !errors.Is(err, c.want) || c.code != 0 && (!errors.As(err, &ae) || ae.Code != c.code) || !strings.Contains(err.Error(), c.advice) ||
				!errors.Is(c.want, ports.ErrBalanceTooLow) && errors.Is(err, ports.ErrBalanceTooLow) {
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
// release; its keys are pending until then, a pre-order's wait (its date
// not read: the format is not documented), without polling for minutes.
func TestPreOrderKeysComeLater(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	c := newClient(t, srv, func(c *codeswholesale.Config) { c.KeysWait = time.Minute })
	o, err := c.PlaceOrder(t.Context(), request("item-pre", codeswholesaletest.PreOrderProductID, 1, "29.99"))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = c.Keys(t.Context(), o.ID)
	if !errors.Is(err, ports.ErrKeysPending) || time.Since(start) > 10*time.Second {
		t.Fatalf("Keys of a pre-order = %v after %s, want ErrKeysPending at once", err, time.Since(start))
	}
	if release, pre := ports.PreorderOf(err); !pre || !release.IsZero() {
		t.Errorf("Keys of a pre-order: pre-order %t, release %v; want a pre-order's wait with no date", pre, release)
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

// TestA401AfterAFreshTokenIsTemporary: CodesWholesale refusing a token it
// has just issued says nothing final about the call (the keys of a paid
// purchase must not be given up on it): temporary.
func TestA401AfterAFreshTokenIsTemporary(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	srv.Fail("GET /v3/accounts/current", codeswholesaletest.Fault{Status: 401}, codeswholesaletest.Fault{Status: 401})
	_, err := newClient(t, srv).Balance(t.Context())
	if !errors.Is(err, ports.ErrSupplierTemporary) || errors.Is(err, ports.ErrSupplierPermanent) {
		t.Fatalf("Balance refused twice with 401 = %v, want temporary", err)
	}
	if n := srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests, want 2 (one renewal)", n)
	}
}

// TestRefusedTokenIsRenewedOnceForAllCallers: calls that all see their
// token refused share one new token: a caller whose refused token was
// already replaced keeps the replacement, and callers wait for the one
// fetch under way.
func TestRefusedTokenIsRenewedOnceForAllCallers(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	c := newClient(t, srv)
	if _, err := c.Balance(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.ExpireTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := c.Product(t.Context(), codeswholesaletest.ProductID); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := srv.TokenRequests(); n != 2 {
		t.Fatalf("%d token requests for 8 callers after one expiry, want 2", n)
	}
}

// TestSpringStyleTokenAnswer: a token answer of the Spring shape (value,
// expiration) is read as well as the standard one.
func TestSpringStyleTokenAnswer(t *testing.T) {
	t.Parallel()
	srv := codeswholesaletest.New(t, 0, 0)
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	srv.Fail("POST /oauth/token", codeswholesaletest.Fault{After: true, Status: 200,
		Body: `{"value":"00000000-0000-0000-0000-000000000001","tokenType":"bearer","expiration":"` + exp + `","expiresIn":3600,"expired":false,"scope":["read"]}`})
	c := newClient(t, srv)
	for range 2 {
		if _, err := c.Balance(t.Context()); err != nil {
			t.Fatalf("Balance with a Spring-style token: %v", err)
		}
	}
	if n := srv.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests, want 1 (the Spring-style token cached)", n)
	}
}
