package http

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
)

const adminAuth = "Authorization: Bearer " + testAdminKey

// problemBody is an RFC 9457 problem as the API writes it.
type problemBody struct {
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
	} `json:"errors"`
}

// wantProblem fails unless resp is a problem+json document with status and,
// when detail is not empty, that detail.
func wantProblem(t *testing.T, resp *httptest.ResponseRecorder, status int, detail string) problemBody {
	t.Helper()
	if resp.Code != status {
		t.Fatalf("status %d, want %d: %s", resp.Code, status, resp.Body)
	}
	if ct := resp.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("content type %q, want application/problem+json", ct)
	}
	var p problemBody
	if err := json.Unmarshal(resp.Body.Bytes(), &p); err != nil {
		t.Fatalf("not a problem document: %v: %s", err, resp.Body)
	}
	if p.Status != status || p.Title == "" {
		t.Fatalf("problem %+v, want status %d and a title", p, status)
	}
	if detail != "" && p.Detail != detail {
		t.Fatalf("detail %q, want %q", p.Detail, detail)
	}
	return p
}

// placedOrder is an order placed through the API.
type placedOrder struct {
	ID          string `json:"id"`
	AccessToken string `json:"access_token"`
	Status      string `json:"status"`
}

func placeOrder(t *testing.T, api humatest.TestAPI, sku string) placedOrder {
	t.Helper()
	resp := api.Post("/v1/orders", map[string]any{"email": "buyer@example.com", "items": []any{map[string]any{"sku": sku, "quantity": 1}}})
	if resp.Code != 201 {
		t.Fatalf("place order: %d %s", resp.Code, resp.Body)
	}
	var o placedOrder
	if err := json.Unmarshal(resp.Body.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// deliveredOrder places an order, pays it with a signed IPN through the
// API, fulfils and delivers it, and returns it with the token of the link
// that was emailed.
func deliveredOrder(t *testing.T, api humatest.TestAPI, w *testWorld, app application.App) (placedOrder, string) {
	t.Helper()
	o := paidOrder(t, api, w, app, "cyberpunk-2077-gog-global")
	if err := app.Commands.DeliverOrder.Handle(t.Context(), o.ID); err != nil {
		t.Fatalf("deliver: %v", err)
	}
	mail, ok := w.mail.last()
	if !ok {
		t.Fatal("no delivery email")
	}
	m := regexp.MustCompile(`/deliver/([A-Za-z0-9_-]+)`).FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("no link in %q", mail.Text)
	}
	return o, m[1]
}

// paidOrder places an order for one key of sku, pays it with a signed IPN
// through the API and runs its fulfilment once.
func paidOrder(t *testing.T, api humatest.TestAPI, w *testWorld, app application.App, sku string) placedOrder {
	t.Helper()
	o := placeOrder(t, api, sku)
	p, ok := w.gateway.PaymentGateway.(*sandbox.Gateway).Payment(o.ID)
	if !ok {
		t.Fatalf("no sandbox payment for %s", o.ID)
	}
	body := sandbox.IPNBody(p, "finished", p.PayAmount, w.clock.Now())
	sig, err := nowpayments.Sign(testIPNSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	if resp := api.Post("/v1/webhooks/nowpayments", "Content-Type: application/json", nowpayments.SignatureHeader+": "+sig, strings.NewReader(string(body))); resp.Code != 200 {
		t.Fatalf("IPN: %d %s", resp.Code, resp.Body)
	}
	if err := app.Commands.FulfilOrder.Handle(t.Context(), o.ID); err != nil {
		t.Fatalf("fulfil: %v", err)
	}
	return o
}

// expire moves the test clock past a link's lifetime.
func (w *testWorld) expire() { w.clock.Advance(testLinkTTL + time.Minute) }
