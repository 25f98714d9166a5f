package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

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
// completion when it was the last item to seal, with the claim of its
// delivery and the delivery link when the run delivers (f.delivery, which
// Handle then sends).
func (f *fulfilment) seal(ctx context.Context, it *domain.OrderItem, supplier, supplierOrderID string, keys []domain.SealedKey, record bool) error {
	completed := false
	var d *delivery
	if f.deliver != nil {
		d = f.deliver.newDelivery()
	}
	err := f.stock.Tx.Atomically(ctx, func(ctx context.Context) error {
		o, err := f.update(ctx, func(o *domain.Order) error {
			completed = false // the function runs again when the unit of work is retried
			now := f.clock.Now()
			if record {
				if err := f.recordPurchase(o, it, supplier, supplierOrderID); err != nil {
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
			if err := o.CompleteFulfilment(now); err != nil {
				return err
			}
			if d != nil {
				d.claimOn(o)
			}
			return nil
		})
		if err != nil || !completed || d == nil {
			return err
		}
		return d.issueLink(ctx, o)
	})
	f.fulfilled = err == nil && completed
	switch {
	case f.fulfilled:
		f.delivery = d
	case err != nil && d != nil && d.claimed:
		// A store that cannot roll back (memory) may keep the claim: free
		// it, so that the retry need not wait out its lease.
		err = d.finish(ctx, f.orderID, err)
	}
	return err
}

func allSealed(o *domain.Order) bool {
	for _, it := range o.Items() {
		if it.Status() != domain.ItemSealed {
			return false
		}
	}
	return true
}
