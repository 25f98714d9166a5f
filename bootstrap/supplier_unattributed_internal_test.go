package bootstrap

import (
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// TestUnattributedPurchasesRefuseSeveralSuppliers: an item of an
// unfinished order that reached a supplier with no supplier recorded
// (an own-stock product's, before bought_from existed) stops a start with
// several suppliers, naming the count and the fix; one supplier, or the
// item attributed, starts. Own-stock sales and finished orders do not
// count.
func TestUnattributedPurchasesRefuseSeveralSuppliers(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	ctx := t.Context()
	hash := strings.Repeat("a", 64)
	for _, o := range []struct{ id, status string }{{"o-open", "fulfilling"}, {"o-done", "delivered"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO orders (id, email, access_token_hash, total_amount, currency, status, version, created_at, updated_at)
			VALUES ($1, 'b@example.com', decode($2, 'hex'), 10, 'EUR', $3, 1, now(), now())`, o.id, hash, o.status); err != nil {
			t.Fatal(err)
		}
	}
	item := func(id, order string, pos int, status, supplierOrder string) {
		t.Helper()
		if _, err := db.ExecContext(ctx, `INSERT INTO order_items (id, order_id, position, sku, name, source_kind, supplier, supplier_product_id,
			quantity, unit_price, currency, status, supplier_order_id) VALUES ($1, $2, $3, 'SKU', 'Game', 'own_stock', '', '', 1, 10, 'EUR', $4, $5)`,
			id, order, pos, status, supplierOrder); err != nil {
			t.Fatal(err)
		}
	}
	item("i-stock", "o-open", 0, "sealed", "own-stock")
	item("i-done", "o-done", 0, "sealed", "SUP-1")
	if err := checkUnattributedPurchases(ctx, db, []string{"kinguin", "codeswholesale"}); err != nil {
		t.Fatalf("own-stock sales and finished orders refused the start: %v", err)
	}
	item("i-bought", "o-open", 1, "purchased", "SUP-2")
	err := checkUnattributedPurchases(ctx, db, []string{"kinguin", "codeswholesale"})
	if err == nil || !strings.Contains(err.Error(), "1 order items") || !strings.Contains(err.Error(), "names 2 suppliers") || !strings.Contains(err.Error(), "WITH fixed AS (UPDATE order_items SET bought_from") {
		t.Fatalf("start with two suppliers = %v, want a refusal naming 1 item, 2 suppliers and the fix", err)
	}
	if err := checkUnattributedPurchases(ctx, db, []string{"kinguin"}); err != nil {
		t.Fatalf("one supplier refused: %v", err)
	}
	// The statement the refusal suggests, as an operator would run it.
	fix := err.Error()[strings.Index(err.Error(), "WITH fixed AS"):]
	if _, err := db.ExecContext(ctx, strings.ReplaceAll(fix, "<supplier>", "kinguin")); err != nil {
		t.Fatalf("the suggested fix %q: %v", fix, err)
	}
	// The order's version moves with it: a process holding a copy read
	// before must not save it over the fix.
	var version int
	if err := db.GetContext(ctx, &version, `SELECT version FROM orders WHERE id = 'o-open'`); err != nil || version != 2 {
		t.Fatalf("order version after the fix = %d (%v), want 2", version, err)
	}
	if err := checkUnattributedPurchases(ctx, db, []string{"kinguin", "codeswholesale"}); err != nil {
		t.Fatalf("attributed item still refused: %v", err)
	}
}
