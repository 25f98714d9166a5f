package domain_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/keyward/keyward/domain"
)

var (
	hookSecretA = mustSecret(0xA1)
	hookSecretB = mustSecret(0xB2)
)

func mustSecret(fill byte) string {
	key := make([]byte, 24)
	for i := range key {
		key[i] = fill + byte(i)
	}
	s, err := domain.NewWebhookSecret(key)
	if err != nil {
		panic(err)
	}
	return s
}

func hookHeaders(id string, at time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

// TestWebhookSignatureVerifiesWithTheStandardLibrary: what keyward signs,
// the Standard Webhooks library verifies; a changed body, id or secret
// does not.
func TestWebhookSignatureVerifiesWithTheStandardLibrary(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := []byte(`{"type":"order.paid","timestamp":"2026-11-27T12:00:00Z","data":{"order_id":"o1"}}`)
	e := domain.WebhookEndpoint{Secret: hookSecretA}
	sig, err := e.SignatureHeader("msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sig, "v1,") || strings.Contains(sig, " ") {
		t.Fatalf("signature %q, want one v1 signature", sig)
	}
	wh, err := standardwebhooks.NewWebhook(hookSecretA)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(body, hookHeaders("msg_1", now, sig)); err != nil {
		t.Fatalf("the library refuses keyward's signature: %v", err)
	}
	if err := wh.Verify(append(body, ' '), hookHeaders("msg_1", now, sig)); err == nil {
		t.Fatal("a changed body verifies")
	}
	if err := wh.Verify(body, hookHeaders("msg_2", now, sig)); err == nil {
		t.Fatal("another webhook-id verifies")
	}
	other, _ := standardwebhooks.NewWebhook(hookSecretB)
	if err := other.Verify(body, hookHeaders("msg_1", now, sig)); err == nil {
		t.Fatal("another secret verifies")
	}
}

// TestWebhookRotationSignsWithBothSecretsDuringTheOverlap: after a
// rotation, a receiver holding either secret verifies until the overlap
// ends; then only the new one signs.
func TestWebhookRotationSignsWithBothSecretsDuringTheOverlap(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	e := domain.WebhookEndpoint{Secret: hookSecretA}
	if err := e.Rotate(hookSecretB, t0, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	if e.Secret != hookSecretB || e.PreviousSecret != hookSecretA || !e.PreviousUntil.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("rotated endpoint %+v", e)
	}
	body := []byte(`{"type":"webhook.test","timestamp":"2026-11-27T12:00:00Z","data":{}}`)
	sig, err := e.SignatureHeader("msg_r", t0, body)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(strings.Fields(sig)); n != 2 {
		t.Fatalf("signature %q: %d signatures during the overlap, want 2", sig, n)
	}
	for _, secret := range []string{hookSecretA, hookSecretB} {
		wh, _ := standardwebhooks.NewWebhook(secret)
		if err := wh.Verify(body, hookHeaders("msg_r", t0, sig)); err != nil {
			t.Fatalf("during the overlap, %s…'s holder cannot verify: %v", secret[:10], err)
		}
	}
	if got := e.SigningSecrets(t0.Add(24 * time.Hour)); !slices.Equal(got, []string{hookSecretB}) {
		t.Fatalf("after the overlap the signing secrets are %d, want the new one alone", len(got))
	}
	if err := e.Rotate("whsec_c2hvcnQ=", t0, time.Hour); !errors.Is(err, domain.ErrInvalidWebhook) {
		t.Fatalf("a short secret = %v, want ErrInvalidWebhook", err)
	}
}

func TestWebhookEventsAndSubscriptions(t *testing.T) {
	t.Parallel()
	if _, err := domain.NormalizeWebhookEvents([]string{"order.paid", "*"}); !errors.Is(err, domain.ErrInvalidWebhook) {
		t.Errorf("* beside a type = %v", err)
	}
	if _, err := domain.NormalizeWebhookEvents([]string{"order.shipped"}); !errors.Is(err, domain.ErrInvalidWebhook) {
		t.Errorf("unknown type = %v", err)
	}
	if _, err := domain.NormalizeWebhookEvents(nil); !errors.Is(err, domain.ErrInvalidWebhook) {
		t.Errorf("no type = %v", err)
	}
	got, err := domain.NormalizeWebhookEvents([]string{"order.paid", "order.delivered", "order.paid"})
	if err != nil || !slices.Equal(got, []string{"order.delivered", "order.paid"}) {
		t.Errorf("normalized %v, %v", got, err)
	}
	e := domain.WebhookEndpoint{Events: got}
	if !e.Subscribes("order.paid") || e.Subscribes("order.refunded") || !(domain.WebhookEndpoint{Events: []string{"*"}}).Subscribes("stock.low") {
		t.Error("Subscribes")
	}
	for _, bad := range []string{"http://shop.example/h", "https://", "shop.example/h", "https://u:p@shop.example/h", "https://shop.example/h#x", "javascript:alert(1)"} {
		if _, err := domain.ValidateWebhookURL(bad, false); !errors.Is(err, domain.ErrInvalidWebhook) {
			t.Errorf("URL %q = %v, want ErrInvalidWebhook", bad, err)
		}
	}
	if _, err := domain.ValidateWebhookURL("http://127.0.0.1:9000/h", true); err != nil {
		t.Errorf("http with the development switch: %v", err)
	}
	names := map[string]bool{}
	for _, typ := range domain.WebhookEventTypes {
		if names[typ.Name] || typ.Description == "" || !strings.Contains(typ.Name, ".") {
			t.Errorf("catalogue entry %+v", typ)
		}
		names[typ.Name] = true
	}
}

// TestWebhookEventForOrderEvents: order events map to their webhook type
// with a thin payload; internal events are not sent.
func TestWebhookEventForOrderEvents(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := map[string]string{
		domain.EventOrderPaid: "order.paid", domain.EventPaymentHeld: "order.underpaid", domain.EventOrderDelivered: "order.delivered",
		domain.EventOrderNeedsReview: "order.needs_review", domain.EventOrderRefunded: "order.refunded", domain.EventOrderRevoked: "order.revoked",
	}
	for name, want := range cases {
		w, ok, err := domain.WebhookEventFor("wh-1", domain.OrderEvent{Name: name, OrderID: "o1", At: at, Reason: "r"})
		if err != nil || !ok || w.Type != want || w.ID != "wh-1" || w.OrderID != "o1" {
			t.Fatalf("%s → %+v %v %v, want %s", name, w, ok, err, want)
		}
		var p struct {
			Type      string         `json:"type"`
			Timestamp string         `json:"timestamp"`
			Data      map[string]any `json:"data"`
		}
		if err := json.Unmarshal(w.Body, &p); err != nil || p.Type != want || p.Timestamp != "2026-11-27T12:00:00Z" || p.Data["order_id"] != "o1" || !slices.Contains(domain.WebhookReasonCodes, p.Data["reason"].(string)) {
			t.Fatalf("%s payload %s", name, w.Body)
		}
	}
	claims := map[string]string{domain.EventClaimOpened: "claim.opened", domain.EventClaimApproved: "claim.approved",
		domain.EventClaimRejected: "claim.rejected", domain.EventKeyReplaced: "key.replaced"}
	for name, want := range claims {
		w, ok, err := domain.WebhookEventFor("wh-3", domain.OrderEvent{Name: name, OrderID: "o1", At: at, Reason: "claim-7"})
		if err != nil || !ok || w.Type != want || !domain.IsWebhookEventType(want) {
			t.Fatalf("%s → %+v %v %v, want %s in the catalogue", name, w, ok, err, want)
		}
		var p struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(w.Body, &p); err != nil || p.Data["claim_id"] != "claim-7" || p.Data["order_id"] != "o1" {
			t.Fatalf("%s payload %s, want the claim's id as claim_id", name, w.Body)
		}
		if _, leaked := p.Data["reason"]; leaked {
			t.Fatalf("%s payload %s repeats the claim id as reason", name, w.Body)
		}
	}
	for _, internal := range []string{domain.EventPaymentCreated, domain.EventFulfilmentRetried, domain.EventOrderExpired} {
		if _, ok, _ := domain.WebhookEventFor("wh-2", domain.OrderEvent{Name: internal, OrderID: "o1", At: at}); ok {
			t.Errorf("%s is sent to the shop", internal)
		}
	}
}

func TestWebhookRetrySchedule(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	s := domain.DefaultWebhookRetrySchedule
	if next, ok := domain.NextWebhookAttempt(s, 1, now, 0); !ok || !next.Equal(now.Add(5*time.Second)) {
		t.Errorf("after the first failure: %v %v", next, ok)
	}
	if next, ok := domain.NextWebhookAttempt(s, 7, now, 0.5); !ok || !next.Equal(now.Add(10*time.Hour+30*time.Minute)) {
		t.Errorf("after the seventh, half jitter: %v %v", next, ok)
	}
	if _, ok := domain.NextWebhookAttempt(s, 8, now, 0); ok {
		t.Error("an eighth retry after the schedule is spent")
	}
	got, err := domain.ParseWebhookRetrySchedule("1s, 2m,3h")
	if err != nil || !slices.Equal(got, []time.Duration{time.Second, 2 * time.Minute, 3 * time.Hour}) {
		t.Errorf("parsed %v, %v", got, err)
	}
	for _, bad := range []string{"", "1s,,2s", "-1s", "0s", "soon"} {
		if _, err := domain.ParseWebhookRetrySchedule(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestDailyWebhookID(t *testing.T) {
	t.Parallel()
	day := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	id := domain.DailyWebhookID("stock.low", "sku\r\nX-Evil: 1", day)
	if id != domain.DailyWebhookID("stock.low", "sku\r\nX-Evil: 1", day.Add(20*time.Hour)) {
		t.Fatal("the id changes within a day")
	}
	if id == domain.DailyWebhookID("stock.low", "sku\r\nX-Evil: 1", day.Add(24*time.Hour)) || id == domain.DailyWebhookID("stock.low", "other", day) ||
		id == domain.DailyWebhookID("supplier.balance_low", "sku\r\nX-Evil: 1", day) {
		t.Fatal("the id does not change with the day, the key or the type")
	}
	if strings.ContainsFunc(id, func(r rune) bool {
		return !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", r)
	}) {
		t.Fatalf("id %q is not header-safe", id)
	}
}

// TestRedactedWebhookURL: logs and audit records get an endpoint URL
// without its query, fragment or user info.
func TestRedactedWebhookURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"https://shop.example/hooks":                                 "https://shop.example/hooks",
		"https://shop.example/hooks?token=s3cret":                    "https://shop.example/hooks",
		"https://user:s3cret@shop.example:8443/a/b?x=1#s3cret":       "https://shop.example:8443/a/b",
		"https://shop.example/hooks?":                                "https://shop.example/hooks",
		"http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/h?k=s3cret": "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/h",
		"not a url":           "(unreadable URL)",
		"https://%zz/?s3cret": "(unreadable URL)",
	} {
		if got := domain.RedactedWebhookURL(raw); got != want {
			t.Errorf("RedactedWebhookURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

// TestWebhookReasonIsACode: a payload's data.reason is one of a few codes,
// never the reason's text, which may quote a supplier or an operator.
func TestWebhookReasonIsACode(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct{ event, reason, want string }{
		{domain.EventOrderNeedsReview, "supplier price 21.40 EUR > affordable 19.10 EUR", domain.WebhookReasonPriceGuard},
		{domain.EventOrderFailed, "item i-1: supplier price 21.40 EUR > affordable 19.10 EUR", domain.WebhookReasonPriceGuard},
		{domain.EventOrderNeedsReview, "fulfilment made no progress for 2h0m0s", domain.WebhookReasonStalled},
		{domain.EventOrderNeedsReview, "supplier does not know purchase K-1 recorded for item i-1", domain.WebhookReasonSupplierError},
		{domain.EventOrderFailed, "item i-1: Supplier refused: <script>alert(1)</script> internal host db-3.corp", domain.WebhookReasonSupplierError},
		{domain.EventOrderRevoked, "chargeback from j.doe@example.com, ticket 4411", domain.WebhookReasonRevoked},
		{domain.EventPaymentHeld, "partially_paid", "partially_paid"},
		{domain.EventPaymentHeld, "insufficient_amount", "insufficient_amount"},
		{domain.EventOrderNeedsReview, "pq: connection refused at 10.0.0.7:5432", domain.WebhookReasonOther},
	} {
		w, ok, err := domain.WebhookEventFor("wh-1", domain.OrderEvent{Name: c.event, OrderID: "o1", At: at, Reason: c.reason})
		if err != nil || !ok {
			t.Fatalf("%s: %v %v", c.event, ok, err)
		}
		var p struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(w.Body, &p); err != nil || p.Data["reason"] != c.want {
			t.Errorf("%s %q: reason %v, want %q", c.event, c.reason, p.Data["reason"], c.want)
		}
		if c.reason != c.want && strings.Contains(string(w.Body), c.reason) {
			t.Errorf("the payload carries the reason's text: %s", w.Body)
		}
	}
}
