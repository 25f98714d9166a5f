package domain

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/shopspring/decimal"
)

// Currency is an upper-case ISO 4217 code such as EUR.
type Currency struct{ code string }

var currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)

// ParseCurrency accepts a three-letter code in any case. It returns
// ErrInvalidMoney for anything else.
func ParseCurrency(s string) (Currency, error) {
	code := strings.ToUpper(strings.TrimSpace(s))
	if !currencyPattern.MatchString(code) {
		return Currency{}, fmt.Errorf("%w: currency %q is not an ISO 4217 code", ErrInvalidMoney, s)
	}
	return Currency{code: code}, nil
}

// MustCurrency is ParseCurrency for constants; it panics on a bad code.
func MustCurrency(s string) Currency {
	c, err := ParseCurrency(s)
	if err != nil {
		panic(err)
	}
	return c
}

// EUR is the currency the catalog is priced in.
var EUR = MustCurrency("EUR")

// String returns the upper-case code, "" for the zero value.
func (c Currency) String() string { return c.code }

// IsZero reports whether c is the zero value (no currency).
func (c Currency) IsZero() bool { return c.code == "" }

// Money is a decimal amount in one currency. It never uses floating point.
type Money struct {
	amount   decimal.Decimal
	currency Currency
}

// NewMoney parses a decimal string such as "19.99". Negative amounts, more
// than two fractional digits and an unknown currency return ErrInvalidMoney.
func NewMoney(amount string, currency string) (Money, error) {
	cur, err := ParseCurrency(currency)
	if err != nil {
		return Money{}, err
	}
	d, err := decimal.NewFromString(strings.TrimSpace(amount))
	if err != nil {
		return Money{}, fmt.Errorf("%w: amount %q is not a decimal", ErrInvalidMoney, amount)
	}
	return MoneyFromDecimal(d, cur)
}

// MoneyFromDecimal builds Money from a decimal; see NewMoney for the rules.
func MoneyFromDecimal(d decimal.Decimal, cur Currency) (Money, error) {
	if cur.IsZero() {
		return Money{}, fmt.Errorf("%w: missing currency", ErrInvalidMoney)
	}
	if d.IsNegative() {
		return Money{}, fmt.Errorf("%w: negative amount %s", ErrInvalidMoney, d)
	}
	if !d.Equal(d.Round(2)) {
		return Money{}, fmt.Errorf("%w: amount %s has more than two decimals", ErrInvalidMoney, d)
	}
	return Money{amount: d.Round(2), currency: cur}, nil
}

// MustMoney is NewMoney for tests and constants; it panics on bad input.
func MustMoney(amount, currency string) Money {
	m, err := NewMoney(amount, currency)
	if err != nil {
		panic(err)
	}
	return m
}

// Amount returns the decimal amount.
func (m Money) Amount() decimal.Decimal { return m.amount }

// Currency returns the currency.
func (m Money) Currency() Currency { return m.currency }

// String formats the amount with two decimals, without the currency.
func (m Money) String() string { return m.amount.StringFixed(2) }

// Mul multiplies by a whole quantity.
func (m Money) Mul(n int) Money {
	return Money{amount: m.amount.Mul(decimal.NewFromInt(int64(n))), currency: m.currency}
}

// Add sums two amounts of the same currency; a mismatch returns ErrInvalidMoney.
func (m Money) Add(o Money) (Money, error) {
	if m.currency != o.currency {
		return Money{}, fmt.Errorf("%w: cannot add %s to %s", ErrInvalidMoney, o.currency, m.currency)
	}
	return Money{amount: m.amount.Add(o.amount), currency: m.currency}, nil
}

// Equal reports whether both amount and currency are equal.
func (m Money) Equal(o Money) bool {
	return m.currency == o.currency && m.amount.Equal(o.amount)
}

// Zero returns zero in the given currency.
func Zero(cur Currency) Money { return Money{amount: decimal.Zero, currency: cur} }
