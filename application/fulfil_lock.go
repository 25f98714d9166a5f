package application

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// purchaseLock names the lock one run holds while it looks an item's
// purchase up, places it and records it: two runs of one order (a
// redelivered message, the reconciler, a webhook, the poll) never both
// ask a supplier that does not de-duplicate orders.
func purchaseLock(itemID string) string { return "purchase/" + itemID }

// lockPurchase takes the item's purchase lock for the rest of the item's
// step (fulfilItem releases it) and returns ctx telling the supplier when
// the item's purchase was first begun, if it was. Held by another run, it
// returns an error wrapping ErrUnavailable: this run stops, and a later one
// resumes from what the holder recorded.
func (f *fulfilment) lockPurchase(ctx context.Context, it *domain.OrderItem) (context.Context, error) {
	ctx = ports.WithPurchaseBegun(ctx, f.purchaseBegun(it.ID()))
	if f.locks == nil {
		return ctx, nil
	}
	release, ok, err := f.locks.TryLock(ctx, purchaseLock(it.ID()))
	if err != nil {
		return ctx, fmt.Errorf("%w: purchase lock of item %s: %v", ErrUnavailable, it.ID(), err)
	}
	if !ok {
		return ctx, fmt.Errorf("%w: item %s is being bought by another run", ErrUnavailable, it.ID())
	}
	f.unlockPurchase()
	f.unlock = release
	return ctx, nil
}

// unlockPurchase releases the purchase lock the run holds, if any.
func (f *fulfilment) unlockPurchase() {
	if f.unlock != nil {
		f.unlock()
		f.unlock = nil
	}
}

// purchaseBegun is when the item's purchase was first begun, as the order
// loaded by the run records it; zero when it was not.
func (f *fulfilment) purchaseBegun(itemID string) time.Time {
	if f.loaded == nil {
		return time.Time{}
	}
	for _, e := range f.loaded.Timeline() {
		if e.Kind() == domain.EventKindItemPurchasing && e.Value("item_id") == itemID {
			return e.At()
		}
	}
	return time.Time{}
}

// errItemMoved stops a run whose view of an item is older than the
// order's: another run changed the item since it was loaded.
func errItemMoved(itemID string) error {
	return fmt.Errorf("%w: item %s was changed by another run", ErrUnavailable, itemID)
}

// sameItem reports whether the stored item is still as the run loaded it:
// only then may the run begin (and so place) its purchase.
func sameItem(stored, seen *domain.OrderItem) bool {
	return stored.Status() == seen.Status() && stored.SupplierOrderID() == seen.SupplierOrderID() && stored.BoughtFrom() == seen.BoughtFrom()
}
