package bootstrap_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/nowpayments/nowpaymentstest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
)

func TestPaymentsConfig(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) (string, bool) {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cfg, err := bootstrap.LoadConfig(env("KEYWARD_PAYMENTS", "nowpayments", "KEYWARD_NOWPAYMENTS_API_KEY", "k-123",
		"KEYWARD_NOWPAYMENTS_API_URL", "https://api-sandbox.nowpayments.io", "KEYWARD_NOWPAYMENTS_PAY_CURRENCY", "usdttrc20",
		"KEYWARD_NOWPAYMENTS_CONFIRM", "true"))
	p := cfg.Payments
	if err != nil || !p.NOWPayments() || p.NOWPaymentsAPIKey != "k-123" || p.NOWPaymentsAPIURL != "https://api-sandbox.nowpayments.io" ||
		p.NOWPaymentsPayCurrency != "usdttrc20" || !p.NOWPaymentsConfirm {
		t.Fatalf("parsed %+v, %v", p, err)
	}
	for _, c := range []struct {
		env  []string
		name string
	}{
		{[]string{"KEYWARD_PAYMENTS", "nowpayments"}, "KEYWARD_NOWPAYMENTS_API_KEY"},
		{[]string{"KEYWARD_PAYMENTS", "nowpayments", "KEYWARD_NOWPAYMENTS_API_KEY", "  "}, "KEYWARD_NOWPAYMENTS_API_KEY"},
		{[]string{"KEYWARD_PAYMENTS", "stripe"}, "KEYWARD_PAYMENTS"},
		{[]string{"KEYWARD_PAYMENTS", "nowpayments", "KEYWARD_NOWPAYMENTS_API_KEY", "k", "KEYWARD_NOWPAYMENTS_API_URL", "api.nowpayments.io"}, "KEYWARD_NOWPAYMENTS_API_URL"},
		{[]string{"KEYWARD_PAYMENTS", "nowpayments", "KEYWARD_NOWPAYMENTS_API_KEY", "k", "KEYWARD_NOWPAYMENTS_API_URL", "https://u:p@x"}, "KEYWARD_NOWPAYMENTS_API_URL"},
		{[]string{"KEYWARD_NOWPAYMENTS_CONFIRM", "maybe"}, "KEYWARD_NOWPAYMENTS_CONFIRM"},
	} {
		if _, err := bootstrap.LoadConfig(env(c.env...)); err == nil || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%v: %v, want an error naming %s", c.env, err, c.name)
		}
	}
	// The sandbox needs no key.
	if _, err := bootstrap.LoadConfig(env("KEYWARD_PAYMENTS", "sandbox")); err != nil {
		t.Errorf("sandbox: %v", err)
	}
	for _, s := range bootstrap.Settings(cfg, env("KEYWARD_NOWPAYMENTS_API_KEY", "k-123")) {
		if s.Name == "KEYWARD_NOWPAYMENTS_API_KEY" && s.Value == "k-123" {
			t.Error("the API key is shown unmasked")
		}
	}
}

func TestNOWPaymentsGraph(t *testing.T) {
	t.Parallel()
	cfg := bootstrap.Defaults()
	cfg.Payments.PaymentsGateway, cfg.Payments.NOWPaymentsAPIKey = "nowpayments", "k"
	if err := fx.ValidateApp(bootstrap.Options(cfg)); err != nil {
		t.Fatal(err)
	}
}

// TestNOWPaymentsEndToEnd runs keyward with KEYWARD_PAYMENTS=nowpayments
// against a fake of the NOWPayments API: readiness follows the status
// endpoint; an order placed while the API is down is answered 202 and gets
// its payment, with our callback URL, once the API is back; the signed IPN
// of that payment then delivers it. On Postgres only the order placed
// while the API was down puts order.placed on the queue, which set-up-payment
// consumes: one whose payment was set up at placement has nothing to ask.
func TestNOWPaymentsEndToEnd(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		nowPaymentsEndToEnd(t, nil, func(*bootstrap.Config) {})
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url, db := pgtest.NewDatabase(t)
		nowPaymentsEndToEnd(t, db, withPostgres(url))
	})
}

func nowPaymentsEndToEnd(t *testing.T, db *sqlx.DB, mod func(*bootstrap.Config)) {
	const key = "np-e2e-api-key-0123456789"
	srv := nowpaymentstest.New(t, key)
	h := start(t, func(c *bootstrap.Config) {
		mod(c)
		c.Payments = bootstrap.PaymentsConfig{PaymentsGateway: "nowpayments", NOWPaymentsAPIURL: srv.URL, NOWPaymentsAPIKey: key,
			NOWPaymentsPayCurrency: "btc", NOWPaymentsConfirm: true}
	})
	ready := func() (int, string) {
		code, _, raw := h.do("GET", "/readyz", nil, nil, nil)
		return code, string(raw)
	}
	if code, body := ready(); code != http.StatusOK || !strings.Contains(body, `"name":"payments"`) {
		t.Fatalf("readyz: %d %s", code, body)
	}

	srv.SetDown(true)
	if code, body := ready(); code != http.StatusServiceUnavailable || !strings.Contains(body, `"name":"payments","status":"down"`) {
		t.Fatalf("readyz with the API down: %d %s", code, body)
	}
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	var placed struct {
		orderResp
		Payment struct {
			Status string `json:"status"`
			Hint   string `json:"hint"`
		} `json:"payment"`
	}
	code, _, raw := h.do("POST", "/v1/orders", map[string]any{"email": "np@example.com", "items": []any{line(sku, 1)}}, nil, &placed)
	if code != http.StatusAccepted || placed.Status != "awaiting_payment_setup" || placed.Payment.Status != "not_set_up" || placed.Payment.Hint == "" {
		t.Fatalf("order while the API is down: %d %s", code, raw)
	}
	srv.SetDown(false)

	o := h.waitStatus(placed.orderResp, "pending_payment", 20*time.Second)
	issued := srv.Payments(o.ID)
	if len(issued) != 1 || o.Payment.Provider != "nowpayments" || o.Payment.PaymentID != issued[0].ID || o.Payment.PayAddress != issued[0].PayAddress ||
		o.Payment.PayCurrency != "btc" || issued[0].CallbackURL != h.base+"/v1/webhooks/nowpayments" || issued[0].PriceAmount.String() != o.Total.Amount {
		t.Fatalf("order %+v, issued %+v", o, issued)
	}

	// Confirmation is on: the gateway must say finished too.
	pay := issued[0]
	srv.SetStatus(pay.ID, "finished", pay.PayAmount)
	body := srv.IPN(pay.ID, "finished", pay.PayAmount, "")
	sig, err := nowpayments.Sign(h.cfg.IPNSecret, body)
	if err != nil {
		t.Fatal(err)
	}
	if code, raw := h.postIPN(body, sig); code != http.StatusOK {
		t.Fatalf("IPN: %d %s", code, raw)
	}
	h.waitStatus(placed.orderResp, "delivered", 30*time.Second)

	// An order placed with the API up is answered 201 with its payment.
	var now orderResp
	if code, _, raw := h.do("POST", "/v1/orders", map[string]any{"email": "np2@example.com", "items": []any{line(sku, 1)}}, nil, &now); code != http.StatusCreated ||
		now.Status != "pending_payment" || now.Payment.PayAddress == "" || !decimal.RequireFromString(now.Payment.PayAmount).IsPositive() {
		t.Fatalf("order with the API up: %d %s", code, raw)
	}
	if db == nil {
		return
	}
	queued := func(orderID, event string) (n int) {
		t.Helper()
		table := "watermill_" + messaging.PartitionedTopic(event, orderID, h.cfg.QueuePartitions)
		if err := db.Get(&n, `SELECT count(*) FROM "`+table+`" WHERE payload->>'order_id' = $1`, orderID); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if late, set := queued(placed.ID, domain.EventOrderPlaced), queued(now.ID, domain.EventOrderPlaced); late != 1 || set != 0 {
		t.Errorf("order.placed on the queue: %d for the order awaiting its payment set-up (want 1), %d for the one paid at placement (want 0)", late, set)
	}
	if n := queued(now.ID, domain.EventPaymentCreated); n != 1 {
		t.Errorf("order.payment_created of the order with its payment: %d on the queue, want 1", n)
	}
}
