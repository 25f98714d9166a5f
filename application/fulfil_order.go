package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// FulfilOrder buys, seals and stores the keys of a paid order, item by item.
// It is idempotent: every step is recorded on the order before the next, the
// supplier is asked with our item id as its external id, and blob refs are
// deterministic, so running it again after any crash resumes instead of
// buying twice.
type FulfilOrder struct {
	orders   ports.OrderRepository
	supplier ports.Supplier
	keys     envelope
	stock    ownStock
	guard    PriceGuard
	clock    ports.Clock
	log      *slog.Logger
}

// NewFulfilOrder wires FulfilOrder; it panics when a dependency is nil.
func NewFulfilOrder(orders ports.OrderRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, supplier ports.Supplier, blobs ports.BlobStore, stock StockDeps, guard PriceGuard, clock ports.Clock, log *slog.Logger) FulfilOrder {
	require("FulfilOrder", "orders", orders, "dataKeys", dataKeys, "vault", vault, "supplier", supplier, "blobs", blobs,
		"stock", stock.Stock, "tx", stock.Tx, "audit", stock.Audit, "clock", clock, "log", log)
	keys := envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}
	return FulfilOrder{orders: orders, supplier: supplier, keys: keys, guard: guard.withDefaults(), clock: clock, log: log,
		stock: ownStock{StockDeps: stock, keys: stockKeys{keys}, orders: orders, clock: clock}}
}

// Handle returns nil when the order is done, permanently failed, held for
// review, waiting for supplier keys or for a supplier price within the
// price guard, and an error wrapping ErrUnavailable when it should be
// retried later. An order waiting for keys stays fulfilling with
// its item purchased: the supplier's webhook (HandleSupplierEvent) or the
// reconciler's slower pass resumes it, so that the message handler does not
// poll the supplier in a tight retry loop.
//
// A supplier-bought item takes two units of work: one, before the supplier
// is called, begins its purchase (and starts a paid order's fulfilment);
// the other, once its keys are sealed and stored, records the purchase,
// seals the item and, for the last item, completes the order.
func (h FulfilOrder) Handle(ctx context.Context, orderID string) error {
	o, err := h.orders.Get(ctx, orderID)
	if err != nil {
		return fmt.Errorf("load order %s: %w", orderID, err)
	}
	f := &fulfilment{FulfilOrder: h, orderID: orderID, start: o.Status() != domain.StatusFulfilling}
	// Asked of the loaded copy, which is never saved: whether fulfilment
	// may go on. The run's first change starts it for real.
	proceed, err := o.StartFulfilment(h.clock.Now())
	if err != nil {
		h.log.WarnContext(ctx, "fulfilment not possible", "order_id", orderID, "err", err)
		return nil
	}
	if !proceed || o.Status() != domain.StatusFulfilling {
		return nil
	}
	defer func() { f.key.Close() }()
	err = f.run(ctx, o)
	if errors.Is(err, errNotFulfilling) {
		return nil // a concurrent run finished it, or a person stopped it
	}
	// Whatever stopped the run, it leaves the order fulfilling, as every
	// run always has: a retry or the reconciler resumes it from there.
	if serr := f.commitStart(ctx); serr != nil && err == nil && !errors.Is(serr, errNotFulfilling) {
		err = fmt.Errorf("start fulfilment of %s: %w", orderID, serr)
	}
	return err
}

// errNotFulfilling stops a run whose order, when it came to start it, was
// no longer to be fulfilled.
var errNotFulfilling = errors.New("order no longer to be fulfilled")

// fulfilment is one run of FulfilOrder over an order.
type fulfilment struct {
	FulfilOrder
	orderID string
	key     *orderKey // the order's data key, opened at the first item to seal
	// start is set while the order is not yet fulfilling: the run's first
	// purchase begins in the unit of work that starts it, and any other
	// change starts it in one of its own first, as it always did.
	start bool
	// fulfilled is set once a seal completed the order.
	fulfilled bool
}

// run takes every item of o (as loaded) as far as it goes and completes
// the order when all are sealed.
func (f *fulfilment) run(ctx context.Context, o *domain.Order) error {
	waiting, priced := 0, 0
	for _, it := range o.Items() {
		if it.Status() == domain.ItemSealed {
			continue
		}
		if f.fulfilled {
			break // a concurrent run sealed the rest: our last seal completed the order
		}
		if f.key == nil {
			var err error
			if f.key, err = f.keys.forOrder(ctx, f.orderID); err != nil {
				return err
			}
		}
		res, err := f.fulfilItem(ctx, it)
		if err != nil {
			return fmt.Errorf("order %s item %s: %w", f.orderID, it.ID(), err)
		}
		switch res {
		case itemFailed, itemHeld:
			return nil // failed permanently, or held for review: a person acts next
		case itemWaiting:
			waiting++ // buy the other items meanwhile
		case itemPriceWait:
			priced++
		}
	}
	if priced > 0 {
		// Like a wait for keys, a wait for a price is no failure: the
		// message is done, and the reconciler's slower passes come back
		// (the wait is tens of minutes; the handler's retries span seconds
		// and would end in the dead letters). The guard holds the order for
		// review once the wait is over.
		f.log.InfoContext(ctx, "waiting for a cheaper supplier offer", "order_id", f.orderID, "items", priced)
		return nil
	}
	if waiting > 0 {
		f.log.InfoContext(ctx, "waiting for supplier keys", "order_id", f.orderID, "items", waiting)
		return nil
	}
	if !f.fulfilled {
		// The last item was sealed by another unit of work (own stock, a
		// concurrent run, a run that stopped short of completing).
		_, err := f.update(ctx, func(o *domain.Order) error {
			if o.Status() != domain.StatusFulfilling {
				return nil
			}
			return o.CompleteFulfilment(f.clock.Now())
		})
		if err != nil {
			return fmt.Errorf("complete fulfilment of %s: %w", f.orderID, err)
		}
	}
	f.log.InfoContext(ctx, "order fulfilled", "order_id", f.orderID)
	return nil
}

// itemResult is where fulfilItem left an item.
type itemResult int

const (
	itemSealed    itemResult = iota
	itemFailed               // permanently: the order is failed
	itemWaiting              // purchased; the supplier has not delivered its keys yet
	itemPriceWait            // not bought: the supplier asks more than the order affords
	itemHeld                 // not bought: the order is held for review
	itemProceed              // a step found nothing in the way: go on with the next
)

// fulfilItem takes one item to sealed, or as far as the supplier allows.
// With an error (retry later) the result means nothing.
func (f *fulfilment) fulfilItem(ctx context.Context, it *domain.OrderItem) (itemResult, error) {
	supplierOrderID := it.SupplierOrderID()
	recorded := it.Status() == domain.ItemPurchased && supplierOrderID != ""
	if !recorded {
		// Sourcing: our own stock first where the product takes it, then
		// the supplier where it may.
		sourcing, err := f.stock.sourcing(ctx, it)
		if err != nil {
			return itemFailed, err
		}
		// Only an item never handed to the supplier may take stock: one
		// that was may have been bought already.
		if sourcing.UsesStock() && it.Status() == domain.ItemPending {
			if err := f.commitStart(ctx); err != nil {
				return itemFailed, err
			}
			taken, err := f.stock.take(ctx, f.orderID, it, f.key)
			if err != nil || taken {
				return itemSealed, err
			}
			if !sourcing.UsesSupplier() {
				reason := fmt.Sprintf("own stock of %s has too few keys for %d", it.SKU(), it.Quantity())
				return itemHeld, f.holdForReview(ctx, it, reason)
			}
		}
		maybeBought := it.Status() == domain.ItemPurchasing || it.Status() == domain.ItemFailed
		so, res, err := f.purchase(ctx, it, maybeBought)
		if err != nil || res != itemProceed {
			return res, err
		}
		supplierOrderID = so.ID
	}

	// From here a purchase exists. Until the unit of work after the keys
	// commits, the item may still be purchasing: a crash meanwhile leaves
	// it to the next run, which finds the purchase by our item id
	// (supplier.FindOrder) instead of buying again.
	keys, err := f.supplier.Keys(ctx, supplierOrderID)
	defer func() {
		for _, k := range keys {
			clear(k.Data)
		}
	}()
	var serr error
	if err == nil && len(keys) == it.Quantity() {
		var sealed []domain.SealedKey
		if sealed, serr = f.storeKeys(ctx, it, keys); serr == nil {
			return itemSealed, f.seal(ctx, it, supplierOrderID, sealed, !recorded)
		}
	}
	// Short of sealing, the purchase is recorded on its own first, as it
	// always was: the outcomes below start from a purchased item.
	if !recorded {
		if _, rerr := f.update(ctx, func(o *domain.Order) error { return f.recordPurchase(o, it, supplierOrderID) }); rerr != nil {
			return itemFailed, rerr
		}
	}
	if serr != nil {
		return itemFailed, serr
	}
	switch {
	case errors.Is(err, ports.ErrKeysPending):
		f.log.InfoContext(ctx, "supplier keys not ready", "order_id", f.orderID, "item_id", it.ID(), "supplier_order_id", supplierOrderID)
		return itemWaiting, nil
	case errors.Is(err, ports.ErrSupplierPermanent):
		return itemFailed, f.failItem(ctx, it, err)
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

// storeKeys seals the item's keys under the order's data key and stores
// them. Their refs are fixed by order, item and slot, so storing them again
// after a crash overwrites what an earlier run left.
func (f *fulfilment) storeKeys(ctx context.Context, it *domain.OrderItem, keys []ports.SupplierKey) ([]domain.SealedKey, error) {
	sealed := make([]domain.SealedKey, 0, len(keys))
	for slot, k := range keys {
		ref, err := f.keys.store(ctx, f.key, it.ID(), slot, k.Data)
		if err != nil {
			return nil, err
		}
		sealed = append(sealed, domain.SealedKey{Slot: slot, BlobRef: ref, ContentType: k.ContentType})
	}
	return sealed, nil
}

// seal records the item's stored keys in one unit of work: the purchase
// first unless an earlier run recorded it, the seal, and the order's
// completion when it was the last item to seal.
func (f *fulfilment) seal(ctx context.Context, it *domain.OrderItem, supplierOrderID string, keys []domain.SealedKey, record bool) error {
	completed := false
	_, err := f.update(ctx, func(o *domain.Order) error {
		completed = false // the function runs again when the unit of work is retried
		now := f.clock.Now()
		if record {
			if err := f.recordPurchase(o, it, supplierOrderID); err != nil {
				return err
			}
		}
		if err := o.SealItem(it.ID(), keys, now); err != nil {
			return err
		}
		if !allSealed(o) {
			return nil
		}
		completed = true
		return o.CompleteFulfilment(now)
	})
	f.fulfilled = err == nil && completed
	return err
}

// recordPurchase records the supplier's order on the item; begun first,
// for an item a previous run left failed before finding the purchase (it
// changes nothing on an item purchasing).
func (f *fulfilment) recordPurchase(o *domain.Order, it *domain.OrderItem, supplierOrderID string) error {
	now := f.clock.Now()
	if err := o.BeginItemPurchase(it.ID(), now); err != nil {
		return err
	}
	return o.RecordItemPurchase(it.ID(), supplierOrderID, now)
}

func allSealed(o *domain.Order) bool {
	for _, it := range o.Items() {
		if it.Status() != domain.ItemSealed {
			return false
		}
	}
	return true
}

// failItem records a permanent supplier refusal on the item (which fails
// the order); the reason is the supplier's, for the operator.
func (f *fulfilment) failItem(ctx context.Context, it *domain.OrderItem, cause error) error {
	f.log.WarnContext(ctx, "item failed permanently", "order_id", f.orderID, "item_id", it.ID(), "err", cause)
	_, err := f.update(ctx, func(o *domain.Order) error {
		return o.FailItem(it.ID(), cause.Error(), false, f.clock.Now())
	})
	return err
}

// purchase buys the item under the price guard, or finds the purchase a
// previous attempt made. It returns itemProceed with the supplier's order,
// itemFailed after failing the item permanently, or itemPriceWait /
// itemHeld when the guard stopped it; an error to retry. A purchase found
// is recorded with the keys (or without them, by fulfilItem); one placed
// is begun on the order before the supplier hears of it.
func (f *fulfilment) purchase(ctx context.Context, it *domain.OrderItem, maybeBought bool) (ports.SupplierOrder, itemResult, error) {
	if maybeBought {
		so, err := f.supplier.FindOrder(ctx, it.ID())
		if err == nil {
			return so, itemProceed, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: find purchase: %v", ErrUnavailable, err)
		}
	}
	affordable, err := f.guard.affordable(it)
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, f.failItem(ctx, it, err)
	}
	if res, err := f.checkPrice(ctx, it, affordable); err != nil || res != itemProceed {
		return ports.SupplierOrder{}, res, err
	}
	if err := f.beginPurchase(ctx, it); err != nil {
		return ports.SupplierOrder{}, itemFailed, err
	}
	so, err := f.supplier.PlaceOrder(ctx, ports.PurchaseRequest{
		ExternalID: it.ID(), ProductID: it.Source().SupplierProductID, Qty: it.Quantity(), Price: affordable,
	})
	if errors.Is(err, ports.ErrSupplierPermanent) {
		// A refusal may be the price rising since we asked: the guard
		// waits for it to come down instead of failing the order.
		if res, cerr := f.checkPrice(ctx, it, affordable); cerr != nil || res != itemProceed {
			return ports.SupplierOrder{}, res, cerr
		}
		return ports.SupplierOrder{}, itemFailed, f.failItem(ctx, it, err)
	}
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: purchase: %v", ErrUnavailable, err)
	}
	return so, itemProceed, nil
}

// beginPurchase records, before the supplier is called, that it is; a
// paid order starts fulfilling in the same unit of work.
func (f *fulfilment) beginPurchase(ctx context.Context, it *domain.OrderItem) error {
	_, err := f.orders.Update(ctx, f.orderID, func(o *domain.Order) error {
		if err := f.startOn(o); err != nil {
			return err
		}
		return o.BeginItemPurchase(it.ID(), f.clock.Now())
	})
	if err == nil {
		f.start = false
	}
	return err
}

// holdForReview stops the order for a person, with the reason.
func (f *fulfilment) holdForReview(ctx context.Context, it *domain.OrderItem, reason string) error {
	f.log.WarnContext(ctx, "order held for review", "order_id", f.orderID, "item_id", it.ID(), "reason", reason)
	_, err := f.update(ctx, func(o *domain.Order) error { return o.HoldForReview(reason, f.clock.Now()) })
	return err
}

// update changes the order in a unit of work, once the order is started.
func (f *fulfilment) update(ctx context.Context, fn func(*domain.Order) error) (*domain.Order, error) {
	if err := f.commitStart(ctx); err != nil {
		return nil, err
	}
	return f.orders.Update(ctx, f.orderID, fn)
}

// commitStart starts the order's fulfilment in a unit of work of its own,
// unless the run already did.
func (f *fulfilment) commitStart(ctx context.Context) error {
	if !f.start {
		return nil
	}
	if _, err := f.orders.Update(ctx, f.orderID, f.startOn); err != nil {
		return err
	}
	f.start = false
	return nil
}

// startOn starts o's fulfilment if the run has yet to; errNotFulfilling
// when o is past fulfilment (done, failed, revoked) by now.
func (f *fulfilment) startOn(o *domain.Order) error {
	if !f.start {
		return nil
	}
	proceed, err := o.StartFulfilment(f.clock.Now())
	if err != nil {
		return err
	}
	if !proceed {
		return errNotFulfilling
	}
	return nil
}
