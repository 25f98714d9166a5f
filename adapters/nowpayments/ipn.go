package nowpayments

import (
	"crypto/sha256"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Provider is the name notifications are recorded under.
const Provider = "nowpayments"

// Verifier checks NOWPayments IPNs and turns them into payment updates. It
// implements ports.NotificationVerifier.
type Verifier struct {
	secret string
}

// NewVerifier returns a verifier for the dashboard's IPN secret.
func NewVerifier(secret string) *Verifier { return &Verifier{secret: secret} }

// Verify returns ports.ErrSignatureInvalid, and nothing more specific, for
// every body it cannot prove NOWPayments signed: a missing or ill-formed
// signature (refused before the body is parsed), a body that does not parse,
// or a signature that does not match. A caller without the secret learns
// nothing about the parser. A signed body that lacks a field keyward needs
// (payment_id, order_id, payment_status), names a field with the case of a known one
// changed, or writes a number whose decimal text is not exactly the value
// that was signed, returns ports.ErrMalformedNotice.
//
// Every value it returns is read from the same parse the signature was
// checked over. An unknown payment status is no error: the notice's Status
// carries it and its Update.Status is zero.
func (v *Verifier) Verify(body []byte, signature string) (ports.PaymentNotice, error) {
	obj, canonical, err := verify(v.secret, body, signature)
	if err != nil {
		return ports.PaymentNotice{}, ports.ErrSignatureInvalid
	}
	n, err := readNotice(obj)
	if err != nil {
		return ports.PaymentNotice{}, fmt.Errorf("%w: %v", ports.ErrMalformedNotice, err)
	}
	n.CanonicalSHA256 = sha256.Sum256(canonical)
	return n, nil
}

// ipnFields are the IPN fields keyward reads. A body that has a key equal to
// one of them but for case (or Unicode folding, such as "payment_ſtatus") is
// refused: JavaScript, and so the signature, sees another field, and a
// case-insensitive reader would not.
var ipnFields = []string{
	"payment_id", "parent_payment_id", "payment_status", "order_id", "price_amount", "price_currency",
	"pay_amount", "actually_paid", "pay_currency",
}

func readNotice(obj jsObject) (ports.PaymentNotice, error) {
	for k := range obj {
		key := goString(jsString(k))
		for _, f := range ipnFields {
			if key != f && strings.EqualFold(key, f) {
				return ports.PaymentNotice{}, fmt.Errorf("field %.40q differs from %q only by case", key, f)
			}
		}
	}
	r := reader{obj: obj}
	paymentID := r.id("payment_id")
	orderID := r.text("order_id")
	statusText := r.text("payment_status")
	u := domain.PaymentUpdate{
		PaymentID:       paymentID,
		ParentPaymentID: r.id("parent_payment_id"),
		PriceAmount:     r.amount("price_amount"),
		PriceCurrency:   strings.ToUpper(r.text("price_currency")),
		PayAmount:       r.amount("pay_amount"),
		ActuallyPaid:    r.amount("actually_paid"),
		PayCurrency:     strings.ToLower(r.text("pay_currency")),
	}
	if r.err != nil {
		return ports.PaymentNotice{}, r.err
	}
	if paymentID == "" || orderID == "" {
		return ports.PaymentNotice{}, fmt.Errorf("payment_id and order_id are required")
	}
	if statusText == "" {
		return ports.PaymentNotice{}, fmt.Errorf("payment_status is required")
	}
	// A status keyward does not know stays zero: the notice is recorded
	// and ignored, not refused (NOWPayments would resend it for ever).
	u.Status, _ = domain.ParsePaymentStatus(statusText)
	return ports.PaymentNotice{Provider: Provider, OrderID: orderID, Status: statusText, Update: u}, nil
}

// reader reads typed fields out of a parsed IPN, keeping the first error.
type reader struct {
	obj jsObject
	err error
}

func (r *reader) get(name string) any { return r.obj[string(utf16be(name))] }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

// maxTextLen bounds the strings keyward takes from an IPN (ids, statuses,
// currency codes).
const maxTextLen = 128

// text reads a string field; null or absent is "".
func (r *reader) text(name string) string {
	switch v := r.get(name).(type) {
	case nil:
		return ""
	case jsString:
		s := goString(v)
		if len(s) > maxTextLen {
			r.fail("%s is longer than %d bytes", name, maxTextLen)
			return ""
		}
		if strings.ContainsFunc(s, unicode.IsControl) {
			// A NUL cannot be stored in Postgres text; none of these
			// fields has a use for any control character.
			r.fail("%s holds a control character", name)
			return ""
		}
		return s
	default:
		r.fail("%s must be a string", name)
		return ""
	}
}

// id reads an id sent as a string or as an integer number.
func (r *reader) id(name string) string {
	if n, ok := r.get(name).(jsNumber); ok {
		d, err := signedDecimal(n)
		if err != nil {
			r.fail("%s: %v", name, err)
			return ""
		}
		if !d.IsInteger() || d.IsNegative() {
			r.fail("%s must be a whole number", name)
			return ""
		}
		return d.String()
	}
	return r.text(name)
}

// plainDecimal is how an amount sent as a string must read: a plain
// decimal, no exponent, bounded digits.
var plainDecimal = regexp.MustCompile(`^-?[0-9]{1,24}(\.[0-9]{1,24})?$`)

// amount reads an amount sent as a number or a decimal string; null or
// absent is zero, which the order treats as nothing paid.
func (r *reader) amount(name string) decimal.Decimal {
	switch v := r.get(name).(type) {
	case nil:
		return decimal.Zero
	case jsNumber:
		d, err := signedDecimal(v)
		if err != nil {
			r.fail("%s: %v", name, err)
		}
		return d
	case jsString:
		s := goString(v)
		if !plainDecimal.MatchString(s) {
			r.fail("%s %.40q is not a plain decimal number", name, s)
			return decimal.Zero
		}
		return decimal.RequireFromString(s)
	default:
		r.fail("%s must be a number or a decimal string", name)
		return decimal.Zero
	}
}

// Bounds on a number's text: amounts and ids need far less, and an
// exponent such as 1e-100000000 must not become a 100 MB decimal.
const (
	maxNumberDigits   = 40
	maxNumberExponent = 64
)

// signedDecimal returns the exact decimal a JSON number's text denotes, and
// refuses it unless that is the very value that was signed: the double
// JSON.parse made of it, as JSON.stringify writes it. Two texts that sign
// alike (1e400 and null, 1e-400 and 0, 0.1000000000000000000001 and 0.1)
// can then never mean different amounts. -0 and 0 are both zero.
func signedDecimal(n jsNumber) (decimal.Decimal, error) {
	mantissa, exp, hasExp := strings.Cut(strings.ToLower(n.text), "e")
	if len(mantissa) > maxNumberDigits+2 { // sign and point

		return decimal.Zero, fmt.Errorf("number has more than %d digits", maxNumberDigits)
	}
	if hasExp {
		exp = strings.TrimLeft(strings.TrimLeft(exp, "+-"), "0")
		if e, err := strconv.Atoi("0" + exp); len(exp) > 2 || err != nil || e > maxNumberExponent {
			return decimal.Zero, fmt.Errorf("number exponent is beyond ±%d", maxNumberExponent)
		}
	}
	if math.IsInf(n.f, 0) || math.IsNaN(n.f) {
		return decimal.Zero, fmt.Errorf("number is out of range")
	}
	d, err := decimal.NewFromString(n.text)
	if err != nil {
		return decimal.Zero, fmt.Errorf("number %.40q: %v", n.text, err)
	}
	signed := decimal.RequireFromString(string(appendNumber(nil, n.f)))
	if !d.Equal(signed) {
		return decimal.Zero, fmt.Errorf("number %.40q is not exactly the signed value %s", n.text, signed)
	}
	return d, nil
}

// goString decodes a parsed (UTF-16BE) string; a lone surrogate becomes
// U+FFFD.
func goString(s jsString) string {
	units := make([]uint16, len(s)/2)
	for i := range units {
		units[i] = uint16(s[2*i])<<8 | uint16(s[2*i+1])
	}
	return string(utf16.Decode(units))
}
