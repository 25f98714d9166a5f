package bootstrap

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
	"github.com/keyward/keyward/ports"
)

// TestMigratingVault: during a move to Vault new keys are Vault's, keys on
// either side open, and a rewrap (a rotation during the move) leaves every
// key on Vault, opening to the same bytes; a key neither vault wrapped
// does not open.
func TestMigratingVault(t *testing.T) {
	t.Parallel()
	from, err := localkeyring.Open(filepath.Join(t.TempDir(), "keyring.json"))
	if err != nil {
		t.Fatal(err)
	}
	to := vaulttest.New(t)
	v := migratingVault{DataKeyImporter: to, from: from}
	ctx := t.Context()

	local, err := from.NewDataKey(ctx, "order-local")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := v.NewDataKey(ctx, "order-new")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(fresh.Wrapped.Ciphertext, "vault:") {
		t.Fatalf("a new key is wrapped as %.8s…, want by Vault", fresh.Wrapped.Ciphertext)
	}
	want := map[string][]byte{"order-local": local.Plaintext, "order-new": fresh.Plaintext}
	reqs := []ports.RewrapRequest{{OrderID: "order-local", Wrapped: local.Wrapped}, {OrderID: "order-new", Wrapped: fresh.Wrapped}}
	opens := func(r ports.RewrapRequest) {
		t.Helper()
		got, err := v.UnwrapDataKey(ctx, r.OrderID, r.Wrapped)
		if err != nil || !bytes.Equal(got, want[r.OrderID]) {
			t.Fatalf("%s (%.8s…) does not open to its key: %v", r.OrderID, r.Wrapped.Ciphertext, err)
		}
	}
	for _, r := range reqs {
		opens(r)
	}

	rewrapped, err := v.Rewrap(ctx, reqs)
	if err != nil || len(rewrapped) != len(reqs) {
		t.Fatalf("Rewrap = %d keys, %v", len(rewrapped), err)
	}
	for i, r := range reqs {
		if !strings.HasPrefix(rewrapped[i].Ciphertext, "vault:") {
			t.Errorf("%s rewrapped as %.8s…, want moved to Vault", r.OrderID, rewrapped[i].Ciphertext)
		}
		opens(ports.RewrapRequest{OrderID: r.OrderID, Wrapped: rewrapped[i]})
	}

	// Bound to its order: under another id the keyring's key opens nowhere.
	if _, err := v.Rewrap(ctx, []ports.RewrapRequest{{OrderID: "another", Wrapped: local.Wrapped}}); !errors.Is(err, ports.ErrDataKeyInvalid) {
		t.Errorf("Rewrap of a key bound to another order: %v, want ErrDataKeyInvalid", err)
	}
	if err := v.Health(ctx); err != nil {
		t.Errorf("Health: %v", err)
	}
}
