package domain_test

import (
	"testing"

	"github.com/keyward/keyward/domain"
)

// TestOrderStatusMachine checks every ordered pair of states against the
// design's table: the allowed edges and nothing else.
func TestOrderStatusMachine(t *testing.T) {
	t.Parallel()
	allowed := map[string][]string{
		"awaiting_payment_setup": {"pending_payment", "expired"},
		"pending_payment":        {"paid", "underpaid", "expired", "refunded"},
		"underpaid":              {"paid", "expired", "refunded"},
		"paid":                   {"fulfilling", "failed", "needs_review"},
		"fulfilling":             {"fulfilled", "failed", "needs_review"},
		"needs_review":           {"fulfilling", "revoked", "refunded"},
		"fulfilled":              {"delivered", "revoked", "refunded"},
		"delivered":              {"revoked", "refunded"},
		"failed":                 {"fulfilling", "revoked", "refunded"},
		"expired":                {"needs_review"},
		"revoked":                {},
		"refunded":               {},
	}
	if len(domain.OrderStatuses) != len(allowed) {
		t.Fatalf("%d statuses, table has %d", len(domain.OrderStatuses), len(allowed))
	}
	for _, from := range domain.OrderStatuses {
		want := map[string]bool{}
		for _, to := range allowed[from.String()] {
			want[to] = true
		}
		for _, to := range domain.OrderStatuses {
			if got := from.CanTransitionTo(to); got != want[to.String()] {
				t.Errorf("%s → %s: allowed=%v, want %v", from, to, got, want[to.String()])
			}
		}
		if got := from.IsTerminal(); got != (len(allowed[from.String()]) == 0) {
			t.Errorf("%s terminal=%v", from, got)
		}
	}
}

func TestParseStatuses(t *testing.T) {
	t.Parallel()
	for _, s := range domain.OrderStatuses {
		got, err := domain.ParseOrderStatus(s.String())
		if err != nil || got != s {
			t.Errorf("ParseOrderStatus(%q) = %v, %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "PAID", "shipped"} {
		if _, err := domain.ParseOrderStatus(bad); err == nil {
			t.Errorf("ParseOrderStatus(%q) accepted", bad)
		}
		if _, err := domain.ParseItemStatus(bad); err == nil {
			t.Errorf("ParseItemStatus(%q) accepted", bad)
		}
		if _, err := domain.ParsePaymentStatus(bad); err == nil {
			t.Errorf("ParsePaymentStatus(%q) accepted", bad)
		}
	}
	for _, s := range domain.ItemStatuses {
		if got, err := domain.ParseItemStatus(s.String()); err != nil || got != s {
			t.Errorf("ParseItemStatus(%q) = %v, %v", s, got, err)
		}
	}
}
