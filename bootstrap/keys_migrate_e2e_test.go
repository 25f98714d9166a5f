package bootstrap_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
)

// revealValues reveals the link token and returns the keys' values.
func revealValues(h *harness, token string) []string {
	h.t.Helper()
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != http.StatusOK {
		h.t.Fatalf("reveal: %d %s", code, raw)
	}
	var out []string
	for _, it := range rv.Items {
		for _, k := range it.Keys {
			out = append(out, k.Value)
		}
	}
	return out
}

// stockOnly makes sku sell only from its own stock and stocks keys.
func stockOnly(h *harness, sku string, keys ...string) {
	h.t.Helper()
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	if code, _, raw := h.do("PUT", "/v1/admin/products/"+sku+"/sourcing", map[string]any{"sourcing": "stock_only"}, admin, nil); code != http.StatusOK {
		h.t.Fatalf("set sourcing: %d %s", code, raw)
	}
	if code, _, raw := h.do("POST", "/v1/admin/products/"+sku+"/stock", map[string]any{"keys": keys}, admin, nil); code != http.StatusOK {
		h.t.Fatalf("stock upload: %d %s", code, raw)
	}
}

// startRefused starts serve on cfg and returns why it refused to start.
func startRefused(t *testing.T, cfg bootstrap.Config) error {
	t.Helper()
	cfg.HTTPAddr, cfg.MailDir = "127.0.0.1:0", t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := bootstrap.New(cfg, fx.NopLogger)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	err := app.Start(ctx)
	if err == nil {
		_ = app.Stop(ctx)
		t.Fatal("serve started")
	}
	return err
}

// TestKeysMigrateToVault: a shop on the local keyring and Postgres, with a
// delivered supplier order, a delivered order from its own stock and its
// audit trail, cannot start on Vault without its keyring file; `keyward keys migrate --to vault`,
// stopped after its first batch and run again, moves every data key; then
// serve starts on Vault on the same database, the delivered keys reveal
// as they were, the stock still sells, the audit trail verifies (its MAC
// key moved too), and a further run changes nothing.
func TestKeysMigrateToVault(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	keyring := filepath.Join(t.TempDir(), "keyring.json")
	local := func(c *bootstrap.Config) { c.DatabaseURL, c.KeyringFile = url, keyring }
	onVault := withVault(t, "") // one transit key for the migration and serve

	h1 := start(t, local)
	sku := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	h1.deliveredOrder("supplier@example.com", line(sku, 1))
	supplierToken := h1.deliveryToken("supplier@example.com")
	supplierKeys := revealValues(h1, supplierToken)
	stockSKU := h1.firstSKU(func(p product) bool { return p.SKU != sku }).SKU
	stocked := []string{"MIGRATE-STOCK-0001", "MIGRATE-STOCK-0002"}
	stockOnly(h1, stockSKU, stocked...)
	h1.deliveredOrder("stock@example.com", line(stockSKU, 1))
	stockToken := h1.deliveryToken("stock@example.com")
	soldBefore := revealValues(h1, stockToken)
	if len(soldBefore) != 1 || !slices.Contains(stocked, soldBefore[0]) {
		t.Fatalf("the stock order revealed %q, want one of %q", soldBefore, stocked)
	}
	h1.stop()

	// More data keys than one batch holds (those of revoked orders'
	// successors, say), wrapped by the same keyring.
	kr, err := localkeyring.Open(keyring)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 120 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
		dk, err := kr.NewDataKey(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		clear(dk.Plaintext)
		if err := postgres.NewDataKeys(db).Create(t.Context(), id, dk.Wrapped); err != nil {
			t.Fatal(err)
		}
	}
	var total int
	if err := db.Get(&total, `SELECT count(*) FROM data_keys`); err != nil {
		t.Fatal(err)
	}

	cfg := bootstrap.Defaults()
	local(&cfg)
	onVault(&cfg)
	gone := cfg
	gone.KeyringFile = filepath.Join(t.TempDir(), "gone.json")
	if err := startRefused(t, gone); !strings.Contains(err.Error(), fmt.Sprintf("%d data keys are still wrapped by the local keyring and KEYWARD_KEYRING_FILE", total)) {
		t.Fatalf("serve on Vault without the keyring before the migration: %v, want it to name KEYWARD_KEYRING_FILE and the %d keys", err, total)
	}

	ctx, stop := context.WithCancel(t.Context())
	res, err := bootstrap.MigrateKeys(ctx, cfg, "vault", func(int, int) { stop() })
	if !errors.Is(err, context.Canceled) || res.Migrated != 100 || res.Total != total {
		t.Fatalf("interrupted migration = %+v, %v; want the first batch of 100 of %d moved", res, err, total)
	}
	var moved int
	if err := db.Get(&moved, `SELECT count(*) FROM data_keys WHERE ciphertext LIKE 'vault:%'`); err != nil || moved != 100 {
		t.Fatalf("%d keys in Vault after the interruption (%v), want 100", moved, err)
	}

	var calls [][2]int
	res, err = bootstrap.MigrateKeys(t.Context(), cfg, "vault", func(done, total int) { calls = append(calls, [2]int{done, total}) })
	if err != nil || res.Migrated != total-100 || res.AlreadyMigrated != 100 || res.To != "vault" {
		t.Fatalf("resumed migration = %+v, %v; want %d moved, 100 already", res, err, total-100)
	}
	if last := calls[len(calls)-1]; last != [2]int{total, total} {
		t.Errorf("last progress %v, want %d of %d", last, total, total)
	}
	var left []string
	if err := db.Select(&left, `SELECT order_id FROM data_keys WHERE ciphertext NOT LIKE 'vault:v%'`); err != nil || len(left) != 0 {
		t.Fatalf("data keys not in Vault: %q (%v)", left, err)
	}
	var audited int
	if err := db.Get(&audited, `SELECT coalesce(sum((details->>'migrated')::int), 0) FROM audit_log WHERE action = $1 AND actor = $2`,
		application.AuditKeysMigrated, application.ActorOperatorCLI); err != nil || audited != total {
		t.Fatalf("the audit trail counts %d keys migrated (%v), want %d", audited, err, total)
	}

	if res, err := bootstrap.MigrateKeys(t.Context(), cfg, "vault", nil); err != nil || res.Migrated != 0 || res.AlreadyMigrated != total {
		t.Fatalf("a further migration = %+v, %v; want nothing moved", res, err)
	}

	h2 := start(t, func(c *bootstrap.Config) { local(c); onVault(c) })
	if got := revealValues(h2, supplierToken); !slices.Equal(got, supplierKeys) {
		t.Fatal("the supplier order's key reveals differently after the migration")
	}
	if got := revealValues(h2, stockToken); !slices.Equal(got, soldBefore) {
		t.Fatal("the stock order's key reveals differently after the migration")
	}
	h2.deliveredOrder("after@example.com", line(stockSKU, 1))
	soldAfter := revealValues(h2, h2.deliveryToken("after@example.com"))
	if len(soldAfter) != 1 || soldAfter[0] == soldBefore[0] || !slices.Contains(stocked, soldAfter[0]) {
		t.Fatalf("the stock sold %q after the migration, want the other of %q", soldAfter, stocked)
	}
	h2.stop()

	v, err := bootstrap.VerifyAudit(t.Context(), cfg, nil)
	if err != nil || !v.Whole() || v.Verified == 0 {
		t.Fatalf("audit verify on Vault = %+v, %v", v, err)
	}
}

// TestKeysMigrateRefusesBadInput: only Vault is a target, and the keys
// are in the database.
func TestKeysMigrateRefusesBadInput(t *testing.T) {
	t.Parallel()
	cfg := bootstrap.Defaults()
	cfg.DatabaseURL = "postgres://unused"
	if _, err := bootstrap.MigrateKeys(t.Context(), cfg, "local", nil); err == nil || !strings.Contains(err.Error(), "--to") {
		t.Errorf("--to local: %v, want an error naming --to", err)
	}
	cfg.DatabaseURL = ""
	if _, err := bootstrap.MigrateKeys(t.Context(), cfg, "vault", nil); !errors.Is(err, bootstrap.ErrNeedsDatabase) {
		t.Errorf("without a database: %v, want ErrNeedsDatabase", err)
	}
	cfg.DatabaseURL, cfg.Vault.Token, cfg.KeyringFile = "postgres://unused", "root", filepath.Join(t.TempDir(), "missing.json")
	if _, err := bootstrap.MigrateKeys(t.Context(), cfg, "vault", nil); err == nil || !strings.Contains(err.Error(), "KEYWARD_KEYRING_FILE") {
		t.Errorf("without the keyring file: %v, want an error naming KEYWARD_KEYRING_FILE", err)
	}
}
