package bootstrap_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// countRows counts the rows of each table in db.
func countRows(t *testing.T, db *sqlx.DB, tables ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range tables {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM `+table); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestSignedIPNWithNULIsRefusedOnPostgres: a correctly signed IPN whose
// order_id, payment_id or payment_status holds a NUL (which Postgres text
// cannot store) is answered 400 problem+json and stores nothing.
func TestSignedIPNWithNULIsRefusedOnPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	var db *sqlx.DB
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url }, fx.Populate(&db))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h.placeOrder("nul@example.com", line(sku, 1))
	body, _ := h.ipn(o.ID, "finished", "")
	before := countRows(t, db, "payment_notifications", "dead_letters")
	for field, re := range map[string]*regexp.Regexp{
		"order_id":       regexp.MustCompile(`"order_id":"([^"]*)"`),
		"payment_id":     regexp.MustCompile(`"payment_id":([0-9]+)`),
		"payment_status": regexp.MustCompile(`"payment_status":"([^"]*)"`),
	} {
		if !re.Match(body) {
			t.Fatalf("no %s in %s", field, body)
		}
		nul := re.ReplaceAll(body, []byte(`"`+field+`":"$1\u0000"`))
		sig, err := nowpayments.Sign(h.cfg.IPNSecret, nul)
		if err != nil {
			t.Fatal(err)
		}
		code, hdr, raw := h.do("POST", "/v1/webhooks/nowpayments", nul, map[string]string{nowpayments.SignatureHeader: sig}, nil)
		if code != http.StatusBadRequest || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
			t.Errorf("NUL in %s: %d %s %s, want 400 problem+json", field, code, hdr.Get("Content-Type"), raw)
		}
	}
	if after := countRows(t, db, "payment_notifications", "dead_letters"); after["payment_notifications"] != before["payment_notifications"] ||
		after["dead_letters"] != before["dead_letters"] {
		t.Fatalf("rows before %v, after %v: a refused IPN was stored", before, after)
	}
	if got := h.getOrder(o); got.Status != "pending_payment" {
		t.Fatalf("order is %s after refused IPNs, want pending_payment", got.Status)
	}
}

// TestKinguinWebhookWithNULIsRefusedOnPostgres: a webhook with the right
// secret whose ids hold a NUL is malformed: 400, never the 503 Kinguin
// would resend for ever, and nothing stored.
func TestKinguinWebhookWithNULIsRefusedOnPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	var db *sqlx.DB
	h := startKinguin(t, kinguintest.New(t, 0), func(c *bootstrap.Config) { c.DatabaseURL = url }, fx.Populate(&db))
	before := countRows(t, db, "supplier_event_marks", "dead_letters")
	at := time.Now().UTC()
	for _, body := range []string{
		orderStatusBody("PX\x00A", "ext-1", "completed", at),
		orderStatusBody("PXA", "ext\x00-1", "completed", at),
		orderStatusBody("PXA", "ext-1", "compl\x00eted", at),
	} {
		body = strings.ReplaceAll(body, `\x00`, `\u0000`) // %q writes a NUL as \x00, which JSON spells \u0000
		code, raw := h.kinguinWebhook("order.status", testKinguinSecret, body)
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400", body, code, raw)
		}
	}
	if after := countRows(t, db, "supplier_event_marks", "dead_letters"); after["supplier_event_marks"] != before["supplier_event_marks"] ||
		after["dead_letters"] != before["dead_letters"] {
		t.Fatalf("rows before %v, after %v: a refused webhook was stored", before, after)
	}
}
