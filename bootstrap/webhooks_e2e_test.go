package bootstrap_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// hookMessage is one request a receiver got, verified or not.
type hookMessage struct {
	ID       string
	Type     string
	OrderID  string
	Body     string
	Verified bool
}

// hookReceiver is a shop's webhook endpoint: it verifies every request
// with the Standard Webhooks library under the secret keyward gave,
// answers as answer says (200 by default), and can go down (nothing
// listens on its port) and come back on the same port.
type hookReceiver struct {
	t      *testing.T
	addr   string
	mu     sync.Mutex
	secret string
	got    []hookMessage
	answer func(n int) int // status of the n-th request (1-based)
	srv    *http.Server
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &hookReceiver{t: t, addr: l.Addr().String()}
	r.serve(l)
	t.Cleanup(r.down)
	return r
}

func (r *hookReceiver) url() string { return "http://" + r.addr + "/keyward/webhooks" }

func (r *hookReceiver) serve(l net.Listener) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.srv = &http.Server{Handler: http.HandlerFunc(r.handle), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(l) }()
}

// down stops listening; up listens on the same port again.
func (r *hookReceiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

func (r *hookReceiver) up() {
	r.t.Helper()
	var l net.Listener
	testkit.Eventually(r.t, 10*time.Second, "the receiver's port is free again", func() bool {
		var err error
		l, err = net.Listen("tcp", r.addr)
		return err == nil
	})
	r.serve(l)
}

func (r *hookReceiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *hookReceiver) handle(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret, answer := r.secret, r.answer
	m := hookMessage{ID: req.Header.Get("webhook-id"), Body: string(body)}
	var p struct {
		Type string `json:"type"`
		Data struct {
			OrderID string `json:"order_id"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &p)
	m.Type, m.OrderID = p.Type, p.Data.OrderID
	wh, err := standardwebhooks.NewWebhook(secret)
	if err == nil {
		err = wh.Verify(body, req.Header)
	}
	m.Verified = err == nil
	r.got = append(r.got, m)
	n := len(r.got)
	r.mu.Unlock()
	if err != nil {
		r.t.Errorf("a webhook does not verify: %v (headers %v)", err, req.Header)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if !strings.HasPrefix(req.Header.Get("User-Agent"), "keyward/") {
		r.t.Errorf("User-Agent %q", req.Header.Get("User-Agent"))
	}
	status := http.StatusOK
	if answer != nil {
		status = answer(n)
	}
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "answer %d", n)
}

func (r *hookReceiver) messages() []hookMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookMessage(nil), r.got...)
}

// of returns the messages of type typ about order.
func (r *hookReceiver) of(typ, order string) []hookMessage {
	var out []hookMessage
	for _, m := range r.messages() {
		if m.Type == typ && (order == "" || m.OrderID == order) {
			out = append(out, m)
		}
	}
	return out
}

// noSecrets fails if any message the receiver got holds one of secrets
// (keys in their plain, hex and base64 forms, delivery tokens), a
// delivery link or a signing secret.
func (r *hookReceiver) noSecrets(secrets ...string) {
	r.t.Helper()
	for _, m := range r.messages() {
		for _, forbidden := range append([]string{"/deliver/", "whsec_", "access_token"}, secrets...) {
			if forbidden != "" && strings.Contains(m.Body, forbidden) {
				r.t.Errorf("webhook %s (%s) carries %q: %s", m.ID, m.Type, forbidden, m.Body)
			}
		}
	}
}

// withWebhooks lets endpoints on loopback over http, and retries within
// seconds.
func withWebhooks(schedule string) func(*bootstrap.Config) {
	return func(c *bootstrap.Config) {
		c.Webhooks.AllowPrivate = true
		c.Webhooks.RetrySchedule = schedule
		// Long enough that a loaded machine never times out an answer the
		// receiver gave (a retry would deliver it twice); no test waits
		// for it to run out.
		c.Webhooks.Timeout = 15 * time.Second
	}
}

type webhookEndpointResp struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

func (h *harness) registerWebhook(r *hookReceiver, events ...string) webhookEndpointResp {
	h.t.Helper()
	var e webhookEndpointResp
	code, _, raw := h.do("POST", "/v1/admin/webhooks/endpoints", map[string]any{"url": r.url(), "events": events, "description": "test shop"}, adminHeaders(), &e)
	if code != http.StatusCreated || !strings.HasPrefix(e.Secret, "whsec_") {
		h.t.Fatalf("register webhook endpoint: %d %s", code, raw)
	}
	r.setSecret(e.Secret)
	return e
}

func adminHeaders() map[string]string {
	return map[string]string{"Authorization": "Bearer " + testAdminKey}
}

type webhookLogResp struct {
	ID         string `json:"id"`
	WebhookID  string `json:"webhook_id"`
	Type       string `json:"type"`
	Status     string `json:"status"`
	Attempts   int    `json:"attempts"`
	AttemptLog []struct {
		HTTPStatus int    `json:"http_status"`
		Response   string `json:"response"`
		Error      string `json:"error"`
	} `json:"attempt_log"`
}

func (h *harness) webhookMessages(query string) []webhookLogResp {
	h.t.Helper()
	var page struct {
		Items []webhookLogResp `json:"items"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/webhooks/messages?"+query, nil, adminHeaders(), &page); code != http.StatusOK {
		h.t.Fatalf("webhook messages: %d %s", code, raw)
	}
	return page.Items
}

// orderSecrets are what no webhook about o may carry: its keys, in every
// form, and its delivery token.
func orderSecrets(t *testing.T, h *harness, o orderResp, email string) []string {
	t.Helper()
	out := []string{latestToken(t, h, email), o.AccessToken}
	for _, it := range h.getOrder(o).Items {
		for _, k := range h.supplier.IssuedKeys(it.ID) {
			out = append(out, string(k.Data), hex.EncodeToString(k.Data), base64.StdEncoding.EncodeToString(k.Data))
		}
	}
	return out
}

// TestWebhooksOrderWalkthrough: an order walked through the API reaches
// the shop's endpoint as order.paid and order.delivered, each once,
// verified with the Standard Webhooks library; no payload carries a key,
// a token or a link. In memory and on Postgres (messages written in the
// order's transactions).
func TestWebhooksOrderWalkthrough(t *testing.T) {
	t.Parallel()
	for _, storage := range []string{"memory", "postgres"} {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			mod := withWebhooks("1s,1s,1s")
			if storage == "postgres" {
				url, _ := pgtest.NewDatabase(t)
				mod = func(c *bootstrap.Config) { withWebhooks("1s,1s,1s")(c); c.DatabaseURL = url }
			}
			h := start(t, mod)
			r := newHookReceiver(t)
			all := newHookReceiver(t)
			h.registerWebhook(r, "order.paid", "order.delivered")
			h.registerWebhook(all, "*")
			sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
			const email = "hooks@example.com"
			o := h.deliveredOrder(email, line(sku, 2))
			testkit.Eventually(t, 30*time.Second, "order.paid and order.delivered reach the endpoint", func() bool {
				return len(r.of("order.paid", o.ID)) > 0 && len(r.of("order.delivered", o.ID)) > 0
			})
			testkit.Eventually(t, 30*time.Second, "every message to the endpoint is delivered", func() bool {
				ms := h.webhookMessages("status=pending")
				return len(ms) == 0
			})
			for _, typ := range []string{"order.paid", "order.delivered"} {
				got := r.of(typ, o.ID)
				if len(got) != 1 || !got[0].Verified {
					t.Fatalf("%s received %d times: %+v", typ, len(got), got)
				}
				if len(all.of(typ, o.ID)) != 1 || all.of(typ, o.ID)[0].ID != got[0].ID {
					t.Errorf("%s: the same event has another webhook-id on the second endpoint", typ)
				}
			}
			for _, m := range r.messages() {
				if m.Type != "order.paid" && m.Type != "order.delivered" {
					t.Errorf("the endpoint got %s, which it did not subscribe to", m.Type)
				}
			}
			if len(all.of("order.placed", o.ID)) != 1 || len(all.of("order.fulfilled", o.ID)) != 1 {
				t.Errorf("the * endpoint got %+v", all.messages())
			}
			// The customer reveals twice: the shop hears of the first.
			token := latestToken(t, h, email)
			for range 2 {
				if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != http.StatusOK {
					t.Fatalf("reveal: %d %s", code, raw)
				}
			}
			if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/resend-delivery", nil, adminHeaders(), nil); code >= 300 {
				t.Fatalf("resend delivery: %d %s", code, raw)
			}
			testkit.Eventually(t, 30*time.Second, "delivery.revealed and delivery.link_reissued reach the * endpoint", func() bool {
				return len(all.of("delivery.revealed", o.ID)) > 0 && len(all.of("delivery.link_reissued", o.ID)) > 0
			})
			testkit.Eventually(t, 30*time.Second, "every message is delivered", func() bool { return len(h.webhookMessages("status=pending")) == 0 })
			if got := all.of("delivery.revealed", o.ID); len(got) != 1 || !got[0].Verified || len(r.of("delivery.revealed", "")) != 0 {
				t.Errorf("delivery.revealed: %+v to *, %d to the other endpoint", got, len(r.of("delivery.revealed", "")))
			}
			if logged := h.webhookMessages("order_id=" + o.ID + "&type=order.paid"); len(logged) != 2 || logged[0].Status != "delivered" || logged[0].Attempts != 1 {
				t.Errorf("message log %+v", logged)
			}
			if got := all.of("delivery.link_reissued", o.ID); len(got) != 1 || !strings.Contains(got[0].Body, `"requested_by":"admin"`) {
				t.Errorf("delivery.link_reissued: %+v", got)
			}
			secrets := append(orderSecrets(t, h, o, email), token) // the reissued link's token and the first one
			r.noSecrets(secrets...)
			all.noSecrets(secrets...)
		})
	}
}

// TestWebhookRetriesKeepTheWebhookID: an endpoint answering 500 twice
// then 200 gets the same webhook-id three times, and the log shows the
// three attempts.
func TestWebhookRetriesKeepTheWebhookID(t *testing.T) {
	t.Parallel()
	h := start(t, withWebhooks("200ms,200ms,200ms"))
	r := newHookReceiver(t)
	r.answer = func(n int) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}
	e := h.registerWebhook(r, "order.refunded")
	var sent webhookLogResp
	if code, _, raw := h.do("POST", "/v1/admin/webhooks/endpoints/"+e.ID+"/test", nil, adminHeaders(), &sent); code != http.StatusAccepted {
		t.Fatalf("test event: %d %s", code, raw)
	}
	var logged webhookLogResp
	testkit.EventuallyWith(t, 20*time.Second, func() string { return fmt.Sprintf("message %+v", logged) }, func() bool {
		h.do("GET", "/v1/admin/webhooks/messages/"+sent.ID, nil, adminHeaders(), &logged)
		return logged.Status == "delivered"
	})
	got := r.messages()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	for _, m := range got {
		if m.ID != sent.WebhookID || m.Type != "webhook.test" || !m.Verified {
			t.Fatalf("request %+v, want webhook-id %s each time", m, sent.WebhookID)
		}
	}
	if logged.Attempts != 3 || len(logged.AttemptLog) != 3 {
		t.Fatalf("log: %d attempts, %d logged; want 3", logged.Attempts, len(logged.AttemptLog))
	}
	for i, want := range []int{500, 500, 200} {
		a := logged.AttemptLog[i]
		if a.HTTPStatus != want || a.Response != fmt.Sprintf("answer %d", i+1) || (want == 500) != (a.Error != "") {
			t.Errorf("attempt %d: %+v, want status %d", i+1, a, want)
		}
	}
	// A redelivery is one more attempt with the same webhook-id.
	if code, _, raw := h.do("POST", "/v1/admin/webhooks/messages/"+sent.ID+"/redeliver", nil, adminHeaders(), nil); code != http.StatusAccepted {
		t.Fatalf("redeliver: %d %s", code, raw)
	}
	testkit.Eventually(t, 10*time.Second, "the redelivery arrives", func() bool { return len(r.messages()) == 4 })
	if m := r.messages()[3]; m.ID != sent.WebhookID {
		t.Fatalf("redelivered with webhook-id %s, want %s", m.ID, sent.WebhookID)
	}
	r.noSecrets(e.Secret)
}

// TestWebhookSurvivesKill: the endpoint is down while keyward is killed
// (its connections cut, nothing cleaned up) and started again on the
// same database; once the endpoint is back it gets the message, once.
func TestWebhookSurvivesKill(t *testing.T) {
	t.Parallel()
	url, admin := pgtest.NewDatabase(t)
	supplier := sandbox.NewSupplier(sandbox.SupplierConfig{}) // the supplier outlives the crash
	shared := fx.Decorate(func(*sandbox.Supplier) *sandbox.Supplier { return supplier })
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) {
		withWebhooks("500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms,500ms")(c)
		c.DatabaseURL, c.KeyringFile = url, keyring
	}
	var db1 *sqlx.DB
	h1 := start(t, mod, shared, fx.Populate(&db1))
	r := newHookReceiver(t)
	h1.registerWebhook(r, "order.paid")
	r.down()
	sku := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h1.placeOrder("killed@example.com", line(sku, 1))
	h1.pay(o)
	testkit.Eventually(t, 20*time.Second, "the first attempts fail against the endpoint that is down", func() bool {
		ms := h1.webhookMessages("type=order.paid&order_id=" + o.ID)
		return len(ms) == 1 && ms[0].Attempts >= 2
	})
	kill(t, h1, db1, admin)

	h2 := start(t, func(c *bootstrap.Config) { mod(c); c.MailDir = h1.cfg.MailDir; resumeQuickly(c) }, shared)
	r.up()
	testkit.Eventually(t, 60*time.Second, "the endpoint, back, gets order.paid", func() bool { return len(r.of("order.paid", o.ID)) > 0 })
	testkit.Eventually(t, 10*time.Second, "the message is delivered", func() bool {
		ms := h2.webhookMessages("type=order.paid&order_id=" + o.ID)
		return len(ms) == 1 && ms[0].Status == "delivered"
	})
	if got := r.of("order.paid", o.ID); len(got) != 1 || !got[0].Verified {
		t.Fatalf("order.paid received %d times: %+v", len(got), got)
	}
	h2.waitStatus(o, "delivered", 45*time.Second)
	r.noSecrets(orderSecrets(t, h2, o, "killed@example.com")...)
}

// TestWebhookStockLow: a sale from own stock that leaves fewer keys than
// KEYWARD_STOCK_LOW_THRESHOLD tells the shop, once a day per product,
// without a key.
func TestWebhookStockLow(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *bootstrap.Config) { withWebhooks("1s")(c); c.Webhooks.StockLow = 2 })
	r := newHookReceiver(t)
	h.registerWebhook(r, "stock.low")
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	keys := []string{"STOCK-LOW-KEY-0001", "STOCK-LOW-KEY-0002", "STOCK-LOW-KEY-0003", "STOCK-LOW-KEY-0004"}
	stockOnly(h, sku, keys...)
	h.deliveredOrder("first@example.com", line(sku, 1))  // 3 left: not low
	h.deliveredOrder("second@example.com", line(sku, 2)) // 1 left: low
	h.deliveredOrder("third@example.com", line(sku, 1))  // 0 left: low again, the same day
	testkit.EventuallyWith(t, 20*time.Second, func() string { return fmt.Sprintf("stock.low arrives; log %+v", h.webhookMessages("")) }, func() bool { return len(r.of("stock.low", "")) > 0 })
	testkit.Eventually(t, 20*time.Second, "nothing is pending", func() bool { return len(h.webhookMessages("status=pending")) == 0 })
	got := r.of("stock.low", "")
	if len(got) != 1 || !got[0].Verified || !strings.Contains(got[0].Body, `"sku":"`+sku+`"`) || !strings.Contains(got[0].Body, `"available":1`) {
		t.Fatalf("stock.low: %+v", got)
	}
	r.noSecrets(keys...)
}
