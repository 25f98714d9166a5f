package kinguin

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/ports"
)

// TestProcessingPreorderWithoutADate: ProcessingPreorder whose releaseDate
// is missing or unreadable is still a pre-order's wait, its date unknown,
// not a plain wait for keys.
func TestProcessingPreorderWithoutADate(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"kind":"ProcessingPreorder","status":422}`,
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":null}`,
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":"soon"}`,
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":20270301}`,
	} {
		err := error(parseError(422, []byte(body)))
		release, pre := ports.PreorderOf(err)
		if !pre || !release.IsZero() || !errors.Is(err, ports.ErrKeysPending) {
			t.Errorf("%s: pre-order %t, release %v (%v); want a pre-order with no date, keys pending", body, pre, release, err)
		}
	}
}
