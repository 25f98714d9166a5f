package application

import (
	"testing"

	"github.com/shopspring/decimal"
)

func TestRetailPrice(t *testing.T) {
	t.Parallel()
	d := decimal.RequireFromString
	for _, c := range []struct{ cost, margin, want string }{
		{"17.49", "0.10", "19.99"}, // 19.239 → 19.99
		{"18.17", "0.10", "19.99"}, // 19.987 → 19.99
		{"18.18", "0.10", "20.99"}, // 19.998 → next .99
		{"10.00", "0", "10.99"},    // 10.00 exactly: 9.99 would undercut
		{"9.99", "0", "9.99"},      // already charm-priced
		{"0.50", "0.10", "0.99"},
	} {
		if got := retailPrice(d(c.cost), d(c.margin)); !got.Equal(d(c.want)) {
			t.Errorf("retailPrice(%s, %s) = %s, want %s", c.cost, c.margin, got, c.want)
		}
	}
}
