package bootstrap_test

import (
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
)

// auditKinds returns the action and subject of every audit record in db,
// chained or still staged, but for the records of admin HTTP requests
// (the transport's own, which a shell command has no request for).
func auditKinds(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var kinds []string
	if err := db.SelectContext(t.Context(), &kinds, `SELECT action || ' ' || subject FROM (
			SELECT action, subject FROM audit_log UNION ALL SELECT action, subject FROM audit_pending) r
		WHERE action <> $1 ORDER BY 1`, application.AuditAdminRequest); err != nil {
		t.Fatal(err)
	}
	return kinds
}

// without returns kinds less one occurrence of each of before.
func without(kinds, before []string) []string {
	out := slices.Clone(kinds)
	for _, b := range before {
		if i := slices.Index(out, b); i >= 0 {
			out = slices.Delete(out, i, i+1)
		}
	}
	return out
}

// TestStockImportFromTheShellAuditsAsTheAPI: `keyward stock import` runs
// the use case serve builds, so importing the same keys into the same
// product writes the same audit records (action and subject) as an upload
// through the admin API, data keys included.
func TestStockImportFromTheShellAuditsAsTheAPI(t *testing.T) {
	t.Parallel()
	keys := []string{"SHELL-API-KEY-0001", "SHELL-API-KEY-0002", "shell-api-key-0002"}

	apiURL, apiDB := pgtest.NewDatabase(t)
	h := start(t, withPostgres(apiURL))
	sku := h.firstSKU(func(product) bool { return true }).SKU
	before := auditKinds(t, apiDB)
	var up struct {
		Added, Duplicates int
	}
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	if code, _, raw := h.do("POST", "/v1/admin/products/"+sku+"/stock", map[string]any{"keys": keys}, admin, &up); code != http.StatusOK || up.Added != 2 {
		t.Fatalf("upload: %d %s", code, raw)
	}
	viaAPI := without(auditKinds(t, apiDB), before)

	shellURL, shellDB := pgtest.NewDatabase(t)
	p, err := postgres.NewCatalog(apiDB).Get(t.Context(), sku)
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewCatalog(shellDB).Upsert(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := bootstrap.Defaults()
	cfg.DatabaseURL, cfg.KeyringFile, cfg.MailDir = shellURL, filepath.Join(dir, "keyring.json"), filepath.Join(dir, "mail")
	before = auditKinds(t, shellDB)
	res, err := bootstrap.ImportStock(t.Context(), cfg, sku, textStockKeys(keys...))
	if err != nil || res.Added != 2 {
		t.Fatalf("shell import = %+v, %v", res, err)
	}
	viaShell := without(auditKinds(t, shellDB), before)

	// The records the shell once missed: the data keys the import made.
	if !slices.ContainsFunc(viaAPI, func(k string) bool { return strings.HasPrefix(k, application.AuditDataKeyCreated+" ") }) {
		t.Fatalf("the API's import wrote no %s record: %q", application.AuditDataKeyCreated, viaAPI)
	}
	if !slices.Equal(viaAPI, viaShell) {
		t.Fatalf("audit records of the import:\n  API:   %q\n  shell: %q\nwant the same", viaAPI, viaShell)
	}
}

func textStockKeys(keys ...string) []application.StockKeyInput {
	in := make([]application.StockKeyInput, len(keys))
	for i, k := range keys {
		in[i] = application.StockKeyInput{ContentType: "text/plain", Data: []byte(k)}
	}
	return in
}

// TestServeRehashesOlderStockAtStart: keys an earlier keyward stocked
// (known by the hash of the key as typed) are rehashed before serve
// serves, with no command run: of two spellings of one key, the later one
// is withdrawn, kept, and audited as the system's doing.
func TestServeRehashesOlderStockAtStart(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	dir := t.TempDir()
	cfg := bootstrap.Defaults()
	cfg.DatabaseURL, cfg.KeyringFile, cfg.MailDir = url, filepath.Join(dir, "keyring.json"), filepath.Join(dir, "mail")
	p, err := domain.NewProduct(domain.ProductSnapshot{SKU: "older-stock-steam-global", Name: "Older Stock", Price: domain.MustMoney("9.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceOwnStock}, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := postgres.NewCatalog(db).Upsert(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	first, err := bootstrap.ImportStock(t.Context(), cfg, p.SKU(), textStockKeys("OLDER-STOCK-0001"))
	if err != nil || first.Added != 1 {
		t.Fatalf("import = %+v, %v", first, err)
	}
	// An earlier keyward took the other spelling too (imported here as
	// bytes, which are not canonicalised, then labelled text).
	second, err := bootstrap.ImportStock(t.Context(), cfg, p.SKU(), []application.StockKeyInput{{ContentType: "application/octet-stream", Data: []byte("older stock 0001")}})
	if err != nil || second.Added != 1 {
		t.Fatalf("import = %+v, %v", second, err)
	}
	if _, err := db.ExecContext(t.Context(), `UPDATE stock_keys SET hash_version = 1, content_type = 'text/plain',
		key_hash = sha256(convert_to(id, 'UTF8')), created_at = created_at + CASE WHEN id = $1 THEN interval '1 second' ELSE interval '0' END`,
		string(second.IDs[0])); err != nil {
		t.Fatal(err)
	}

	start(t, func(c *bootstrap.Config) { c.DatabaseURL, c.KeyringFile = url, cfg.KeyringFile })
	var got []string
	if err := db.SelectContext(t.Context(), &got, `SELECT id || ' ' || status || ' v' || hash_version || ' ' || coalesce(duplicate_of, '-')
		FROM stock_keys ORDER BY created_at`); err != nil {
		t.Fatal(err)
	}
	kept, dup := string(first.IDs[0]), string(second.IDs[0])
	if want := []string{kept + " available v2 -", dup + " withdrawn v2 " + kept}; !slices.Equal(got, want) {
		t.Fatalf("stock after start = %q, want %q", got, want)
	}
	var audited int
	if err := db.GetContext(t.Context(), &audited, `SELECT count(*) FROM (SELECT actor, action, details FROM audit_log
		UNION ALL SELECT actor, action, details FROM audit_pending) r
		WHERE actor = $1 AND action = $2 AND details->>'stock_key_id' = $3 AND details->>'duplicate_of' = $4`,
		application.ActorSystem, application.AuditStockDuplicateWithdrawn, dup, kept); err != nil || audited != 1 {
		t.Fatalf("%d audit records of the duplicate withdrawn (%v), want 1", audited, err)
	}
}
