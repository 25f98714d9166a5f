package domain_test

import (
	"errors"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
)

func TestPriceEndingRoundsUp(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ending, raw, want string }{
		{".99", "19.239", "19.99"},
		{".99", "19.987", "19.99"},
		{".99", "19.998", "20.99"}, // past .99: the next one
		{".99", "10.00", "10.99"},  // 9.99 would undercut
		{".99", "9.99", "9.99"},    // already ends so
		{".99", "0.50", "0.99"},
		{".95", "19.96", "20.95"},
		{"0.49", "3.10", "3.49"},
		{"9.99", "12.00", "19.99"}, // ends in 9.99: 19.99, 29.99, ...
		{"9.99", "19.99", "19.99"},
		{"9.99", "20.00", "29.99"},
		{".00", "12.01", "13.00"}, // whole units
		{"", "12.001", "12.01"},   // no ending: up to the cent
		{"", "12.00", "12.00"},
	} {
		e, err := domain.ParsePriceEnding(c.ending)
		if err != nil {
			t.Fatalf("ParsePriceEnding(%q): %v", c.ending, err)
		}
		if got := e.RoundUp(decimal.RequireFromString(c.raw)); !got.Equal(decimal.RequireFromString(c.want)) {
			t.Errorf("ending %q: RoundUp(%s) = %s, want %s", c.ending, c.raw, got, c.want)
		}
	}
	if got := (domain.PriceEnding{}).RoundUp(decimal.RequireFromString("4.20")); !got.Equal(decimal.RequireFromString("4.99")) {
		t.Errorf("the zero ending rounds 4.20 to %s, want the default .99: 4.99", got)
	}
}

func TestPriceEndingRefusesWhatItCannotMean(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"99", ".9", ".999", "abc", "-.99", "1,99"} {
		if _, err := domain.ParsePriceEnding(s); !errors.Is(err, domain.ErrInvalidPricing) {
			t.Errorf("ParsePriceEnding(%q) = %v, want ErrInvalidPricing", s, err)
		}
	}
}

func TestSalePrice(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	rule := func(scope domain.MarginScope, key, m string) domain.MarginRule {
		r, err := domain.NewMarginRule(scope, key, d(m))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	rules := []domain.MarginRule{
		rule(domain.MarginForPlatform, "Steam", "0.20"),
		rule(domain.MarginForProduct, "elden-ring", "0.05"),
		rule(domain.MarginForPlatform, "gog", "0"),
	}
	for _, c := range []struct {
		name, sku, platform, cost, margin, fee, ending, want string
	}{
		{"default margin", "any", "Xbox", "17.49", "0.10", "0", ".99", "19.99"},      // 19.239
		{"fee after margin", "any", "Xbox", "17.49", "0.10", "1.50", ".99", "20.99"}, // 20.739
		{"platform margin", "hades", "Steam", "10.00", "0.10", "0", ".99", "12.99"},  // 12.00 → 12.99
		{"platform any case", "hades", "STEAM", "10.00", "0.10", "0", "", "12.00"},
		{"product beats platform", "elden-ring", "Steam", "10.00", "0.10", "0", "", "10.50"},
		{"zero platform margin", "witcher", "GOG", "7.49", "0.10", "0", ".99", "7.99"},
		{"fee with no ending", "any", "Xbox", "10.00", "0.10", "0.25", "", "11.25"},
		{"ending in 9.99", "any", "Xbox", "17.49", "0.10", "0", "9.99", "19.99"},
	} {
		e, err := domain.ParsePriceEnding(c.ending)
		if err != nil {
			t.Fatal(err)
		}
		p, err := domain.NewPricing(d(c.margin), d(c.fee), e, rules...)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.SalePrice(c.sku, c.platform, domain.MustMoney(c.cost, "EUR"))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !got.Equal(domain.MustMoney(c.want, "EUR")) {
			t.Errorf("%s: SalePrice(%s, %s, %s) = %s, want %s", c.name, c.sku, c.platform, c.cost, got, c.want)
		}
	}
}

func TestPricingRefusesBadMarginsAndFees(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	for _, m := range []string{"-0.01", "10.5", "0.12345"} {
		if _, err := domain.NewMarginRule(domain.MarginForProduct, "sku", d(m)); !errors.Is(err, domain.ErrInvalidPricing) {
			t.Errorf("margin %s: %v, want ErrInvalidPricing", m, err)
		}
	}
	if _, err := domain.NewMarginRule(domain.MarginForPlatform, " ", d("0.1")); !errors.Is(err, domain.ErrInvalidPricing) {
		t.Errorf("a platform rule without a platform: %v", err)
	}
	for _, fee := range []string{"-1", "0.001"} {
		if _, err := domain.NewPricing(d("0.1"), d(fee), domain.DefaultPriceEnding); !errors.Is(err, domain.ErrInvalidPricing) {
			t.Errorf("fee %s: %v, want ErrInvalidPricing", fee, err)
		}
	}
}
