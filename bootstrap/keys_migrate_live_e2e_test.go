package bootstrap_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
)

// revealed is a delivered order's link and the keys it revealed first.
type revealed struct {
	email, token string
	keys         []string
}

// orderAndReveal delivers an order of sku for email and reveals it.
func orderAndReveal(h *harness, email, sku string) revealed {
	h.t.Helper()
	h.deliveredOrder(email, line(sku, 1))
	tok := h.deliveryToken(email)
	return revealed{email: email, token: tok, keys: revealValues(h, tok)}
}

// revealsAgain checks that every order reveals the keys it revealed first.
func revealsAgain(h *harness, when string, orders ...revealed) {
	h.t.Helper()
	for _, o := range orders {
		if got := revealValues(h, o.token); len(got) == 0 || !slices.Equal(got, o.keys) {
			h.t.Fatalf("%s: %s's order reveals %d keys differently than when it was delivered", when, o.email, len(got))
		}
	}
}

// countLocalKeys counts the data keys the local keyring still wraps.
func countLocalKeys(t *testing.T, dataKeys *postgres.DataKeys) int {
	t.Helper()
	n, err := dataKeys.CountWrappedBy(t.Context(), "local")
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestKeysMigrateWhileServing: a shop on the local keyring delivers orders
// (supplier and own stock); restarted on Vault with its keyring file kept,
// it serves while `keyward keys migrate --to vault` moves its keys, and
// orders placed and revealed meanwhile all deliver and reveal, their new
// keys made by Vault; once nothing is left on the keyring, serve on Vault
// starts without the file and every order still reveals. On Vault without
// the file and with keys left, serve refuses in one line naming the file.
func TestKeysMigrateWhileServing(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	dataKeys := postgres.NewDataKeys(db)
	keyring := filepath.Join(t.TempDir(), "keyring.json")
	local := func(c *bootstrap.Config) { c.DatabaseURL, c.KeyringFile, c.LinkMaxReveals = url, keyring, 20 }
	onVault := withVault(t, "")
	migrating := both(local, onVault)
	withoutKeyring := both(migrating, func(c *bootstrap.Config) { c.KeyringFile = filepath.Join(t.TempDir(), "gone.json") })

	h1 := start(t, local)
	supplierSKU := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	stockSKU := h1.firstSKU(func(p product) bool { return p.SKU != supplierSKU }).SKU
	stockOnly(h1, stockSKU, stockKeys(60)...)
	skus := []string{supplierSKU, stockSKU}
	before := []revealed{orderAndReveal(h1, "before-supplier@example.com", supplierSKU), orderAndReveal(h1, "before-stock@example.com", stockSKU)}
	h1.stop()

	// Enough keys on the keyring for several batches, so that the move
	// takes a while.
	kr, err := localkeyring.Open(keyring)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 250 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		dk, err := kr.NewDataKey(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		clear(dk.Plaintext)
		if err := dataKeys.Create(t.Context(), id, dk.Wrapped); err != nil {
			t.Fatal(err)
		}
	}
	localBefore := countLocalKeys(t, dataKeys)

	cfg := bootstrap.Defaults()
	withoutKeyring(&cfg)
	err = startRefused(t, cfg)
	if msg := err.Error(); !strings.Contains(msg, "KEYWARD_KEYRING_FILE") || !strings.Contains(msg, fmt.Sprintf("%d data keys", localBefore)) || strings.Contains(msg, "\n") {
		t.Fatalf("serve on Vault without the keyring, %d local keys left: %q, want one line naming KEYWARD_KEYRING_FILE and the count", localBefore, msg)
	}

	h2 := start(t, migrating)
	revealsAgain(h2, "restarted on Vault with the keyring", before...)
	migrateCfg := bootstrap.Defaults()
	migrating(&migrateCfg)
	type outcome struct {
		res application.MigrateKeysResult
		err error
	}
	// Each batch waits for an order delivered and revealed since the
	// previous one: the shop's work interleaves with the move, and the
	// move cannot finish before the shop has worked during it.
	ordered := make(chan struct{}, 64)
	migrated := make(chan outcome, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		res, err := bootstrap.MigrateKeys(ctx, migrateCfg, "vault", func(int, int) {
			select {
			case <-ordered:
			case <-ctx.Done():
			}
		})
		migrated <- outcome{res, err}
	}()
	var during []revealed
	var done outcome
	for moving := true; moving; {
		if len(during) == 40 {
			t.Fatalf("the migration did not finish while 40 orders were delivered")
		}
		n := len(during)
		during = append(during, orderAndReveal(h2, fmt.Sprintf("during-%d@example.com", n), skus[n%2]))
		revealsAgain(h2, "during the migration", before[n%2])
		ordered <- struct{}{}
		select {
		case done = <-migrated:
			moving = false
		default:
		}
	}
	if done.err != nil || done.res.Migrated == 0 || done.res.Left != 0 {
		t.Fatalf("migration while serving = %+v, %v; want keys moved and none left", done.res, done.err)
	}
	if len(during) < 3 {
		t.Fatalf("%d orders delivered during the migration, want one per batch at least", len(during))
	}
	t.Logf("%d orders delivered and revealed during the migration of %d keys", len(during), done.res.Total)
	after := []revealed{orderAndReveal(h2, "after-supplier@example.com", supplierSKU), orderAndReveal(h2, "after-stock@example.com", stockSKU)}
	if n := countLocalKeys(t, dataKeys); n != 0 {
		t.Fatalf("%d data keys left on the local keyring after the migration, want none", n)
	}
	h2.stop()

	h3 := start(t, withoutKeyring)
	revealsAgain(h3, "on Vault without the keyring", slices.Concat(before, during, after)...)
	revealsAgain(h3, "on Vault without the keyring, a new order", orderAndReveal(h3, "last@example.com", stockSKU))
}

// stockKeys returns n distinct stock keys.
func stockKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("LIVE-MIGRATE-%04d", i)
	}
	return keys
}
