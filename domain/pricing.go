package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/shopspring/decimal"
)

// ErrInvalidPricing: a margin, fee or price ending that cannot price.
var ErrInvalidPricing = errors.New("invalid pricing")

// PriceEnding is what a sale price ends in: ".99" makes 19.99, 20.99;
// "9.99" makes 19.99, 29.99; "" rounds up to the cent. Prices round up to
// the next price with that ending, never down.
type PriceEnding struct {
	text  string
	value decimal.Decimal // the ending, e.g. 0.99 or 9.99
	step  decimal.Decimal // what the ending repeats by, e.g. 1 or 10
}

var endingPattern = regexp.MustCompile(`^[0-9]*\.[0-9]{2}$`)

// ParsePriceEnding accepts "", ".99", "0.95", "9.99" (digits, a point and
// two decimals); ErrInvalidPricing otherwise.
func ParsePriceEnding(s string) (PriceEnding, error) {
	s = strings.TrimSpace(s)
	cent := decimal.New(1, -2)
	if s == "" {
		return PriceEnding{text: "", value: decimal.Zero, step: cent}, nil
	}
	if !endingPattern.MatchString(s) {
		return PriceEnding{}, fmt.Errorf("%w: price ending %q is not like .99 or 9.99", ErrInvalidPricing, s)
	}
	whole, _, _ := strings.Cut(s, ".")
	whole = strings.TrimLeft(whole, "0")
	v := decimal.RequireFromString("0" + s)
	return PriceEnding{text: s, value: v, step: decimal.New(1, int32(len(whole)))}, nil
}

// DefaultPriceEnding is ".99".
var DefaultPriceEnding = PriceEnding{text: ".99", value: decimal.RequireFromString("0.99"), step: decimal.NewFromInt(1)}

// String returns the ending as configured.
func (e PriceEnding) String() string { return e.text }

// RoundUp returns the smallest price with the ending at or above d; the
// zero PriceEnding is DefaultPriceEnding.
func (e PriceEnding) RoundUp(d decimal.Decimal) decimal.Decimal {
	if e.step.IsZero() {
		e = DefaultPriceEnding
	}
	p := d.Div(e.step).Floor().Mul(e.step).Add(e.value)
	if p.LessThan(d) {
		p = p.Add(e.step)
	}
	return p
}

// MarginScope says what a margin rule applies to.
type MarginScope struct{ name string }

// Margin scopes, from the most to the least specific.
var (
	MarginForProduct  = MarginScope{"product"}
	MarginForPlatform = MarginScope{"platform"}
)

// ParseMarginScope returns the scope named s, or ErrInvalidPricing.
func ParseMarginScope(s string) (MarginScope, error) {
	switch s {
	case MarginForProduct.name:
		return MarginForProduct, nil
	case MarginForPlatform.name:
		return MarginForPlatform, nil
	}
	return MarginScope{}, fmt.Errorf("%w: unknown margin scope %q", ErrInvalidPricing, s)
}

// String returns the scope's stored name.
func (s MarginScope) String() string { return s.name }

// maxMargin bounds margins: 10 is a 1000% markup, beyond any typo we
// would want to price with.
var maxMargin = decimal.NewFromInt(10)

// MarginRule is a stored margin for one product (by sku) or one platform
// (matched case-insensitively).
type MarginRule struct {
	scope  MarginScope
	key    string
	margin decimal.Decimal
}

// NewMarginRule validates a rule: a known scope, a key, and a margin from
// 0 to 10; ErrInvalidPricing otherwise.
func NewMarginRule(scope MarginScope, key string, margin decimal.Decimal) (MarginRule, error) {
	key = strings.TrimSpace(key)
	switch {
	case scope == (MarginScope{}):
		return MarginRule{}, fmt.Errorf("%w: a margin rule needs a scope", ErrInvalidPricing)
	case key == "" || len(key) > 100:
		return MarginRule{}, fmt.Errorf("%w: a %s margin needs a name of 1..100 characters", ErrInvalidPricing, scope)
	}
	if err := checkMargin(margin); err != nil {
		return MarginRule{}, err
	}
	if scope == MarginForPlatform {
		key = strings.ToLower(key)
	}
	return MarginRule{scope: scope, key: key, margin: margin}, nil
}

func checkMargin(m decimal.Decimal) error {
	if m.IsNegative() || m.GreaterThan(maxMargin) || !m.Equal(m.Round(4)) {
		return fmt.Errorf("%w: margin %s is not between 0 and %s with at most 4 decimals", ErrInvalidPricing, m, maxMargin)
	}
	return nil
}

// Scope returns what the rule applies to.
func (r MarginRule) Scope() MarginScope { return r.scope }

// Key returns the sku or the (lower-case) platform.
func (r MarginRule) Key() string { return r.key }

// Margin returns the markup, e.g. 0.10 for 10%.
func (r MarginRule) Margin() decimal.Decimal { return r.margin }

// Pricing turns supplier cost into a sale price: cost × (1 + margin) +
// fee, rounded up to the ending. The margin is the product's rule, else
// its platform's, else the default.
type Pricing struct {
	margin   decimal.Decimal
	fee      decimal.Decimal
	ending   PriceEnding
	product  map[string]decimal.Decimal
	platform map[string]decimal.Decimal
}

// NewPricing returns the pricing with the default margin, the fixed fee
// (in the cost's currency), the ending and the stored rules; it returns
// ErrInvalidPricing for a margin out of range or a negative fee.
func NewPricing(margin, fee decimal.Decimal, ending PriceEnding, rules ...MarginRule) (Pricing, error) {
	if err := checkMargin(margin); err != nil {
		return Pricing{}, err
	}
	if fee.IsNegative() || !fee.Equal(fee.Round(2)) {
		return Pricing{}, fmt.Errorf("%w: fee %s must be a non-negative amount in cents", ErrInvalidPricing, fee)
	}
	p := Pricing{margin: margin, fee: fee, ending: ending, product: map[string]decimal.Decimal{}, platform: map[string]decimal.Decimal{}}
	for _, r := range rules {
		switch r.scope {
		case MarginForProduct:
			p.product[r.key] = r.margin
		case MarginForPlatform:
			p.platform[r.key] = r.margin
		}
	}
	return p, nil
}

// MarginFor returns the margin a product is priced with.
func (p Pricing) MarginFor(sku, platform string) decimal.Decimal {
	if m, ok := p.product[sku]; ok {
		return m
	}
	if m, ok := p.platform[strings.ToLower(strings.TrimSpace(platform))]; ok {
		return m
	}
	return p.margin
}

// SalePrice returns the price of one key of the product at cost.
func (p Pricing) SalePrice(sku, platform string, cost Money) (Money, error) {
	raw := cost.Amount().Mul(decimal.NewFromInt(1).Add(p.MarginFor(sku, platform))).Add(p.fee)
	price, err := MoneyFromDecimal(p.ending.RoundUp(raw), cost.Currency())
	if err != nil {
		return Money{}, fmt.Errorf("price of %s: %w", sku, err)
	}
	return price, nil
}
