package domain_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// TestPlanStockRehash: of the copies of one key, the oldest available one
// stays unless a copy already left the stock; every other copy is a
// duplicate of the one kept.
func TestPlanStockRehash(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	key := func(id, hash string, minute int, st domain.StockKeyStatus) domain.StockKey {
		return domain.StockKey{ID: domain.StockKeyID(id), Hash: []byte(hash), Status: st, CreatedAt: t0.Add(time.Duration(minute) * time.Minute)}
	}
	avail, sold := domain.StockAvailable, domain.StockAssigned
	for _, tc := range []struct {
		name             string
		pending, holders []domain.StockKey
		rehashed, dups   string // ids; dups as id>of
	}{
		{"distinct keys all stay", []domain.StockKey{key("a", "1", 0, avail), key("b", "2", 1, avail)}, nil, "a b", ""},
		{"two pending copies: the older stays", []domain.StockKey{key("b", "1", 1, avail), key("a", "1", 2, avail)}, nil, "b", "a>b"},
		{"same time: the smaller id stays", []domain.StockKey{key("b", "1", 0, avail), key("a", "1", 0, avail)}, nil, "a", "b>a"},
		{"a newer available holder goes", []domain.StockKey{key("a", "1", 0, avail)}, []domain.StockKey{key("n", "1", 5, avail)}, "a", "n>a"},
		{"an older available holder stays", []domain.StockKey{key("a", "1", 5, avail)}, []domain.StockKey{key("o", "1", 0, avail)}, "", "a>o"},
		{"a sold holder stays known", []domain.StockKey{key("a", "1", 0, avail), key("b", "1", 1, avail)}, []domain.StockKey{key("s", "1", 9, sold)}, "", "a>s b>s"},
		{"holders of other hashes are ignored", []domain.StockKey{key("a", "1", 0, avail)}, []domain.StockKey{key("x", "9", 0, avail)}, "a", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			plan := domain.PlanStockRehash(tc.pending, tc.holders)
			var rehashed, dups []string
			for _, k := range plan.Rehashed {
				rehashed = append(rehashed, string(k.ID))
			}
			for _, d := range plan.Duplicates {
				dups = append(dups, fmt.Sprintf("%s>%s", d.Key.ID, d.Of.ID))
			}
			sort.Strings(rehashed)
			sort.Strings(dups)
			if got := strings.Join(rehashed, " "); got != tc.rehashed {
				t.Errorf("rehashed %q, want %q", got, tc.rehashed)
			}
			if got := strings.Join(dups, " "); got != tc.dups {
				t.Errorf("duplicates %q, want %q", got, tc.dups)
			}
		})
	}
}
