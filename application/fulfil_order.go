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
	clock    ports.Clock
	log      *slog.Logger
}

// NewFulfilOrder wires FulfilOrder; it panics when a dependency is nil.
func NewFulfilOrder(orders ports.OrderRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, supplier ports.Supplier, blobs ports.BlobStore, clock ports.Clock, log *slog.Logger) FulfilOrder {
	require("FulfilOrder", "orders", orders, "dataKeys", dataKeys, "vault", vault, "supplier", supplier, "blobs", blobs, "clock", clock, "log", log)
	return FulfilOrder{orders: orders, supplier: supplier, keys: envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}, clock: clock, log: log}
}

// Handle returns nil when the order is done, permanently failed, or
// waiting for supplier keys, and an error wrapping ErrUnavailable when it
// should be retried later. An order waiting for keys stays fulfilling with
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
	waiting := 0
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
		case itemFailed:
			return nil // failed permanently; the order is failed
		case itemWaiting:
			waiting++ // buy the other items meanwhile
		}
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
	itemSealed  itemResult = iota
	itemFailed             // permanently: the order is failed
	itemWaiting            // purchased; the supplier has not delivered its keys yet
)

// fulfilItem takes one item to sealed, or as far as the supplier allows.
// With an error (retry later) the result means nothing.
func (h FulfilOrder) fulfilItem(ctx context.Context, orderID string, it *domain.OrderItem, key *orderKey) (itemResult, error) {
	supplierOrderID := it.SupplierOrderID()
	if it.Status() != domain.ItemPurchased || supplierOrderID == "" {
		maybeBought := it.Status() == domain.ItemPurchasing || it.Status() == domain.ItemFailed
		if err := h.update(ctx, orderID, func(o *domain.Order) error { return o.BeginItemPurchase(it.ID(), h.clock.Now()) }); err != nil {
			return itemFailed, err
		}
		so, err := h.purchase(ctx, it, maybeBought)
		if errors.Is(err, ports.ErrSupplierPermanent) {
			return itemFailed, h.failItem(ctx, orderID, it, err)
		}
		if err != nil {
			return itemFailed, fmt.Errorf("%w: purchase: %v", ErrUnavailable, err)
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

// purchase buys the item, or finds the purchase a previous attempt made.
func (h FulfilOrder) purchase(ctx context.Context, it *domain.OrderItem, maybeBought bool) (ports.SupplierOrder, error) {
	if maybeBought {
		so, err := h.supplier.FindOrder(ctx, it.ID())
		if err == nil {
			return so, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return ports.SupplierOrder{}, err
		}
	}
	return h.supplier.PlaceOrder(ctx, ports.PurchaseRequest{
		ExternalID: it.ID(), ProductID: it.Source().SupplierProductID, Qty: it.Quantity(), Price: it.Source().Cost,
	})
}

func (h FulfilOrder) update(ctx context.Context, orderID string, fn func(*domain.Order) error) error {
	_, err := h.orders.Update(ctx, orderID, fn)
	return err
}
