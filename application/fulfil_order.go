package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// FulfilOrder buys, seals and stores the keys of a paid order, item by item.
// It is idempotent: every step is recorded on the order before the next, the
// supplier is asked with our item id as its external id, and blob refs are
// deterministic, so running it again after any crash resumes instead of
// buying twice.
type FulfilOrder struct {
	Orders   ports.OrderRepository
	DataKeys ports.DataKeyRepository
	Vault    ports.KeyVault
	Supplier ports.Supplier
	Blobs    ports.BlobStore
	Clock    ports.Clock
	Log      *slog.Logger
	// Hook, when set, is called at named points; tests use it to stop the
	// process mid-fulfilment.
	Hook func(point string)
}

// Fault-injection points passed to FulfilOrder.Hook.
const (
	HookAfterPurchaseRecorded = "after_purchase_recorded"
)

// Handle returns nil when the order is done or permanently failed, and an
// error wrapping ErrUnavailable when it should be retried later.
func (h FulfilOrder) Handle(ctx context.Context, orderID string) error {
	proceed := false
	o, err := h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		var err error
		proceed, err = o.StartFulfilment(h.Clock.Now())
		return err
	})
	if err != nil {
		if errors.Is(err, domain.ErrInvalidTransition) {
			h.Log.WarnContext(ctx, "fulfilment not possible", "order_id", orderID, "err", err)
			return nil
		}
		return fmt.Errorf("start fulfilment: %w", err)
	}
	if !proceed || o.Status() != domain.StatusFulfilling {
		return nil
	}

	var dataKey []byte
	defer func() { zero(dataKey) }()
	for _, it := range o.Items() {
		if it.Status() == domain.ItemSealed {
			continue
		}
		if dataKey == nil {
			if dataKey, err = h.dataKey(ctx, orderID); err != nil {
				return err
			}
		}
		done, err := h.fulfilItem(ctx, orderID, it, dataKey)
		if err != nil {
			return fmt.Errorf("order %s item %s: %w", orderID, it.ID(), err)
		}
		if !done {
			return nil // failed permanently; the order is failed
		}
	}
	_, err = h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		if o.Status() != domain.StatusFulfilling {
			return nil
		}
		return o.CompleteFulfilment(h.Clock.Now())
	})
	if err != nil {
		return fmt.Errorf("complete fulfilment of %s: %w", orderID, err)
	}
	h.Log.InfoContext(ctx, "order fulfilled", "order_id", orderID)
	return nil
}

// fulfilItem takes one item to sealed. It reports false when the item failed
// permanently.
func (h FulfilOrder) fulfilItem(ctx context.Context, orderID string, it *domain.OrderItem, dataKey []byte) (bool, error) {
	supplierOrderID := it.SupplierOrderID()
	if it.Status() != domain.ItemPurchased || supplierOrderID == "" {
		maybeBought := it.Status() == domain.ItemPurchasing || it.Status() == domain.ItemFailed
		if err := h.update(ctx, orderID, func(o *domain.Order) error { return o.BeginItemPurchase(it.ID(), h.Clock.Now()) }); err != nil {
			return false, err
		}
		so, err := h.purchase(ctx, it, maybeBought)
		if errors.Is(err, ports.ErrSupplierPermanent) {
			h.Log.WarnContext(ctx, "item failed permanently", "order_id", orderID, "item_id", it.ID(), "err", err)
			return false, h.update(ctx, orderID, func(o *domain.Order) error {
				return o.FailItem(it.ID(), err.Error(), false, h.Clock.Now())
			})
		}
		if err != nil {
			return false, fmt.Errorf("%w: purchase: %v", ErrUnavailable, err)
		}
		supplierOrderID = so.ID
		if err := h.update(ctx, orderID, func(o *domain.Order) error {
			return o.RecordItemPurchase(it.ID(), supplierOrderID, h.Clock.Now())
		}); err != nil {
			return false, err
		}
		if h.Hook != nil {
			h.Hook(HookAfterPurchaseRecorded)
		}
	}

	keys, err := h.Supplier.Keys(ctx, supplierOrderID)
	if err != nil {
		return false, fmt.Errorf("%w: keys of supplier order %s: %v", ErrUnavailable, supplierOrderID, err)
	}
	if len(keys) != it.Quantity() {
		return false, fmt.Errorf("%w: supplier order %s has %d keys, want %d", ErrUnavailable, supplierOrderID, len(keys), it.Quantity())
	}
	sealed := make([]domain.SealedKey, 0, len(keys))
	for slot, k := range keys {
		ct, err := sealKey(dataKey, k.Data, sealAAD(orderID, it.ID(), slot))
		zero(k.Data)
		if err != nil {
			return false, fmt.Errorf("seal: %w", err)
		}
		ref := blobRef(orderID, it.ID(), slot)
		if err := h.Blobs.Put(ctx, ref, ct); err != nil {
			return false, fmt.Errorf("%w: store sealed key: %v", ErrUnavailable, err)
		}
		sealed = append(sealed, domain.SealedKey{Slot: slot, BlobRef: ref, ContentType: k.ContentType})
	}
	return true, h.update(ctx, orderID, func(o *domain.Order) error { return o.SealItem(it.ID(), sealed, h.Clock.Now()) })
}

// purchase buys the item, or finds the purchase a previous attempt made.
func (h FulfilOrder) purchase(ctx context.Context, it *domain.OrderItem, maybeBought bool) (ports.SupplierOrder, error) {
	if maybeBought {
		so, err := h.Supplier.FindOrder(ctx, it.ID())
		if err == nil {
			return so, nil
		}
		if !errors.Is(err, domain.ErrNotFound) {
			return ports.SupplierOrder{}, err
		}
	}
	return h.Supplier.PlaceOrder(ctx, ports.PurchaseRequest{
		ExternalID: it.ID(), ProductID: it.Source().SupplierProductID, Qty: it.Quantity(), Price: it.Source().Cost,
	})
}

// dataKey returns the order's plaintext data key, creating it on first use.
func (h FulfilOrder) dataKey(ctx context.Context, orderID string) ([]byte, error) {
	wk, err := h.DataKeys.Get(ctx, orderID)
	if err == nil {
		return unwrap(ctx, h.Vault, orderID, wk)
	}
	if !errors.Is(err, domain.ErrNotFound) {
		return nil, fmt.Errorf("load data key: %w", err)
	}
	dk, err := h.Vault.NewDataKey(ctx, orderID)
	if err != nil {
		return nil, fmt.Errorf("%w: new data key: %v", ErrUnavailable, err)
	}
	if err := h.DataKeys.Create(ctx, orderID, dk.Wrapped); err != nil {
		zero(dk.Plaintext)
		if errors.Is(err, domain.ErrConflict) { // a concurrent run stored one first
			return h.dataKey(ctx, orderID)
		}
		return nil, fmt.Errorf("store data key: %w", err)
	}
	return dk.Plaintext, nil
}

func (h FulfilOrder) update(ctx context.Context, orderID string, fn func(*domain.Order) error) error {
	_, err := h.Orders.Update(ctx, orderID, fn)
	return err
}

// unwrap opens a wrapped data key, classifying vault outages as ErrUnavailable.
func unwrap(ctx context.Context, v ports.KeyVault, orderID string, wk ports.WrappedKey) ([]byte, error) {
	k, err := v.UnwrapDataKey(ctx, orderID, wk)
	if errors.Is(err, ports.ErrVaultUnavailable) {
		return nil, fmt.Errorf("%w: unwrap data key: %v", ErrUnavailable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	return k, nil
}

func blobRef(orderID, itemID string, slot int) string {
	return "orders/" + orderID + "/" + itemID + "/" + strconv.Itoa(slot)
}
