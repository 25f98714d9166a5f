package bootstrap

import (
	"strings"
	"testing"
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
