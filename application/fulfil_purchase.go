package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// purchase buys the item under the price guard, or finds the purchase a
// previous attempt made. It returns itemProceed with the supplier's order,
// itemFailed after failing the item permanently, or itemPriceWait /
// itemHeld when the guard stopped it; an error to retry. A purchase found
// is recorded with the keys (or without them, by fulfilItem); one placed
// is begun on the order before the supplier hears of it.
func (f *fulfilment) purchase(ctx context.Context, sup ports.Supplier, it *domain.OrderItem, maybeBought bool) (ports.SupplierOrder, itemResult, error) {
	ctx, err := f.lockPurchase(ctx, it)
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, err
	}
	if maybeBought {
		so, err := sup.FindOrder(ctx, it.ID())
		if err == nil {
			return so, itemProceed, nil
		}
		if errors.Is(err, ports.ErrPurchaseUnverifiable) {
			return ports.SupplierOrder{}, itemHeld, f.holdForReview(ctx, it, err.Error())
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: find purchase: %v", ErrUnavailable, err)
		}
	}
	affordable, err := f.guard.affordable(it)
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, f.failItem(ctx, it, err)
	}
	if res, err := f.checkPrice(ctx, sup, it, affordable); err != nil || res != itemProceed {
		return ports.SupplierOrder{}, res, err
	}
	if err := f.beginPurchase(ctx, it, sup.Name()); err != nil {
		return ports.SupplierOrder{}, itemFailed, err
	}
	if _, begun := ports.PurchaseBegun(ctx); !begun {
		ctx = ports.WithPurchaseBegun(ctx, f.clock.Now())
	}
	so, err := sup.PlaceOrder(ctx, ports.PurchaseRequest{
		ExternalID: it.ID(), ProductID: it.Source().SupplierProductID, Qty: it.Quantity(), Price: affordable,
	})
	if errors.Is(err, ports.ErrPurchaseUnverifiable) {
		return ports.SupplierOrder{}, itemHeld, f.holdForReview(ctx, it, err.Error())
	}
	if errors.Is(err, ports.ErrSupplierPermanent) {
		// A refusal may be the price rising since we asked: the guard
		// waits for it to come down instead of failing the order.
		if res, cerr := f.checkPrice(ctx, sup, it, affordable); cerr != nil || res != itemProceed {
			return ports.SupplierOrder{}, res, cerr
		}
		return ports.SupplierOrder{}, itemFailed, f.failItem(ctx, it, err)
	}
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: purchase: %v", ErrUnavailable, err)
	}
	return so, itemProceed, nil
}

// beginPurchase records, before the supplier is called, that it is, and
// which; a paid order starts fulfilling in the same unit of work.
func (f *fulfilment) beginPurchase(ctx context.Context, it *domain.OrderItem, supplier string) error {
	_, err := f.orders.Update(ctx, f.orderID, func(o *domain.Order) error {
		if stored, err := o.Item(it.ID()); err == nil && !sameItem(stored, it) {
			return errItemMoved(it.ID())
		}
		if err := f.startOn(o); err != nil {
			return err
		}
		return o.BeginItemPurchaseFrom(it.ID(), supplier, f.clock.Now())
	})
	if err == nil {
		f.start = false
	}
	return err
}

// recordPurchase records the supplier's order on the item; begun first,
// for an item a previous run left failed before finding the purchase (it
// changes nothing on an item purchasing).
func (f *fulfilment) recordPurchase(o *domain.Order, it *domain.OrderItem, supplier, supplierOrderID string) error {
	now := f.clock.Now()
	if err := o.BeginItemPurchaseFrom(it.ID(), supplier, now); err != nil {
		return err
	}
	return o.RecordItemPurchase(it.ID(), supplierOrderID, now)
}
