package application

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/domain"
)

// errNotFulfilling stops a run whose order, when it came to start it, was
// no longer to be fulfilled.
var errNotFulfilling = errors.New("order no longer to be fulfilled")

// update changes the order in a unit of work, once the order is started.
func (f *fulfilment) update(ctx context.Context, fn func(*domain.Order) error) (*domain.Order, error) {
	if err := f.commitStart(ctx); err != nil {
		return nil, err
	}
	return f.updateOrder(ctx, fn)
}

// updateOrder changes the order in a unit of work from the copy of it the
// run last saw committed (updateFrom), and keeps the copy saved: the
// run's next change starts from it, once its unit of work commits.
func (f *fulfilment) updateOrder(ctx context.Context, fn func(*domain.Order) error) (*domain.Order, error) {
	o, err := updateFrom(ctx, f.orders, f.seen, f.orderID, fn)
	if err != nil {
		return nil, err
	}
	saved := o.Snapshot()
	if f.inUnit {
		f.unitSeen = &saved // committed with withNewKey's unit of work, or never
	} else {
		f.seen = &saved
	}
	return o, nil
}

// commitStart starts the order's fulfilment in a unit of work of its own,
// unless the run already did.
func (f *fulfilment) commitStart(ctx context.Context) error {
	if !f.start {
		return nil
	}
	if _, err := f.updateOrder(ctx, f.startOn); err != nil {
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

// withNewKey runs fn in a unit of work (which fn may only fill with
// storage work) that first stores the order's data key when the run
// created it and has not stored it yet: the key commits
// with the purchase begun or the keys sealed under it, at no unit of work
// of its own, and never after a blob it sealed is referenced. A key a
// concurrent run stored first stops this run (ErrUnavailable); the next
// one opens the stored key.
func (f *fulfilment) withNewKey(ctx context.Context, fn func(ctx context.Context) error) error {
	f.inUnit, f.unitSeen = true, nil
	err := f.stock.Tx.Atomically(ctx, func(ctx context.Context) error {
		f.unitSeen = nil // a retried unit of work starts afresh
		if f.newKey == nil {
			return fn(ctx)
		}
		if err := f.keys.dataKeys.Create(ctx, f.orderID, *f.newKey); err != nil {
			if errors.Is(err, domain.ErrConflict) {
				return fmt.Errorf("%w: the data key of order %s was stored by another run", ErrUnavailable, f.orderID)
			}
			return fmt.Errorf("store data key: %w", err)
		}
		return fn(ctx)
	})
	f.inUnit = false
	if err == nil {
		f.newKey = nil
		if f.unitSeen != nil {
			f.seen = f.unitSeen
		}
	}
	f.unitSeen = nil
	return err
}
