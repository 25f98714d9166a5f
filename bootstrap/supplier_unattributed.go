package bootstrap

import (
	"context"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"
)

// unattributedPurchases counts the order items of unfinished orders that
// reached a supplier with no supplier recorded (bought_from ”): items of
// own-stock products that went to the supplier before keyward recorded
// where each item was bought (migration 00017 backfilled only supplier
// products' items).
const unattributedPurchases = `SELECT count(*) FROM order_items i JOIN orders o ON o.id = i.order_id
	WHERE i.bought_from = '' AND o.status NOT IN ('fulfilled', 'delivered', 'revoked', 'expired', 'refunded')
	AND ((i.supplier_order_id <> '' AND i.supplier_order_id <> 'own-stock') OR i.status IN ('purchasing', 'failed'))`

// checkUnattributedPurchases refuses to start with more than one supplier
// while such items exist. Their purchases are at the one supplier keyward
// had then, which today's configuration cannot name (KEYWARD_SUPPLIERS
// replaces KEYWARD_SUPPLIER): resumed, they would be looked up at, or
// bought again from, the first of KEYWARD_SUPPLIERS, a second purchase if
// that is not the one. A person names it, as the error says.
func checkUnattributedPurchases(ctx context.Context, db *sqlx.DB, suppliers []string) error {
	if len(suppliers) < 2 {
		return nil
	}
	var n int
	if err := db.GetContext(ctx, &n, unattributedPurchases); err != nil {
		return fmt.Errorf("count order items bought from an unrecorded supplier: %w", err)
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d order items of unfinished orders reached a supplier before keyward recorded which one (order_items.bought_from is empty), "+
		"and KEYWARD_SUPPLIERS names %d suppliers (%s): keyward cannot tell where their purchases are, and resuming them at the wrong one could buy twice. "+
		"Either start with KEYWARD_SUPPLIERS set to the one supplier they were bought from until those orders are finished, "+
		"or record it on them (the orders' version is raised with it, so that no process saves an order from a copy read before): "+
		"WITH fixed AS (UPDATE order_items SET bought_from = '<supplier>' WHERE bought_from = '' AND "+
		"((supplier_order_id <> '' AND supplier_order_id <> 'own-stock') OR status IN ('purchasing', 'failed')) RETURNING order_id) "+
		"UPDATE orders SET version = version + 1 WHERE id IN (SELECT order_id FROM fixed)",
		n, len(suppliers), strings.Join(suppliers, ","))
}

// unattributedPurchasesCheck runs checkUnattributedPurchases at start,
// once the schema is checked or migrated.
func unattributedPurchasesCheck(lc fx.Lifecycle, db *sqlx.DB, cfg Config) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		return checkUnattributedPurchases(ctx, db, cfg.Supplier.Names())
	}})
}
