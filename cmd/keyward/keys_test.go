package main_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
)

// TestKeysMigrateThroughTheBinary: `keyward keys migrate --to vault`
// prints what it moved as JSON, and a second run moves nothing; without
// --to, or with another target, it says how to call it.
func TestKeysMigrateThroughTheBinary(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	keyring := filepath.Join(t.TempDir(), "keyring.json")
	kr, err := localkeyring.Open(keyring)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := kr.NewDataKey(t.Context(), "stock/cli-game")
	if err != nil {
		t.Fatal(err)
	}
	clear(dk.Plaintext)
	if err := postgres.NewDataKeys(db).Create(t.Context(), "stock/cli-game", dk.Wrapped); err != nil {
		t.Fatal(err)
	}
	addr, token := vaulttest.Config(t)
	env := []string{"KEYWARD_DATABASE_URL=" + url, "KEYWARD_KEYRING_FILE=" + keyring,
		"VAULT_ADDR=" + addr, "KEYWARD_VAULT_TOKEN=" + token, "KEYWARD_VAULT_TRANSIT_KEY=" + vaulttest.KeyName()}

	// The audit MAC key is made, in Vault, by the first run's start.
	for _, want := range []string{
		`{"to":"vault","total":2,"migrated":1,"already_migrated":1,"changed":0,"left":0}`,
		`{"to":"vault","total":2,"migrated":0,"already_migrated":2,"changed":0,"left":0}`,
	} {
		out, err := keyward(t, env, "keys", "migrate", "--to", "vault")
		lines := strings.Split(strings.TrimSpace(out), "\n") // logs go to stderr, before it
		if err != nil || lines[len(lines)-1] != want {
			t.Fatalf("keys migrate: %v\n%s\nwant %s", err, out, want)
		}
	}
	if out, err := keyward(t, env, "keys", "migrate"); err == nil || !strings.Contains(out, "--to") || !strings.Contains(out, "keyward keys migrate") {
		t.Fatalf("keys migrate without --to: %v\n%s", err, out)
	}
	if out, err := keyward(t, env, "keys", "migrate", "--to", "local"); err == nil || !strings.Contains(out, "--to") {
		t.Fatalf("keys migrate --to local: %v\n%s", err, out)
	}
}
