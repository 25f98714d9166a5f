package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// fulfilItem takes one item to sealed, or as far as the supplier allows.
// With an error (retry later) the result means nothing.
func (f *fulfilment) fulfilItem(ctx context.Context, it *domain.OrderItem) (itemResult, error) {
	defer f.unlockPurchase()
	supplierOrderID := it.SupplierOrderID()
	recorded := (it.Status() == domain.ItemPurchased || it.Status() == domain.ItemAwaitingRelease) && supplierOrderID != ""
	var bought ports.Supplier // where this run bought the item
	if !recorded {
		// Sourcing: our own stock first where the product takes it, then
		// the supplier where it may.
		sourcing, err := f.stock.sourcing(ctx, it)
		if err != nil {
			return itemFailed, err
		}
		// Only an item never handed to the supplier may take stock: one
		// that was may have been bought already, even after a retry.
		if sourcing.UsesStock() && it.Status() == domain.ItemPending && it.BoughtFrom() == "" {
			// A product whose stock cannot cover the item (most supplier
			// products hold none) goes to the supplier without a unit of
			// work of its own: its purchase starts the order.
			enough, err := f.stock.covers(ctx, it)
			if err != nil {
				return itemFailed, err
			}
			if enough || !sourcing.UsesSupplier() {
				if err := f.commitStart(ctx); err != nil {
					return itemFailed, err
				}
				if f.newKey != nil {
					// Taking stock opens the stock's key at the vault
					// first, which no unit of work may wait for: the
					// order's new key is stored on its own before.
					if err := f.withNewKey(ctx, func(context.Context) error { return nil }); err != nil {
						return itemFailed, err
					}
				}
				taken, err := f.stock.take(ctx, f.orderID, it, f.key)
				if err != nil || taken {
					return itemSealed, err
				}
			}
			if !sourcing.UsesSupplier() {
				reason := fmt.Sprintf("own stock of %s has too few keys for %d", it.SKU(), it.Quantity())
				return itemHeld, f.holdForReview(ctx, it, reason)
			}
		}
		so, sup, res, err := f.buyRouted(ctx, it)
		if err != nil || res != itemProceed {
			return res, err
		}
		supplierOrderID, bought = so.ID, sup
	}

	// From here a purchase exists, at the supplier the item records. Until
	// the unit of work after the keys commits, the item may still be
	// purchasing: a crash meanwhile leaves it to the next run, which finds
	// the purchase by our item id (supplier.FindOrder) instead of buying
	// again.
	sup := bought
	if sup == nil {
		var err error
		if sup, err = f.supplierOf(ctx, it); sup == nil {
			return itemHeld, err
		}
	}
	keys, err := sup.Keys(ctx, supplierOrderID)
	defer func() {
		for _, k := range keys {
			clear(k.Data)
		}
	}()
	var serr error
	if err == nil && len(keys) == it.Quantity() {
		if serr = f.sealKeys(ctx, it, sup.Name(), supplierOrderID, keys, !recorded); !errors.As(serr, new(errStoreKeys)) {
			return itemSealed, serr
		}
	}
	if release, ok := ports.PreorderOf(err); ok && serr == nil {
		// A pre-order: it waits for its release, recorded with the
		// purchase when this run bought it.
		return itemWaiting, f.awaitRelease(ctx, it, sup.Name(), supplierOrderID, release, !recorded)
	}
	// Short of sealing, the purchase is recorded on its own first, as it
	// always was: the outcomes below start from a purchased item.
	if !recorded {
		if _, rerr := f.update(ctx, func(o *domain.Order) error { return f.recordPurchase(o, it, sup.Name(), supplierOrderID) }); rerr != nil {
			return itemFailed, rerr
		}
	}
	if serr != nil {
		return itemFailed, serr
	}
	switch {
	case errors.Is(err, ports.ErrKeysPending):
		f.log.InfoContext(ctx, "supplier keys not ready", "order_id", f.orderID, "item_id", it.ID(), "supplier_order_id", supplierOrderID)
		f.plainWait = true
		return itemWaiting, nil
	case errors.Is(err, ports.ErrPurchaseCanceled):
		return itemFailed, f.failItem(ctx, it, err)
	case errors.Is(err, ports.ErrSupplierPermanent):
		// Bought, yet the keys cannot be read: never refund what was
		// paid for on a guess. A person checks the purchase.
		return itemHeld, f.holdForReview(ctx, it, fmt.Sprintf("keys of supplier order %s cannot be read: %v", supplierOrderID, err))
	case errors.Is(err, domain.ErrNotFound):
		// The supplier does not know a purchase we recorded: an anomaly
		// for a person, never an endless retry.
		reason := fmt.Sprintf("supplier does not know purchase %s recorded for item %s", supplierOrderID, it.ID())
		f.log.ErrorContext(ctx, "order held for review", "order_id", f.orderID, "reason", reason)
		_, err := f.update(ctx, func(o *domain.Order) error { return o.HoldForReview(reason, f.clock.Now()) })
		return itemFailed, err
	case err != nil:
		return itemFailed, fmt.Errorf("%w: keys of supplier order %s: %v", ErrUnavailable, supplierOrderID, err)
	}
	return itemFailed, fmt.Errorf("%w: supplier order %s has %d keys, want %d", ErrUnavailable, supplierOrderID, len(keys), it.Quantity())
}
