package application_test

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// legacyHashes is the Postgres stock, remembering the hash each key would
// have had before keys were hashed canonically (the key as typed), so a
// test can turn rows back into rows an earlier keyward stored.
type legacyHashes struct {
	*postgres.Stock
	mu sync.Mutex
	of map[domain.StockKeyID][]byte
}

func (s *legacyHashes) Add(ctx context.Context, keys []domain.StockKey) ([]domain.StockKeyID, error) {
	s.mu.Lock()
	for _, k := range keys {
		s.of[k.ID] = k.LegacyHash
	}
	s.mu.Unlock()
	return s.Stock.Add(ctx, keys)
}

// storedBeforeCanonical makes the keys imported with ids look as an
// earlier keyward stored them: known by the hash of the key as typed.
func (w *pgStockWorld) storedBeforeCanonical(t *testing.T, ids ...domain.StockKeyID) {
	t.Helper()
	for _, id := range ids {
		w.stock.mu.Lock()
		h := w.stock.of[id]
		w.stock.mu.Unlock()
		if _, err := w.db.ExecContext(t.Context(), `UPDATE stock_keys SET key_hash = $2, hash_version = 1 WHERE id = $1`, string(id), h); err != nil {
			t.Fatal(err)
		}
	}
}

// importOne imports one key of contentType and returns its id.
func (w *pgStockWorld) importOne(t *testing.T, sku, contentType, key string) domain.StockKeyID {
	t.Helper()
	w.clock.Advance(time.Second) // so that ages differ
	res, err := importOf(t, w.app, sku, contentType, key)
	if err != nil || res.Added != 1 {
		t.Fatalf("import = %+v, %v; want 1 added", res, err)
	}
	return res.IDs[0]
}

// TestImportRefusesEverySpellingOfAKeyOnPostgres: each spelling of a
// stocked key is a duplicate on Postgres too, and the customer gets the
// key as imported.
func TestImportRefusesEverySpellingOfAKeyOnPostgres(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	sku := w.stockProduct(t, domain.SourcingStockOnly)
	if _, err := w.db.ExecContext(t.Context(), `UPDATE stock_keys SET status = 'withdrawn', sealed = NULL WHERE sku = $1`, sku); err != nil {
		t.Fatal(err)
	}
	assertEverySpellingRefused(t, w.app, sku)
	id, err := w.orderPaidAndFulfilled(t, sku)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.app.Commands.DeliverOrder.Handle(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	if got := revealLast(t, w.app, w.mail); got != asImported {
		t.Fatalf("revealed %q, want the key as imported, %q", got, asImported)
	}
	if _, err := w.orderPaidAndFulfilled(t, sku); !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("a second order = %v, want ErrOutOfStock: the key was stocked once", err)
	}
}

// TestRehashWithdrawsDuplicatesOnPostgres: keys stocked before the
// canonical form are rehashed; of two spellings of one key the oldest
// stays on sale and the others are withdrawn (kept, pointing at it),
// audited by id; a stored key with a control character is withdrawn; a key
// sold before keeps its old hash and still refuses its re-import; a second
// run finds nothing to do.
func TestRehashWithdrawsDuplicatesOnPostgres(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	sku := w.stockProduct(t, domain.SourcingStockOnly)
	if _, err := w.db.ExecContext(t.Context(), `UPDATE stock_keys SET status = 'withdrawn', sealed = NULL WHERE sku = $1`, sku); err != nil {
		t.Fatal(err)
	}
	sold := w.importOne(t, sku, "text/plain", "SOLD-BEFORE-0001")
	if _, err := w.orderPaidAndFulfilled(t, sku); err != nil {
		t.Fatal(err)
	}
	oldest := w.importOne(t, sku, "text/plain", "W11P-CASE-TEST-0001")
	w.storedBeforeCanonical(t, sold, oldest)
	// An earlier keyward let these in: other spellings of the oldest one,
	// and a key with a NUL (stored as text; imported here as bytes).
	lower := w.importOne(t, sku, "text/plain", "w11p-case-test-0001")
	nul := w.importOne(t, sku, "application/octet-stream", "NUL\x00KEY-0001")
	w.storedBeforeCanonical(t, lower, nul)
	if _, err := w.db.ExecContext(t.Context(), `UPDATE stock_keys SET content_type = 'text/plain' WHERE id = $1`, string(nul)); err != nil {
		t.Fatal(err)
	}
	other := w.importOne(t, sku, "text/plain", "OTHER-KEY-0001")
	w.storedBeforeCanonical(t, other)
	// Imported by a new keyward before the rehash ran: known canonically.
	spaced := w.importOne(t, sku, "text/plain", "W11P CASE TEST \u200b0001")

	res, err := w.app.Commands.RehashStock.Handle(t.Context(), application.ActorOperatorCLI)
	if err != nil {
		t.Fatal(err)
	}
	dups := map[domain.StockKeyID]domain.StockKeyID{}
	for _, d := range res.Duplicates {
		dups[d.Key.ID] = d.Of.ID
	}
	if res.Rehashed != 2 || len(dups) != 2 || dups[lower] != oldest || dups[spaced] != oldest || len(res.Refused) != 1 || res.Refused[0].ID != nul {
		t.Fatalf("rehash = %d rehashed, duplicates %v, refused %+v; want 2 (oldest, other), %s and %s duplicates of %s, %s refused",
			res.Rehashed, dups, res.Refused, lower, spaced, oldest, nul)
	}
	// Keys the rehash withdrew are held with their ciphertext: a key the
	// shop paid for is never destroyed by an automatic decision.
	wantRows := map[domain.StockKeyID]string{
		sold: "assigned v1 - sealed:false", oldest: "available v2 - sealed:true", other: "available v2 - sealed:true",
		nul:   "withdrawn v1 - sealed:true",
		lower: "withdrawn v2 " + string(oldest) + " sealed:true", spaced: "withdrawn v2 " + string(oldest) + " sealed:true",
	}
	for id, want := range wantRows {
		var got string
		if err := w.db.GetContext(t.Context(), &got, `SELECT status || ' v' || hash_version || ' ' || coalesce(duplicate_of, '-')
			|| ' sealed:' || (sealed IS NOT NULL) FROM stock_keys WHERE id = $1`, string(id)); err != nil || got != want {
			t.Errorf("stock key %s is %q (%v), want %q", id, got, err, want)
		}
	}

	again, err := w.app.Commands.RehashStock.Handle(t.Context(), application.ActorSystem)
	if err != nil || again.Rehashed != 0 || len(again.Duplicates) != 0 || len(again.Refused) != 0 {
		t.Fatalf("second rehash = %+v, %v; want nothing to do", again, err)
	}
	for _, k := range []string{"SOLD-BEFORE-0001", "W11P.CASE.TEST.0001", "other key 0001"} {
		if r, err := importOf(t, w.app, sku, "text/plain", k); err != nil || r.Added != 0 {
			t.Errorf("import after the rehash = %+v, %v; want a duplicate", r, err)
		}
	}
	w.assertRehashAudited(t, sku, []domain.StockKeyID{lower, spaced}, oldest, nul)
}

// assertRehashAudited checks the audit records of the rehash: one per key
// withdrawn, naming it and the key kept, and none holding a key's text or
// its hash.
func (w *pgStockWorld) assertRehashAudited(t *testing.T, sku string, dups []domain.StockKeyID, kept, refused domain.StockKeyID) {
	t.Helper()
	var rows []struct {
		Action  string `db:"action"`
		Subject string `db:"subject"`
		Details string `db:"details"`
	}
	if err := w.db.SelectContext(t.Context(), &rows, `SELECT action, subject, details::text AS details FROM audit_log
		UNION ALL SELECT action, subject, details::text FROM audit_pending`); err != nil {
		t.Fatal(err)
	}
	var hashes [][]byte
	if err := w.db.SelectContext(t.Context(), (*pq.ByteaArray)(&hashes), `SELECT key_hash FROM stock_keys`); err != nil {
		t.Fatal(err)
	}
	found := map[string]int{}
	for _, r := range rows {
		text := strings.ToLower(r.Subject + r.Details)
		for _, secret := range []string{"w11p", "sold-before", "other-key", "nul"} {
			if strings.Contains(text, secret) {
				t.Errorf("audit record %s %s %s holds key text", r.Action, r.Subject, r.Details)
			}
		}
		for _, h := range hashes {
			if strings.Contains(r.Details, string(h)) || strings.Contains(strings.ToLower(r.Details), hex.EncodeToString(h)) {
				t.Errorf("audit record %s holds a key hash", r.Action)
			}
		}
		switch r.Action {
		case application.AuditStockDuplicateWithdrawn:
			for _, id := range dups {
				if r.Subject == "product:"+sku && strings.Contains(r.Details, string(id)) && strings.Contains(r.Details, `"duplicate_of": "`+string(kept)+`"`) {
					found[string(id)]++
				}
			}
		case application.AuditStockInvalidWithdrawn:
			if strings.Contains(r.Details, string(refused)) && strings.Contains(r.Details, "U+0000") {
				found[string(refused)]++
			}
		case application.AuditStockRehashed:
			found["rehashed"]++
		}
	}
	for _, id := range append(dups, refused) {
		if found[string(id)] != 1 {
			t.Errorf("%d audit records of withdrawing %s, want 1", found[string(id)], id)
		}
	}
	if found["rehashed"] != 1 {
		t.Errorf("%d stock.rehashed records, want 1 (the second run did nothing)", found["rehashed"])
	}
}
