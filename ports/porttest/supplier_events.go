package porttest

import (
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

// SupplierEventMarks runs the ports.SupplierEventMarks contract. newMarks
// must return empty marks.
func SupplierEventMarks(t *testing.T, newMarks func(t *testing.T) ports.SupplierEventMarks) {
	t.Helper()
	t.Run("newer and equal notices are fresh, older ones stale, per entity", func(t *testing.T) {
		t.Parallel()
		m := newMarks(t)
		t0 := time.Date(2025, 3, 14, 10, 43, 12, 88_000_000, time.UTC)
		steps := []struct {
			entity string
			at     time.Time
			want   bool
		}{
			{"order:A", t0, true},
			{"order:A", t0, true}, // a redelivery is handled again
			{"order:A", t0.Add(-time.Millisecond), false},
			{"order:A", t0.Add(2 * time.Millisecond), true},
			{"order:A", t0.Add(time.Millisecond), false},
			{"order:B", t0.Add(-time.Hour), true}, // another entity
			{"product:A", t0.Add(-time.Hour), true},
		}
		for i, s := range steps {
			got, err := m.Advance(t.Context(), s.entity, s.at)
			if err != nil {
				t.Fatalf("step %d: Advance: %v", i, err)
			}
			if got != s.want {
				t.Errorf("step %d: Advance(%s, %s) = %v, want %v", i, s.entity, s.at.Format(time.RFC3339Nano), got, s.want)
			}
		}
	})
}
