package application

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/ports"
)

// gatedVault holds every data key it makes until release is closed, and
// counts them.
type gatedVault struct {
	ports.KeyVault
	release chan struct{}
	made    atomic.Int32
}

func (v *gatedVault) NewDataKey(ctx context.Context, keyID string) (ports.DataKey, error) {
	v.made.Add(1)
	<-v.release
	return v.KeyVault.NewDataKey(ctx, keyID)
}

// TestWebhookSecretKeyLoadIsSharedAndBounded: while the vault is slow,
// callers wait no longer than their own context (they are not queued
// behind the load), every caller shares one load, and once it ends the
// key serves all.
func TestWebhookSecretKeyLoadIsSharedAndBounded(t *testing.T) {
	t.Parallel()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	vault := &gatedVault{KeyVault: kr, release: make(chan struct{})}
	k := &webhookSecretKey{vault: vault, dataKeys: memory.NewDataKeys()}

	const callers = 4
	errs := make(chan error, callers)
	for range callers {
		go func() {
			ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
			defer cancel()
			_, err := k.seal(ctx, "ep-1", "whsec_x")
			errs <- err
		}()
	}
	for range callers {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("a caller behind a slow vault: %v, want ErrUnavailable", err)
			}
		case <-time.After(10 * time.Second):
			close(vault.release)
			t.Fatal("callers were held past their own deadline behind a slow vault")
		}
	}
	close(vault.release)
	sealed, err := k.seal(t.Context(), "ep-1", "whsec_x")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.open(t.Context(), "ep-1", sealed); err != nil || got != "whsec_x" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if n := vault.made.Load(); n != 1 {
		t.Fatalf("the vault made %d keys, want one load shared by every caller", n)
	}
}
