package nowpayments

import (
	"errors"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

const testSecret = "ipn-test-secret-0123456789"

// ipnWith is a finished IPN whose actually_paid is written as paid.
func ipnWith(paid string) string {
	return `{"payment_id":5077125051,"payment_status":"finished","pay_address":"addr","price_amount":19.99,` +
		`"price_currency":"eur","pay_amount":0.0004,"actually_paid":` + paid + `,"pay_currency":"btc","order_id":"o-1"}`
}

func mustSign(t testing.TB, body string) string {
	t.Helper()
	sig, err := Sign(testSecret, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestNumbersMeanWhatWasSigned: a number is acted on only when its decimal
// text is exactly the double that was signed. Spellings that sign alike but
// read differently (the attack: sign null, replay 1e400) are refused.
func TestNumbersMeanWhatWasSigned(t *testing.T) {
	t.Parallel()
	v := NewVerifier(testSecret)
	for _, c := range []struct {
		paid    string
		want    string // the amount acted on; "" means refused
		signsAs string // another spelling with the same signature, if any
	}{
		{paid: "0.0004", want: "0.0004"},
		{paid: "4e-4", want: "0.0004", signsAs: "0.0004"},
		{paid: "0.00040", want: "0.0004", signsAs: "0.0004"},
		{paid: "0", want: "0"},
		{paid: "-0", want: "0", signsAs: "0"},
		{paid: "null", want: "0"},
		{paid: `"0.0004"`, want: "0.0004"},
		{paid: "1e400", signsAs: "null"},
		{paid: "-1e400", signsAs: "null"},
		{paid: "1e-400", signsAs: "0"},
		{paid: "0.0004000000000000000000001", signsAs: "0.0004"},
		{paid: "9007199254740993", signsAs: "9007199254740992"},
		{paid: "1e-100000000", signsAs: "0"},
		{paid: "1" + strings.Repeat("0", 60)},
		{paid: `"1e3"`},
		{paid: `"NaN"`},
		{paid: `"` + strings.Repeat("9", 30) + `"`},
		{paid: "true"},
	} {
		t.Run(c.paid[:min(len(c.paid), 24)], func(t *testing.T) {
			body := ipnWith(c.paid)
			if c.signsAs != "" {
				a, _ := Canonicalize([]byte(body))
				b, _ := Canonicalize([]byte(ipnWith(c.signsAs)))
				if string(a) != string(b) {
					t.Fatalf("test premise: %s and %s canonicalise differently:\n%s\n%s", c.paid, c.signsAs, a, b)
				}
			}
			n, err := v.Verify([]byte(body), mustSign(t, body))
			if c.want == "" {
				if !errors.Is(err, ports.ErrMalformedNotice) {
					t.Fatalf("accepted (%v) an amount that does not mean what was signed: %+v", err, n.Update.ActuallyPaid)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !n.Update.ActuallyPaid.Equal(decimal.RequireFromString(c.want)) {
				t.Fatalf("acted on %s, want %s", n.Update.ActuallyPaid, c.want)
			}
		})
	}
}

// TestKeysAreMatchedExactly: a key that JavaScript (and so the signature)
// treats as another field, but a case-insensitive decoder would take for a
// known one, is refused rather than read either way.
func TestKeysAreMatchedExactly(t *testing.T) {
	t.Parallel()
	v := NewVerifier(testSecret)
	base := ipnWith("0.0004")
	for _, body := range []string{
		strings.Replace(base, `"payment_status":"finished"`, `"payment_status":"waiting","Payment_Status":"finished"`, 1),
		strings.Replace(base, `"payment_status":"finished"`, `"payment_status":"waiting","payment_ſtatus":"finished"`, 1),
		strings.Replace(base, `"payment_status":"finished"`, `"PAYMENT_STATUS":"finished"`, 1),
		strings.Replace(base, `"order_id":"o-1"`, `"order_id":"o-1","ORDER_ID":"o-2"`, 1),
	} {
		if _, err := v.Verify([]byte(body), mustSign(t, body)); !errors.Is(err, ports.ErrMalformedNotice) {
			t.Errorf("accepted (%v): %s", err, body)
		}
	}
	// Unknown fields in other cases are NOWPayments' business.
	extra := strings.Replace(base, `"order_id":"o-1"`, `"order_id":"o-1","Purchase_ID":"x"`, 1)
	if n, err := v.Verify([]byte(extra), mustSign(t, extra)); err != nil || n.Update.Status != domain.PaymentFinished {
		t.Fatalf("an unknown field was refused: %v", err)
	}
}

// TestUnsignedBodiesAreNotParsedForTheCaller: whatever an unsigned or
// wrongly signed body holds, the answer is the same bare
// ErrSignatureInvalid, with no parser detail.
func TestUnsignedBodiesAreNotParsedForTheCaller(t *testing.T) {
	t.Parallel()
	v := NewVerifier(testSecret)
	good := ipnWith("0.0004")
	wrong := strings.Repeat("ab", 64)
	for _, c := range []struct{ body, sig string }{
		{good, ""},
		{good, "not-hex"},
		{good, strings.Repeat("a", 127)},
		{good, wrong},
		{`{"payment_id":`, wrong},
		{"\x00\xff", wrong},
		{`[1,2,3]`, wrong},
		{`{"a":1} trailing`, mustSign(t, good)},
	} {
		_, err := v.Verify([]byte(c.body), c.sig)
		if err != ports.ErrSignatureInvalid {
			t.Errorf("body %.20q sig %.10q: %v, want exactly ErrSignatureInvalid", c.body, c.sig, err)
		}
	}
}

// TestSpellingsOfOneSignedBodyShareAHash: whitespace, key order and a
// __proto__ member keep the signature, and the notification's hash, so the
// log keeps one row for all of them.
func TestSpellingsOfOneSignedBodyShareAHash(t *testing.T) {
	t.Parallel()
	v := NewVerifier(testSecret)
	base := ipnWith("0.0004")
	sig := mustSign(t, base)
	first, err := v.Verify([]byte(base), sig)
	if err != nil {
		t.Fatal(err)
	}
	for _, variant := range []string{
		strings.ReplaceAll(base, ",", " ,\n\t"),
		`{"order_id":"o-1",` + strings.TrimPrefix(strings.Replace(base, `,"order_id":"o-1"`, "", 1), "{"),
		strings.Replace(base, "{", `{"__proto__":{"x":1},`, 1),
	} {
		n, err := v.Verify([]byte(variant), sig)
		if err != nil {
			t.Fatalf("%v: %s", err, variant)
		}
		if n.CanonicalSHA256 != first.CanonicalSHA256 || !sameDecision(n, first) {
			t.Fatalf("variant read differently: %s", variant)
		}
	}
}

// FuzzSameSignatureSameDecision: a body and its canonical form carry the
// same signature; when both are accepted they must lead to the same payment
// decision. Any two bodies that share a signature share the canonical form,
// so this covers every pair.
func FuzzSameSignatureSameDecision(f *testing.F) {
	for _, paid := range []string{"0.0004", "4e-4", "1e400", "-0", "null", "1e-400", `"0.1"`, "0.1000000000000000000001"} {
		f.Add(ipnWith(paid))
	}
	f.Add(strings.Replace(ipnWith("1"), `"payment_status"`, `"Payment_Status":"waiting","payment_status"`, 1))
	v := NewVerifier(testSecret)
	f.Fuzz(func(t *testing.T, body string) {
		canonical, err := Canonicalize([]byte(body))
		if err != nil {
			return
		}
		sig := mustSign(t, body)
		a, errA := v.Verify([]byte(body), sig)
		b, errB := v.Verify(canonical, sig)
		if errors.Is(errB, ports.ErrSignatureInvalid) {
			t.Fatalf("the canonical form does not carry the body's signature: %s", canonical)
		}
		if errA != nil || errB != nil {
			return
		}
		if !sameDecision(a, b) || a.CanonicalSHA256 != b.CanonicalSHA256 {
			t.Fatalf("one signature, two decisions:\n%s → %+v\n%s → %+v", body, a.Update, canonical, b.Update)
		}
	})
}

// sameDecision compares what keyward acts on, amounts by value.
func sameDecision(a, b ports.PaymentNotice) bool {
	x, y := a.Update, b.Update
	return a.OrderID == b.OrderID && a.Provider == b.Provider && x.PaymentID == y.PaymentID && x.Status == y.Status &&
		x.PriceCurrency == y.PriceCurrency && x.PayCurrency == y.PayCurrency && x.PriceAmount.Equal(y.PriceAmount) &&
		x.PayAmount.Equal(y.PayAmount) && x.ActuallyPaid.Equal(y.ActuallyPaid)
}

// TestParentPaymentAndUnknownStatus: a repeat deposit names its parent
// payment (as a number or a string); a status keyward does not know is
// passed on as sent with a zero domain status, not refused; a missing
// status is refused.
func TestParentPaymentAndUnknownStatus(t *testing.T) {
	t.Parallel()
	v := NewVerifier(testSecret)
	base := ipnWith("0.0004")
	for _, c := range []struct {
		name, body, parent, status string
		known                      bool
	}{
		{"no parent", base, "", "finished", true},
		{"null parent", strings.Replace(base, `"order_id"`, `"parent_payment_id":null,"order_id"`, 1), "", "finished", true},
		{"numeric parent", strings.Replace(base, `"order_id"`, `"parent_payment_id":5077125050,"order_id"`, 1), "5077125050", "finished", true},
		{"string parent", strings.Replace(base, `"order_id"`, `"parent_payment_id":"5077125050","order_id"`, 1), "5077125050", "finished", true},
		{"unknown status", strings.Replace(base, `"finished"`, `"wrong_asset_confirmed"`, 1), "", "wrong_asset_confirmed", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n, err := v.Verify([]byte(c.body), mustSign(t, c.body))
			if err != nil {
				t.Fatal(err)
			}
			if n.Update.ParentPaymentID != c.parent || n.Status != c.status || n.Update.Status.IsZero() == c.known {
				t.Fatalf("parent %q status %q (%v)", n.Update.ParentPaymentID, n.Status, n.Update.Status)
			}
		})
	}
	for _, body := range []string{
		strings.Replace(base, `"payment_status":"finished",`, ``, 1),
		strings.Replace(base, `"finished"`, `""`, 1),
		strings.Replace(base, `"order_id"`, `"parent_payment_id":1.5,"order_id"`, 1),
		strings.Replace(base, `"order_id"`, `"PARENT_PAYMENT_ID":1,"order_id"`, 1),
	} {
		if _, err := v.Verify([]byte(body), mustSign(t, body)); !errors.Is(err, ports.ErrMalformedNotice) {
			t.Errorf("accepted (%v): %s", err, body)
		}
	}
}

// TestControlCharactersInSignedFieldsAreMalformed: a correctly signed IPN
// whose ids, status or currencies hold a NUL or another control character
// is malformed (400 at the edge, nothing stored), not a storage failure.
func TestControlCharactersInSignedFieldsAreMalformed(t *testing.T) {
	t.Parallel()
	v := NewVerifier(testSecret)
	for _, c := range []struct{ field, from, to string }{
		{"order_id", `"order_id":"o-1"`, `"order_id":"o-\u00001"`},
		{"payment_id", `"payment_id":5077125051`, `"payment_id":"50771\u000025051"`},
		{"payment_status", `"payment_status":"finished"`, `"payment_status":"finished\u0000"`},
		{"payment_status", `"payment_status":"finished"`, `"payment_status":"fini\nshed"`},
		{"order_id", `"order_id":"o-1"`, `"order_id":"o-1\u001b[2J"`},
		{"order_id", `"order_id":"o-1"`, `"order_id":"o-1\u0085"`},
		{"pay_currency", `"pay_currency":"btc"`, `"pay_currency":"b\u0000tc"`},
		{"price_currency", `"price_currency":"eur"`, `"price_currency":"eur\u007f"`},
	} {
		body := strings.Replace(ipnWith("0.0004"), c.from, c.to, 1)
		if body == ipnWith("0.0004") {
			t.Fatalf("%s: the test body did not change", c.to)
		}
		_, err := v.Verify([]byte(body), mustSign(t, body))
		if !errors.Is(err, ports.ErrMalformedNotice) {
			t.Errorf("%s: %v, want ErrMalformedNotice", c.to, err)
		}
		if err != nil && strings.ContainsRune(err.Error(), 0) {
			t.Errorf("%s: the error repeats the NUL: %q", c.to, err)
		}
	}
}
