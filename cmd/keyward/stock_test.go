package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestStockImportThroughTheBinary: `keyward stock import` prints what it
// added; the same file again adds nothing; the database holds no plaintext.
func TestStockImportThroughTheBinary(t *testing.T) {
	t.Parallel()
	db, p, csv, env := ownStockShop(t, "bulk-game-steam-global", "key\nCSV-KEY-AAAA-0001\n\n\"CSV-KEY-AAAA-0002\",note\nCSV-KEY-AAAA-0003\n")
	for _, want := range []string{`{"added":3,"duplicates":0}`, `{"added":0,"duplicates":3}`} {
		out, err := keyward(t, env, "stock", "import", "--sku", p.SKU(), csv)
		if err != nil || strings.TrimSpace(out) != want {
			t.Fatalf("stock import: %v\n%s\nwant %s", err, out, want)
		}
	}
	var n, plain int
	if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM stock_keys WHERE sku = $1 AND status = 'available'`, p.SKU()); err != nil || n != 3 {
		t.Fatalf("%d keys stored (%v), want 3", n, err)
	}
	if err := db.GetContext(t.Context(), &plain, `SELECT count(*) FROM stock_keys WHERE position('CSV-KEY'::bytea in sealed) > 0`); err != nil || plain != 0 {
		t.Fatalf("%d stored keys hold plaintext (%v)", plain, err)
	}
	if out, err := keyward(t, env, "stock", "import", "--sku", "no-such-sku", csv); err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("import for an unknown product: %v\n%s", err, out)
	}
	if out, err := keyward(t, env, "stock", "import", csv); err == nil || !strings.Contains(out, "usage") {
		t.Fatalf("import without --sku: %v\n%s", err, out)
	}
}

// TestStockRehashThroughTheBinary: `keyward stock rehash` rehashes keys
// stored in the old hash form and reports, by id, each later spelling of
// a key it withdraws and the key kept; a second run finds nothing to do.
func TestStockRehashThroughTheBinary(t *testing.T) {
	t.Parallel()
	db, p, csv, env := ownStockShop(t, "rehash-game-steam-global", "CMD-REHASH-0001\nCMD-REHASH-0002\n")
	if out, err := keyward(t, env, "stock", "import", "--sku", p.SKU(), csv); err != nil {
		t.Fatalf("stock import: %v\n%s", err, out)
	}
	// The keys stored so far no longer carry the hash the import looks up
	// (each command rehashes older keys first: these are left as they are).
	if _, err := db.ExecContext(t.Context(), `UPDATE stock_keys SET key_hash = sha256(convert_to(id, 'UTF8'))`); err != nil {
		t.Fatal(err)
	}
	// So an earlier keyward could take another spelling of the first key,
	// later.
	again := filepath.Join(filepath.Dir(csv), "again.csv")
	if err := os.WriteFile(again, []byte("cmd rehash 0001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := keyward(t, env, "stock", "import", "--sku", p.SKU(), again); err != nil || strings.TrimSpace(out) != `{"added":1,"duplicates":0}` {
		t.Fatalf("stock import of the other spelling: %v\n%s", err, out)
	}
	var later string
	if err := db.GetContext(t.Context(), &later, `SELECT id FROM stock_keys WHERE key_hash <> sha256(convert_to(id, 'UTF8'))`); err != nil {
		t.Fatal(err)
	}
	// As that earlier keyward stored them: known by another hash form.
	if _, err := db.ExecContext(t.Context(), `UPDATE stock_keys SET hash_version = 1, key_hash = sha256(convert_to(id, 'UTF8'))`); err != nil {
		t.Fatal(err)
	}

	out, err := keyward(t, env, "stock", "rehash")
	if err != nil {
		t.Fatalf("stock rehash: %v\n%s", err, out)
	}
	var kept string
	if err := db.GetContext(t.Context(), &kept, `SELECT duplicate_of FROM stock_keys WHERE id = $1 AND status = 'withdrawn'`, later); err != nil {
		t.Fatalf("the later spelling %s was not withdrawn as a duplicate: %v\n%s", later, err, out)
	}
	want := `{"rehashed":2,"duplicates_withdrawn":[{"sku":"` + p.SKU() + `","stock_key_id":"` + later + `","duplicate_of":"` + kept + `"}],"refused_withdrawn":[]}`
	// The report on stdout, after the warning logged for the key.
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if lines[len(lines)-1] != want || !strings.Contains(out, "stock key withdrawn: the same key is in stock already") {
		t.Fatalf("stock rehash printed\n%s\nwant the withdrawal logged and reported: %s", out, want)
	}
	if out, err := keyward(t, env, "stock", "rehash"); err != nil || strings.TrimSpace(out) != `{"rehashed":0,"duplicates_withdrawn":[],"refused_withdrawn":[]}` {
		t.Fatalf("second stock rehash: %v\n%s", err, out)
	}
}

// ownStockShop gives a test a fresh database holding one own-stock product
// sku, a CSV file of keys with content csvText, and the environment the
// binary needs to import them (the database and a keyring of the test's).
func ownStockShop(t *testing.T, sku, csvText string) (*sqlx.DB, *domain.Product, string, []string) {
	t.Helper()
	url, db := pgtest.NewDatabase(t)
	p, err := domain.NewProduct(domain.ProductSnapshot{SKU: sku, Name: "Stocked Game", Price: domain.MustMoney("19.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceOwnStock}, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewCatalog(db).Upsert(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csv := filepath.Join(dir, "keys.csv")
	if err := os.WriteFile(csv, []byte(csvText), 0o600); err != nil {
		t.Fatal(err)
	}
	return db, p, csv, []string{"KEYWARD_DATABASE_URL=" + url, "KEYWARD_KEYRING_FILE=" + filepath.Join(dir, "keyring.json")}
}
