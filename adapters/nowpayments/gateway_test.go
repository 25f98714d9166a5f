package nowpayments_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/nowpayments/nowpaymentstest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

const (
	apiKey      = "np-test-api-key-0123456789"
	callbackURL = "https://shop.example/v1/webhooks/nowpayments"
)

func newGateway(t *testing.T, apiURL string, timeout time.Duration) *nowpayments.Gateway {
	t.Helper()
	g, err := nowpayments.NewGateway(nowpayments.GatewayConfig{APIURL: apiURL, APIKey: apiKey, PayCurrency: "BTC", CallbackURL: callbackURL, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGatewayContract(t *testing.T) {
	t.Parallel()
	porttest.PaymentGateway(t, func(t *testing.T) porttest.PaymentGatewayHarness {
		srv := nowpaymentstest.New(t, apiKey)
		return porttest.PaymentGatewayHarness{Gateway: newGateway(t, srv.URL, 5*time.Second), SetDown: srv.SetDown}
	})
}

// TestCreatePaymentRequest: the request carries what the documentation
// asks for, the key in its header, and the answer fills the payment.
func TestCreatePaymentRequest(t *testing.T) {
	t.Parallel()
	srv := nowpaymentstest.New(t, apiKey)
	g := newGateway(t, srv.URL+"/", 5*time.Second)
	p, err := g.CreatePayment(t.Context(), ports.PaymentRequest{OrderID: "019a-ord", Price: domain.MustMoney("17.49", "EUR"), Description: "keyward order 019a-ord"})
	if err != nil {
		t.Fatal(err)
	}
	reqs := srv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1/payment" || r.APIKey != apiKey {
		t.Fatalf("request %s %s key %q", r.Method, r.Path, r.APIKey)
	}
	want := map[string]any{"price_amount": json.Number("17.49"), "price_currency": "eur", "pay_currency": "btc",
		"order_id": "019a-ord", "ipn_callback_url": callbackURL, "order_description": "keyward order 019a-ord"}
	for k, v := range want {
		if r.Body[k] != v {
			t.Errorf("%s = %#v, want %#v", k, r.Body[k], v)
		}
	}
	issued := srv.Payments("019a-ord")
	if len(issued) != 1 {
		t.Fatalf("%d payments issued", len(issued))
	}
	if p.Provider != "nowpayments" || p.PaymentID != issued[0].ID || p.PayAddress != issued[0].PayAddress ||
		!p.PayAmount.Equal(issued[0].PayAmount) || p.PayCurrency != "btc" || p.Status != domain.PaymentWaiting {
		t.Fatalf("payment %+v, issued %+v", p, issued[0])
	}
}

// TestAnswersParsedExactly: ids and amounts are read as sent, as strings or
// numbers, without passing through float64.
func TestAnswersParsedExactly(t *testing.T) {
	t.Parallel()
	var answer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(answer))
	}))
	t.Cleanup(srv.Close)
	g := newGateway(t, srv.URL, 5*time.Second)

	answer = `{"payment_id":"9007199254740993","payment_status":"waiting","pay_address":"r9cZA1",` +
		`"payin_extra_id":"2718281828","pay_amount":"0.100000000000000000000000001","pay_currency":"xrp","order_id":"o-1"}`
	p, err := g.CreatePayment(t.Context(), ports.PaymentRequest{OrderID: "o-1", Price: domain.MustMoney("1.00", "EUR")})
	if err != nil {
		t.Fatal(err)
	}
	if p.PaymentID != "9007199254740993" || p.PayAmount.String() != "0.100000000000000000000000001" || p.PayinExtraID != "2718281828" {
		t.Fatalf("payment %+v", p)
	}

	answer = `{"payment_id":9007199254740993,"parent_payment_id":9007199254740992,"payment_status":"finished",` +
		`"price_amount":1,"price_currency":"eur","pay_amount":0.100000000000000000000000001,` +
		`"actually_paid":1e-7,"pay_currency":"XRP","order_id":"o-1"}`
	st, err := g.GetPayment(t.Context(), "9007199254740993")
	if err != nil {
		t.Fatal(err)
	}
	u := st.Update
	if u.PaymentID != "9007199254740993" || u.ParentPaymentID != "9007199254740992" || u.Status != domain.PaymentFinished ||
		u.PayAmount.String() != "0.100000000000000000000000001" || !u.ActuallyPaid.Equal(decimal.RequireFromString("0.0000001")) ||
		u.PriceCurrency != "EUR" || u.PayCurrency != "xrp" || st.OrderID != "o-1" {
		t.Fatalf("state %+v", st)
	}

	answer = `{"payment_id":9007199254740993,"payment_status":"wrong_asset_confirmed","order_id":"o-1"}`
	if st, err := g.GetPayment(t.Context(), "9007199254740993"); err != nil || st.Status != "wrong_asset_confirmed" || !st.Update.Status.IsZero() {
		t.Fatalf("unknown status: %+v %v", st, err)
	}
}

// TestGatewayFailures: each documented failure is classified so that the
// application knows whether to keep the order and retry, or refuse it.
func TestGatewayFailures(t *testing.T) {
	t.Parallel()
	okCreate := ports.PaymentRequest{OrderID: "o-1", Price: domain.MustMoney("19.99", "EUR")}
	cases := []struct {
		name   string
		fault  nowpaymentstest.Fault
		req    ports.PaymentRequest
		key    string
		want   error
		detail string
	}{
		{name: "400 with the documented error body", req: ports.PaymentRequest{OrderID: "o-1", Price: domain.MustMoney("0.10", "EUR")},
			want: ports.ErrPaymentRefused, detail: "amountTo is too small"},
		{name: "422 invalid params", fault: nowpaymentstest.Fault{Status: 422, Body: `{"status":false,"statusCode":422,"code":"INVALID_REQUEST_PARAMS","message":"pay_currency is not supported"}`},
			want: ports.ErrPaymentRefused, detail: "INVALID_REQUEST_PARAMS"},
		{name: "wrong API key", key: "wrong-key", want: ports.ErrGatewayUnavailable, detail: "KEYWARD_NOWPAYMENTS_API_KEY"},
		{name: "429", fault: nowpaymentstest.Fault{Status: 429, RetryAfter: "7"}, want: ports.ErrGatewayUnavailable, detail: "retry after 7"},
		{name: "500", fault: nowpaymentstest.Fault{Status: 500}, want: ports.ErrGatewayUnavailable},
		{name: "502 without a JSON body", fault: nowpaymentstest.Fault{Status: 502, Body: "<html>Bad Gateway</html>"}, want: ports.ErrGatewayUnavailable},
		{name: "503", fault: nowpaymentstest.Fault{Status: 503}, want: ports.ErrGatewayUnavailable},
		{name: "malformed JSON", fault: nowpaymentstest.Fault{Status: 201, Body: `{"payment_id":"5745459420","pay_address":`}, want: ports.ErrGatewayUnavailable},
		{name: "an answer without an address", fault: nowpaymentstest.Fault{Status: 201, Body: `{"payment_id":"5745459420","pay_amount":0.1}`}, want: ports.ErrGatewayUnavailable},
		{name: "an amount as a float the decimal cannot read", fault: nowpaymentstest.Fault{Status: 201, Body: `{"payment_id":"1","pay_address":"a","pay_amount":true}`}, want: ports.ErrGatewayUnavailable},
		{name: "timeout", fault: nowpaymentstest.Fault{Hang: 5 * time.Second}, want: ports.ErrGatewayUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := nowpaymentstest.New(t, apiKey)
			key := apiKey
			if c.key != "" {
				key = c.key
			}
			g, err := nowpayments.NewGateway(nowpayments.GatewayConfig{APIURL: srv.URL, APIKey: key, PayCurrency: "btc", CallbackURL: callbackURL, Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if c.fault != (nowpaymentstest.Fault{}) {
				srv.FailNext(c.fault)
			}
			req := okCreate
			if c.req.OrderID != "" {
				req = c.req
			}
			_, err = g.CreatePayment(t.Context(), req)
			other := ports.ErrPaymentRefused
			if c.want == ports.ErrPaymentRefused {
				other = ports.ErrGatewayUnavailable
			}
			if !errors.Is(err, c.want) || errors.Is(err, other) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), c.detail) {
				t.Fatalf("err %q does not say %q", err, c.detail)
			}
			if strings.Contains(err.Error(), key) {
				t.Fatalf("the error shows the API key: %v", err)
			}
		})
	}
}

func TestGetPaymentFailures(t *testing.T) {
	t.Parallel()
	srv := nowpaymentstest.New(t, apiKey)
	g := newGateway(t, srv.URL, 300*time.Millisecond)
	p, err := g.CreatePayment(t.Context(), ports.PaymentRequest{OrderID: "o-1", Price: domain.MustMoney("19.99", "EUR")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		fault nowpaymentstest.Fault
		want  error
	}{
		{"400 is not a refusal here", nowpaymentstest.Fault{Status: 400}, ports.ErrGatewayUnavailable},
		{"404 with the documented body", nowpaymentstest.Fault{Status: 404, Body: string(nowpaymentstest.Payload("error-not-found.json"))}, domain.ErrNotFound},
		{"another payment's answer", nowpaymentstest.Fault{Status: 200, Body: `{"payment_id":1,"payment_status":"finished"}`}, ports.ErrGatewayUnavailable},
		{"an amount that is no number", nowpaymentstest.Fault{Status: 200, Body: `{"payment_id":` + p.PaymentID + `,"actually_paid":"lots"}`}, ports.ErrGatewayUnavailable},
		{"an absurd exponent", nowpaymentstest.Fault{Status: 200, Body: `{"payment_id":` + p.PaymentID + `,"actually_paid":1e999999999}`}, ports.ErrGatewayUnavailable},
		{"timeout", nowpaymentstest.Fault{Hang: 5 * time.Second}, ports.ErrGatewayUnavailable},
	} {
		srv.FailNext(c.fault)
		if _, err := g.GetPayment(t.Context(), p.PaymentID); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
	}
	// Nothing was left queued: the next call is served.
	srv.SetStatus(p.PaymentID, "confirming", decimal.Zero)
	if st, err := g.GetPayment(t.Context(), p.PaymentID); err != nil || st.Update.Status != domain.PaymentConfirming {
		t.Fatalf("after the faults: %+v %v", st, err)
	}
	for _, r := range srv.Requests() {
		if r.Method == http.MethodGet && (r.Path != "/v1/payment/"+p.PaymentID || r.APIKey != apiKey) {
			t.Fatalf("GET %s with key %q", r.Path, r.APIKey)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := nowpaymentstest.New(t, apiKey)
	g := newGateway(t, srv.URL, 300*time.Millisecond)
	if err := g.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.FailNext(nowpaymentstest.Fault{Status: 500})
	if err := g.Health(t.Context()); !errors.Is(err, ports.ErrGatewayUnavailable) {
		t.Fatalf("health on 500: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	srv.FailNext(nowpaymentstest.Fault{Hang: 5 * time.Second})
	if err := g.Health(ctx); err == nil {
		t.Fatal("health nil on a hanging server")
	}
}

func TestNewGatewayValidates(t *testing.T) {
	t.Parallel()
	ok := nowpayments.GatewayConfig{APIKey: apiKey, PayCurrency: "btc", CallbackURL: callbackURL}
	if _, err := nowpayments.NewGateway(ok); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(*nowpayments.GatewayConfig){
		"no key":      func(c *nowpayments.GatewayConfig) { c.APIKey = "" },
		"no coin":     func(c *nowpayments.GatewayConfig) { c.PayCurrency = "" },
		"no callback": func(c *nowpayments.GatewayConfig) { c.CallbackURL = "" },
		"bad URL":     func(c *nowpayments.GatewayConfig) { c.APIURL = "ftp://x" },
	} {
		c := ok
		change(&c)
		if _, err := nowpayments.NewGateway(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
