package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// errStoreKeys marks a failure to store sealed keys, so that the run
// records the purchase on its own (fulfilItem).
type errStoreKeys struct{ err error }

func (e errStoreKeys) Error() string { return e.err.Error() }
func (e errStoreKeys) Unwrap() error { return e.err }

// sealKeys seals and stores the item's keys and records them (seal). The
// keys are stored inside seal's unit of work when the blob store's puts
// join it (Postgres: no transaction of their own), else before it (S3: no
// transaction held open across an upload). A store failure is returned
// as errStoreKeys, with nothing recorded.
func (f *fulfilment) sealKeys(ctx context.Context, it *domain.OrderItem, supplier, supplierOrderID string, keys []ports.SupplierKey, record bool) error {
	store := func(ctx context.Context) ([]domain.SealedKey, error) {
		sealed, err := f.storeKeys(ctx, it, keys)
		if err != nil {
			return nil, errStoreKeys{err}
		}
		return sealed, nil
	}
	if !ports.PutJoinsUnitOfWork(f.keys.blobs) {
		sealed, err := store(ctx)
		if err != nil {
			return err
		}
		store = func(context.Context) ([]domain.SealedKey, error) { return sealed, nil }
	}
	return f.seal(ctx, it, supplier, supplierOrderID, store, record)
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

// seal records the item's keys, stored by store, in one unit of work: the purchase
// first unless an earlier run recorded it, the seal, and the order's
// completion when it was the last item to seal, with the claim of its
// delivery and the delivery link when the run delivers (f.delivery, which
// Handle then sends).
func (f *fulfilment) seal(ctx context.Context, it *domain.OrderItem, supplier, supplierOrderID string, store func(context.Context) ([]domain.SealedKey, error), record bool) error {
	completed := false
	var d *delivery
	if f.deliver != nil {
		d = f.deliver.newDelivery(ctx)
	}
	err := f.withNewKey(ctx, func(ctx context.Context) error {
		keys, err := store(ctx)
		if err != nil {
			return err
		}
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
				d.justFulfilled = true
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
		_, err = d.finish(ctx, f.orderID, err)
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
