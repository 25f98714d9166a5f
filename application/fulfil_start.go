package application

import (
	"context"
	"errors"

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
