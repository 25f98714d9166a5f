package bench

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// A failed request the bench prints never carries a delivery token.
func TestBenchErrorsLeaveOutDeliveryTokens(t *testing.T) {
	t.Parallel()
	const token = "dl_5ecretT0kenValue"
	for path, want := range map[string]string{
		"/v1/deliveries/" + token + "/reveal": "/v1/deliveries/{token}/reveal",
		"/v1/deliveries/" + token:             "/v1/deliveries/{token}",
		"/v1/orders/ord-1":                    "/v1/orders/ord-1",
	} {
		got := shownPath(path)
		if got != want || strings.Contains(got, token) {
			t.Errorf("shownPath(%q) = %q, want %q", path, got, want)
		}
	}
}

// Each order revealed, the end of an order's trip, is reported to the
// bench's progress with the load's number of orders; the other stages
// are not.
func TestBenchReportsEachOrderDone(t *testing.T) {
	t.Parallel()
	var got []string
	rec := &recorder{res: loadResult{orders: 3}, progress: func(done, total int, _ string) {
		got = append(got, fmt.Sprintf("%d/%d", done, total))
	}}
	for _, stage := range []string{"create", "ipn", "delivered", "reveal", "create", "reveal", "reveal"} {
		rec.add(stage, time.Millisecond)
	}
	if want := []string{"1/3", "2/3", "3/3"}; !slices.Equal(got, want) {
		t.Fatalf("progress %v, want %v", got, want)
	}
}
