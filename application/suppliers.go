package application

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// requireSuppliers panics unless there is at least one supplier, each
// with a name of its own.
func requireSuppliers(useCase string, suppliers ports.Suppliers) {
	if len(suppliers) == 0 {
		panic(fmt.Sprintf("application.New%s: suppliers is empty: no supplier to buy from", useCase))
	}
	seen := map[string]bool{}
	for _, r := range suppliers {
		require(useCase, "supplier", r.Supplier)
		if n := r.Supplier.Name(); n == "" || seen[n] {
			panic(fmt.Sprintf("application.New%s: supplier name %q is empty or taken", useCase, n))
		} else {
			seen[n] = true
		}
	}
}

// supplierNamed returns the supplier registered under name; the first
// (the operator's preferred) for "" (a product of our own stock that may
// also be bought).
func supplierNamed(suppliers ports.Suppliers, name string) (ports.Supplier, bool) {
	if name == "" {
		return suppliers[0].Supplier, true
	}
	r, ok := suppliers.Get(name)
	return r.Supplier, ok
}

// supplierOf returns the supplier the item is bought from (domain's
// OrderItem.Supplier: the one its purchase was begun with, else its
// product's). One that is not configured holds the order for review: a
// purchase there may exist, and buying elsewhere could buy twice. It
// returns a nil supplier then, with holding's error.
func (f *fulfilment) supplierOf(ctx context.Context, it *domain.OrderItem) (ports.Supplier, error) {
	name := it.Supplier()
	if s, ok := supplierNamed(f.suppliers, name); ok {
		return s, nil
	}
	reason := fmt.Sprintf("item %s is bought from supplier %q, which is not configured (KEYWARD_SUPPLIERS is %v)", it.ID(), name, f.suppliers.Names())
	return nil, f.holdForReview(ctx, it, reason)
}
