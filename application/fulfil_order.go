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
func (h FulfilOrder) Handle(ctx context.Context, orderID string) error {
	proceed := false
	o, err := h.orders.Update(ctx, orderID, func(o *domain.Order) error {
		var err error
		proceed, err = o.StartFulfilment(h.clock.Now())
		return err
	})
	if err != nil {
		if errors.Is(err, domain.ErrInvalidTransition) {
			h.log.WarnContext(ctx, "fulfilment not possible", "order_id", orderID, "err", err)
			return nil
		}
		return fmt.Errorf("start fulfilment: %w", err)
	}
	if !proceed || o.Status() != domain.StatusFulfilling {
		return nil
	}

	var key *orderKey
	defer func() { key.Close() }()
	waiting, priced := 0, 0
	for _, it := range o.Items() {
		if it.Status() == domain.ItemSealed {
			continue
		}
		if key == nil {
			if key, err = h.keys.forOrder(ctx, orderID); err != nil {
				return err
			}
		}
		res, err := h.fulfilItem(ctx, orderID, it, key)
		if err != nil {
			return fmt.Errorf("order %s item %s: %w", orderID, it.ID(), err)
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
		h.log.InfoContext(ctx, "waiting for a cheaper supplier offer", "order_id", orderID, "items", priced)
		return nil
	}
	if waiting > 0 {
		h.log.InfoContext(ctx, "waiting for supplier keys", "order_id", orderID, "items", waiting)
		return nil
	}
	_, err = h.orders.Update(ctx, orderID, func(o *domain.Order) error {
		if o.Status() != domain.StatusFulfilling {
			return nil
		}
		return o.CompleteFulfilment(h.clock.Now())
	})
	if err != nil {
		return fmt.Errorf("complete fulfilment of %s: %w", orderID, err)
	}
	h.log.InfoContext(ctx, "order fulfilled", "order_id", orderID)
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
func (h FulfilOrder) fulfilItem(ctx context.Context, orderID string, it *domain.OrderItem, key *orderKey) (itemResult, error) {
	supplierOrderID := it.SupplierOrderID()
	if it.Status() != domain.ItemPurchased || supplierOrderID == "" {
		// Sourcing: our own stock first where the product takes it, then
		// the supplier where it may.
		sourcing, err := h.stock.sourcing(ctx, it)
		if err != nil {
			return itemFailed, err
		}
		// Only an item never handed to the supplier may take stock: one
		// that was may have been bought already.
		if sourcing.UsesStock() && it.Status() == domain.ItemPending {
			taken, err := h.stock.take(ctx, orderID, it, key)
			if err != nil || taken {
				return itemSealed, err
			}
			if !sourcing.UsesSupplier() {
				reason := fmt.Sprintf("own stock of %s has too few keys for %d", it.SKU(), it.Quantity())
				return itemHeld, h.holdForReview(ctx, orderID, it, reason)
			}
		}
		maybeBought := it.Status() == domain.ItemPurchasing || it.Status() == domain.ItemFailed
		so, res, err := h.purchase(ctx, orderID, it, maybeBought)
		if err != nil || res != itemProceed {
			return res, err
		}
		supplierOrderID = so.ID
		if err := h.update(ctx, orderID, func(o *domain.Order) error {
			return o.RecordItemPurchase(it.ID(), supplierOrderID, h.clock.Now())
		}); err != nil {
			return itemFailed, err
		}
	}

	keys, err := h.supplier.Keys(ctx, supplierOrderID)
	switch {
	case errors.Is(err, ports.ErrKeysPending):
		h.log.InfoContext(ctx, "supplier keys not ready", "order_id", orderID, "item_id", it.ID(), "supplier_order_id", supplierOrderID)
		return itemWaiting, nil
	case errors.Is(err, ports.ErrSupplierPermanent):
		return itemFailed, h.failItem(ctx, orderID, it, err)
	case errors.Is(err, domain.ErrNotFound):
		// The supplier does not know a purchase we recorded: an anomaly
		// for a person, never an endless retry.
		reason := fmt.Sprintf("supplier does not know purchase %s recorded for item %s", supplierOrderID, it.ID())
		h.log.ErrorContext(ctx, "order held for review", "order_id", orderID, "reason", reason)
		return itemFailed, h.update(ctx, orderID, func(o *domain.Order) error { return o.HoldForReview(reason, h.clock.Now()) })
	case err != nil:
		return itemFailed, fmt.Errorf("%w: keys of supplier order %s: %v", ErrUnavailable, supplierOrderID, err)
	}
	defer func() {
		for _, k := range keys {
			clear(k.Data)
		}
	}()
	if len(keys) != it.Quantity() {
		return itemFailed, fmt.Errorf("%w: supplier order %s has %d keys, want %d", ErrUnavailable, supplierOrderID, len(keys), it.Quantity())
	}
	sealed := make([]domain.SealedKey, 0, len(keys))
	for slot, k := range keys {
		ref, err := h.keys.store(ctx, key, it.ID(), slot, k.Data)
		if err != nil {
			return itemFailed, err
		}
		sealed = append(sealed, domain.SealedKey{Slot: slot, BlobRef: ref, ContentType: k.ContentType})
	}
	return itemSealed, h.update(ctx, orderID, func(o *domain.Order) error { return o.SealItem(it.ID(), sealed, h.clock.Now()) })
}

// failItem records a permanent supplier refusal on the item (which fails
// the order); the reason is the supplier's, for the operator.
func (h FulfilOrder) failItem(ctx context.Context, orderID string, it *domain.OrderItem, cause error) error {
	h.log.WarnContext(ctx, "item failed permanently", "order_id", orderID, "item_id", it.ID(), "err", cause)
	return h.update(ctx, orderID, func(o *domain.Order) error {
		return o.FailItem(it.ID(), cause.Error(), false, h.clock.Now())
	})
}

// purchase buys the item under the price guard, or finds the purchase a
// previous attempt made. It returns itemProceed with the supplier's order, itemFailed after failing the item permanently, or
// itemPriceWait / itemHeld when the guard stopped it; an error to retry.
func (h FulfilOrder) purchase(ctx context.Context, orderID string, it *domain.OrderItem, maybeBought bool) (ports.SupplierOrder, itemResult, error) {
	if maybeBought {
		so, err := h.supplier.FindOrder(ctx, it.ID())
		if err == nil {
			return so, itemProceed, h.beginPurchase(ctx, orderID, it)
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: find purchase: %v", ErrUnavailable, err)
		}
	}
	affordable, err := h.guard.affordable(it)
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, h.failItem(ctx, orderID, it, err)
	}
	if res, err := h.checkPrice(ctx, orderID, it, affordable); err != nil || res != itemProceed {
		return ports.SupplierOrder{}, res, err
	}
	if err := h.beginPurchase(ctx, orderID, it); err != nil {
		return ports.SupplierOrder{}, itemFailed, err
	}
	so, err := h.supplier.PlaceOrder(ctx, ports.PurchaseRequest{
		ExternalID: it.ID(), ProductID: it.Source().SupplierProductID, Qty: it.Quantity(), Price: affordable,
	})
	if errors.Is(err, ports.ErrSupplierPermanent) {
		// A refusal may be the price rising since we asked: the guard
		// waits for it to come down instead of failing the order.
		if res, cerr := h.checkPrice(ctx, orderID, it, affordable); cerr != nil || res != itemProceed {
			return ports.SupplierOrder{}, res, cerr
		}
		return ports.SupplierOrder{}, itemFailed, h.failItem(ctx, orderID, it, err)
	}
	if err != nil {
		return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: purchase: %v", ErrUnavailable, err)
	}
	return so, itemProceed, nil
}

// beginPurchase records, before the supplier is called, that it is.
func (h FulfilOrder) beginPurchase(ctx context.Context, orderID string, it *domain.OrderItem) error {
	return h.update(ctx, orderID, func(o *domain.Order) error { return o.BeginItemPurchase(it.ID(), h.clock.Now()) })
}

// holdForReview stops the order for a person, with the reason.
func (h FulfilOrder) holdForReview(ctx context.Context, orderID string, it *domain.OrderItem, reason string) error {
	h.log.WarnContext(ctx, "order held for review", "order_id", orderID, "item_id", it.ID(), "reason", reason)
	return h.update(ctx, orderID, func(o *domain.Order) error { return o.HoldForReview(reason, h.clock.Now()) })
}

func (h FulfilOrder) update(ctx context.Context, orderID string, fn func(*domain.Order) error) error {
	_, err := h.orders.Update(ctx, orderID, fn)
	return err
}
