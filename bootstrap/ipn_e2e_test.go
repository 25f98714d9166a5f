package bootstrap_test

import (
	"bytes"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
)

var actuallyPaid = regexp.MustCompile(`"actually_paid":[^,}]*`)

// TestSignedIPNMeansWhatWasSigned replays the attack an outside probe
// found: an IPN signed with actually_paid null (the order is held as
// underpaid) is sent again with 1e400, which signs alike. The replay is
// refused and the order stays held, never delivered.
func TestSignedIPNMeansWhatWasSigned(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h.placeOrder("replay@example.com", line(sku, 1))
	body, _ := h.ipn(o.ID, "finished", "")
	signed := actuallyPaid.ReplaceAll(body, []byte(`"actually_paid":null`))
	sig, err := nowpayments.Sign(h.cfg.IPNSecret, signed)
	if err != nil {
		t.Fatal(err)
	}
	if code, raw := h.postIPN(signed, sig); code != http.StatusOK {
		t.Fatalf("signed IPN: %d %s", code, raw)
	}
	if got := h.getOrder(o).Status; got != "underpaid" {
		t.Fatalf("nothing paid, order is %s", got)
	}
	replay := actuallyPaid.ReplaceAll(body, []byte(`"actually_paid":1e400`))
	if code, raw := h.postIPN(replay, sig); code != http.StatusBadRequest {
		t.Fatalf("replay with 1e400: %d %s, want 400", code, raw)
	}
	tiny := actuallyPaid.ReplaceAll(body, []byte(`"actually_paid":1e-100000000`))
	tinySig, _ := nowpayments.Sign(h.cfg.IPNSecret, tiny)
	if code, raw := h.postIPN(tiny, tinySig); code != http.StatusBadRequest || len(raw) > 2048 {
		t.Fatalf("1e-100000000: %d, %d bytes", code, len(raw))
	}
	if got := h.getOrder(o).Status; got != "underpaid" {
		t.Fatalf("after the replays the order is %s", got)
	}
}

// TestUnsignedIPNsAllLookAlike: an unsigned or wrongly signed body gets the
// same short 401 whatever it holds, so the parser tells a caller nothing.
func TestUnsignedIPNsAllLookAlike(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	wrong := strings.Repeat("0", 128)
	var first []byte
	for _, c := range []struct {
		body string
		sig  string
	}{
		{`{"payment_id":1,"payment_status":"finished","order_id":"x"}`, ""},
		{`{"payment_id":1,"payment_status":"finished","order_id":"x"}`, wrong},
		{`{"payment_id":`, wrong},
		{"not json at all", wrong},
		{"{\"a\":\"\xff\"}", "zz"},
		{`[]`, wrong},
	} {
		code, _, raw := h.do("POST", "/v1/webhooks/nowpayments", []byte(c.body), map[string]string{nowpayments.SignatureHeader: c.sig}, nil)
		if code != http.StatusUnauthorized {
			t.Fatalf("%q: %d %s", c.body, code, raw)
		}
		if first == nil {
			first = raw
		} else if !bytes.Equal(raw, first) {
			t.Fatalf("answers differ:\n%s\n%s", first, raw)
		}
	}
	if bytes.Contains(first, []byte("offset")) {
		t.Fatalf("the answer speaks of the parser: %s", first)
	}
}

// TestIPNSpellingsAreStoredOnce: whitespace variants, reordered keys and an
// added __proto__ member keep a captured IPN's signature; the notification
// log keeps one row for all of them.
func TestIPNSpellingsAreStoredOnce(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	var db *sqlx.DB
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url }, fx.Populate(&db))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h.placeOrder("spellings@example.com", line(sku, 1))
	body, sig := h.ipn(o.ID, "waiting", "")
	for _, b := range [][]byte{
		body,
		bytes.ReplaceAll(body, []byte(","), []byte(" ,\n ")),
		bytes.Replace(body, []byte("{"), []byte(`{"__proto__":{"a":1},`), 1),
		bytes.Replace(body, []byte("{"), []byte(`{ "__proto__" : null , `), 1),
	} {
		if code, raw := h.postIPN(b, sig); code != http.StatusOK {
			t.Fatalf("%d %s", code, raw)
		}
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM payment_notifications WHERE order_id = $1`, o.ID); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("%d notification rows for one signed IPN, want 1", n)
	}
}

var ipnOrderID = regexp.MustCompile(`"order_id":"[^"]*"`)

// TestIPNTheOrderRefusesIsStoredAndAudited: a signed notification that
// cannot move its order (an order keyward does not know; a payment that is
// not the order's) is stored in the notification log and audited all the
// same, though it is applied in the unit of work that stores it, and a
// second copy is stored and audited no more.
func TestIPNTheOrderRefusesIsStoredAndAudited(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	var db *sqlx.DB
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url }, fx.Populate(&db))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h.placeOrder("refused-ipn@example.com", line(sku, 1))
	other := h.placeOrder("refused-ipn-other@example.com", line(sku, 1))
	body, _ := h.ipn(o.ID, "finished", "")
	unknown := ipnOrderID.ReplaceAll(body, []byte(`"order_id":"ord-unknown"`))
	// other's payment, sent for o: not the order's.
	otherBody, _ := h.ipn(other.ID, "finished", "")
	foreign := ipnOrderID.ReplaceAll(otherBody, []byte(`"order_id":"`+o.ID+`"`))
	for _, c := range []struct {
		name    string
		body    []byte
		orderID string
		code    int
	}{
		{"unknown order", unknown, "ord-unknown", http.StatusNotFound},
		{"payment not the order's", foreign, o.ID, http.StatusConflict},
	} {
		sig, err := nowpayments.Sign(h.cfg.IPNSecret, c.body)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if code, raw := h.postIPN(c.body, sig); code == http.StatusOK || code/100 == 5 {
				t.Fatalf("%s: %d %s, want it refused", c.name, code, raw)
			}
		}
		var stored, audited int
		if err := db.Get(&stored, `SELECT count(*) FROM payment_notifications WHERE order_id = $1`, c.orderID); err != nil {
			t.Fatal(err)
		}
		if err := db.Get(&audited, `SELECT count(*) FROM (SELECT action, subject FROM audit_log UNION ALL
			SELECT action, subject FROM audit_pending) r WHERE action = $1 AND subject = $2`, application.AuditPaymentNotification, c.orderID); err != nil {
			t.Fatal(err)
		}
		if stored != 1 || audited != 1 {
			t.Fatalf("%s: %d notifications stored and %d audited, want 1 and 1", c.name, stored, audited)
		}
	}
	if got := h.getOrder(o).Status; got != "pending_payment" {
		t.Fatalf("order moved to %s by notifications it refused", got)
	}
}
