package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// harness is a running keyward process (the real fx graph) on a free port.
type harness struct {
	t        testing.TB
	base     string
	cfg      bootstrap.Config
	clock    *testkit.Clock
	pipeline *pipelineProbe
	logs     *syncBuffer
	supplier *sandbox.Supplier
	links    ports.DeliveryLinkRepository
	revs     ports.RevelationLog
	vault    ports.KeyVault
	dataKeys ports.DataKeyRepository
	client   *http.Client
	app      *bootstrap.App
	killed   bool
}

const testAdminKey = "test-admin-key"

// start runs keyward with the embedded defaults, a temp mail dir and
// keyring, debug logging into a buffer and a settable clock. mod may change
// the config; extra adds fx options (other adapters).
func start(t testing.TB, mod func(*bootstrap.Config), extra ...fx.Option) *harness {
	t.Helper()
	dir := t.TempDir()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.OpsAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.MailDir = filepath.Join(dir, "mail")
	cfg.KeyringFile = filepath.Join(dir, "keyring.json")
	cfg.AdminAPIKeys = []string{testAdminKey}
	cfg.LogLevel = slog.LevelDebug
	cfg.RetryInitialDelay = 20 * time.Millisecond
	cfg.RetryMaxDelay = 500 * time.Millisecond
	cfg.DeliveryRateLimit = false // tests reveal hundreds of links from one IP
	// and place dozens of orders from it, many for one recipient
	cfg.Limits.OrdersSource, cfg.Limits.OrdersEmail = bootstrap.Rate{}, bootstrap.Rate{}
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, cfg: cfg, clock: testkit.NewRunningClock(), pipeline: newPipelineProbe(cfg.DatabaseURL), logs: &syncBuffer{}, client: &http.Client{Timeout: 10 * time.Second}}
	t.Cleanup(h.pipeline.close)
	var base bootstrap.BaseURL
	opts := append([]fx.Option{
		fx.Decorate(func() *slog.Logger {
			return slog.New(bootstrap.WithCorrelation(slog.NewJSONHandler(io.MultiWriter(h.logs), &slog.HandlerOptions{Level: slog.LevelDebug})))
		}),
		fx.Decorate(func(ports.Clock) ports.Clock { return h.clock }),
		h.pipeline.options(),
		fx.Populate(&base, &h.supplier, &h.links, &h.revs, &h.vault, &h.dataKeys),
	}, extra...)
	app := bootstrap.New(cfg, opts...)
	h.app = app
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start keyward: %v", err)
	}
	t.Cleanup(func() {
		if h.killed {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop keyward: %v", err)
		}
		if t.Failed() {
			if p := os.Getenv("KEYWARD_TEST_LOG_DIR"); p != "" {
				_ = os.WriteFile(filepath.Join(p, strings.ReplaceAll(t.Name(), "/", "_")+".log"), []byte(h.logs.String()), 0o644)
			}
			t.Logf("keyward logs:\n%s", tail(h.logs.String(), 8000))
		}
	})
	h.base = string(base)
	return h
}

// stop shuts keyward down gracefully.
func (h *harness) stop() {
	h.t.Helper()
	h.killed = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.app.Stop(ctx); err != nil {
		h.t.Fatalf("stop keyward: %v", err)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// do sends a request and decodes a JSON answer into out (when not nil).
func (h *harness) do(method, path string, body any, headers map[string]string, out any) (int, http.Header, []byte) {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, resp.Header, raw
}

type orderResp struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	AccessToken string `json:"access_token"`
	Total       struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"total"`
	Payment struct {
		Provider    string `json:"provider"`
		PaymentID   string `json:"payment_id"`
		PayAddress  string `json:"pay_address"`
		PayAmount   string `json:"pay_amount"`
		PayCurrency string `json:"pay_currency"`
	} `json:"payment"`
	Items []struct {
		ID       string `json:"id"`
		SKU      string `json:"sku"`
		Quantity int    `json:"quantity"`
		Status   string `json:"status"`
	} `json:"items"`
	Timeline []struct {
		Type string `json:"type"`
	} `json:"timeline"`
}

func (h *harness) placeOrder(email string, items ...any) orderResp {
	h.t.Helper()
	var o orderResp
	code, _, raw := h.do("POST", "/v1/orders", map[string]any{"email": email, "items": items}, nil, &o)
	if code != http.StatusCreated {
		h.t.Fatalf("place order: %d %s", code, raw)
	}
	return o
}

func line(sku string, qty int) map[string]any { return map[string]any{"sku": sku, "quantity": qty} }

// ipn builds the signed IPN the sandbox gateway's payment would get.
func (h *harness) ipn(orderID, status string, actuallyPaid string) ([]byte, string) {
	h.t.Helper()
	var p sandbox.SandboxPaymentBody
	if code, _, raw := h.do("GET", "/v1/sandbox/payments/"+orderID, nil, nil, &p); code != 200 {
		h.t.Fatalf("sandbox payment: %d %s", code, raw)
	}
	sp := sandbox.SandboxPayment{
		OrderID: p.OrderID, PaymentID: p.PaymentID, PayAddress: p.PayAddress, PriceAmount: decimal.RequireFromString(p.PriceAmount),
		PriceCurrency: p.PriceCurrency, PayAmount: decimal.RequireFromString(p.PayAmount), PayCurrency: p.PayCurrency,
		PurchaseID: p.PaymentID, CreatedAt: time.Now().Add(-time.Minute),
	}
	paid := sp.PayAmount
	if actuallyPaid != "" {
		paid = decimal.RequireFromString(actuallyPaid)
	}
	body := sandbox.IPNBody(sp, status, paid, time.Now())
	sig, err := nowpayments.Sign(h.cfg.IPNSecret, body)
	if err != nil {
		h.t.Fatal(err)
	}
	return body, sig
}

func (h *harness) postIPN(body []byte, sig string) (int, []byte) {
	h.t.Helper()
	code, _, raw := h.do("POST", "/v1/webhooks/nowpayments", body, map[string]string{nowpayments.SignatureHeader: sig}, nil)
	return code, raw
}

// postIPNDuringFaults posts a signed IPN as a gateway does while keyward's
// dependencies fail: an answer that does not come within the client's
// timeout is given up on (the gateway posts again), not a test failure.
func (h *harness) postIPNDuringFaults(body []byte, sig string) {
	h.t.Helper()
	req, err := http.NewRequest("POST", h.base+"/v1/webhooks/nowpayments", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(nowpayments.SignatureHeader, sig)
	if resp, err := h.client.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
}

// pay posts the signed "finished" IPN for the order and checks it is taken.
func (h *harness) pay(o orderResp) {
	h.t.Helper()
	body, sig := h.ipn(o.ID, "finished", "")
	if code, raw := h.postIPN(body, sig); code != 200 {
		h.t.Fatalf("IPN for %s: %d %s", o.ID, code, raw)
	}
}

// deliveredOrder places an order for email, pays it and waits until it is
// delivered.
func (h *harness) deliveredOrder(email string, lines ...any) orderResp {
	h.t.Helper()
	o := h.placeOrder(email, lines...)
	h.pay(o)
	h.waitStatus(o, "delivered", 30*time.Second)
	return o
}

func (h *harness) getOrder(o orderResp) orderResp {
	h.t.Helper()
	var got orderResp
	code, _, raw := h.do("GET", "/v1/orders/"+o.ID, nil, map[string]string{"Authorization": "Bearer " + o.AccessToken}, &got)
	if code != 200 {
		h.t.Fatalf("get order: %d %s", code, raw)
	}
	return got
}

// waitStatus polls the order until it has the status or the time is up.
func (h *harness) waitStatus(o orderResp, want string, within time.Duration) orderResp {
	h.t.Helper()
	var got orderResp
	testkit.EventuallyWith(h.t, within, func() string { return fmt.Sprintf("order %s is %s, want %s", o.ID, got.Status, want) },
		func() bool {
			got = h.getOrder(o)
			return got.Status == want
		})
	return got
}

// mailsTo returns the delivery emails (keys ready) sent to addr; the
// customer notifications are left out (allMailsTo has them).
func (h *harness) mailsTo(addr string) []maildir.Message {
	h.t.Helper()
	var out []maildir.Message
	for _, m := range h.allMailsTo(addr) {
		if m.Subject == "Your keys are ready" {
			out = append(out, m)
		}
	}
	return out
}

// allMailsTo returns every email sent to addr.
func (h *harness) allMailsTo(addr string) []maildir.Message {
	h.t.Helper()
	all, err := maildir.ReadAll(h.cfg.MailDir)
	if err != nil && !os.IsNotExist(err) {
		h.t.Fatal(err)
	}
	var out []maildir.Message
	for _, m := range all {
		if strings.Contains(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

// deliveryToken extracts the token from the one email sent to addr.
func (h *harness) deliveryToken(addr string) string {
	h.t.Helper()
	mails := h.mailsTo(addr)
	if len(mails) != 1 {
		h.t.Fatalf("%d emails to %s, want 1", len(mails), addr)
	}
	prefix := h.base + "/deliver/"
	i := strings.Index(mails[0].Text, prefix)
	if i < 0 {
		h.t.Fatalf("email has no link %s...:\n%s", prefix, mails[0].Text)
	}
	tok := mails[0].Text[i+len(prefix):]
	if j := strings.IndexAny(tok, " \r\n"); j >= 0 {
		tok = tok[:j]
	}
	if len(tok) != 43 {
		h.t.Fatalf("token %q is not 256 bits of base64url", tok)
	}
	return tok
}

func (h *harness) firstSKU(pred func(p product) bool) product {
	h.t.Helper()
	var page struct {
		Items []product `json:"items"`
	}
	if code, _, raw := h.do("GET", "/v1/products?limit=100", nil, nil, &page); code != 200 {
		h.t.Fatalf("products: %d %s", code, raw)
	}
	for _, p := range page.Items {
		if !p.Preorder && pred(p) { // a pre-order would wait for its release
			return p
		}
	}
	h.t.Fatalf("no product matches")
	return product{}
}

type product struct {
	SKU      string `json:"sku"`
	Name     string `json:"name"`
	Platform string `json:"platform"`
	InStock  bool   `json:"in_stock"`
	Preorder bool   `json:"preorder"` // keys only on its release day
	Price    struct {
		Amount   string `json:"amount"`
		Currency string `json:"currency"`
	} `json:"price"`
}
