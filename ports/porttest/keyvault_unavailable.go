package porttest

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

// unavailableTimeout bounds each call in KeyVaultUnavailable: an adapter
// that retries an unreachable vault must give up when its context ends.
const unavailableTimeout = 3 * time.Second

// KeyVaultUnavailable asserts that every operation of v, a vault that
// cannot be reached (closed port, sealed server), fails with
// ports.ErrVaultUnavailable within a few seconds, including when the
// failure is the end of its context. The unwrap and rewrap probes carry a
// well-formed "vault:v1:" ciphertext, so an adapter must not refuse it
// before trying the vault. It fails the test if a call outlives its
// context by more than two seconds.
func KeyVaultUnavailable(t *testing.T, v ports.KeyVault) {
	t.Helper()
	probe := ports.WrappedKey{
		Ciphertext: "vault:v1:" + base64.StdEncoding.EncodeToString([]byte(strings.Repeat("k", 60))),
		Version:    1,
	}
	ops := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"NewDataKey", func(ctx context.Context) error {
			_, err := v.NewDataKey(ctx, "order-a")
			return err
		}},
		{"UnwrapDataKey", func(ctx context.Context) error {
			_, err := v.UnwrapDataKey(ctx, "order-a", probe)
			return err
		}},
		{"Rewrap", func(ctx context.Context) error {
			_, err := v.Rewrap(ctx, []ports.RewrapRequest{{OrderID: "order-a", Wrapped: probe}})
			return err
		}},
		{"Rotate", func(ctx context.Context) error {
			_, err := v.Rotate(ctx)
			return err
		}},
		{"Health", v.Health},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(t.Context(), unavailableTimeout)
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- op.call(ctx) }()
			select {
			case err := <-done:
				if !errors.Is(err, ports.ErrVaultUnavailable) {
					t.Errorf("%s: err = %v, want ports.ErrVaultUnavailable", op.name, err)
				}
			case <-time.After(unavailableTimeout + 2*time.Second):
				t.Errorf("%s still running %v after its context ended", op.name, 2*time.Second)
			}
		})
	}
}
