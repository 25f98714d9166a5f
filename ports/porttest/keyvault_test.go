package porttest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// downVault is a vault whose every call fails as an unreachable one would,
// some only once their context ends.
type downVault struct{}

func (downVault) NewDataKey(ctx context.Context, _ string) (ports.DataKey, error) {
	<-ctx.Done()
	return ports.DataKey{}, fmt.Errorf("%w: %w", ports.ErrVaultUnavailable, ctx.Err())
}

func (downVault) UnwrapDataKey(context.Context, string, ports.WrappedKey) ([]byte, error) {
	return nil, fmt.Errorf("dial: connection refused: %w", ports.ErrVaultUnavailable)
}

func (downVault) Rewrap(context.Context, []ports.RewrapRequest) ([]ports.WrappedKey, error) {
	return nil, ports.ErrVaultUnavailable
}

func (downVault) Rotate(context.Context) (int, error) { return 0, ports.ErrVaultUnavailable }

func (downVault) Health(context.Context) error { return ports.ErrVaultUnavailable }

func TestKeyVaultUnavailable(t *testing.T) {
	t.Parallel()
	porttest.KeyVaultUnavailable(t, downVault{})
}
