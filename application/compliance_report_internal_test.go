package application

import (
	"testing"
	"time"
)

// TestPercentilesNearestRank: p-th percentile = the ceil(p/100·n)-th
// smallest duration.
func TestPercentilesNearestRank(t *testing.T) {
	t.Parallel()
	if got := percentiles(nil); got != (DurationPercentiles{}) {
		t.Fatalf("no durations: %+v", got)
	}
	var ds []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		ds = append(ds, time.Duration(i)*time.Second)
	}
	got := percentiles(ds)
	want := DurationPercentiles{Count: 100, P50: 50 * time.Second, P90: 90 * time.Second, P99: 99 * time.Second, Max: 100 * time.Second}
	if got != want {
		t.Fatalf("percentiles of 1..100s = %+v, want %+v", got, want)
	}
	if got := percentiles([]time.Duration{3 * time.Second}); got.P50 != 3*time.Second || got.P99 != 3*time.Second {
		t.Fatalf("one duration: %+v", got)
	}
}
