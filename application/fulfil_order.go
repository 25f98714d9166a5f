package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// FulfilOrder buys, seals and stores the keys of a paid order, item by item.
// It is idempotent: every step is recorded on the order before the next, the
// supplier is asked with our item id as its external id, and blob refs are
// deterministic, so running it again after any crash resumes instead of
// buying twice.
type FulfilOrder struct {
	orders    ports.OrderRepository
	suppliers ports.Suppliers
	// offers, when set, are the products' linked offers each item is
	// routed through; without, an item is bought from its product's source.
	offers ports.OfferRepository
	// catalog, when set, gives a pre-order the release date its product
	// is listed with when the supplier names none.
	catalog ports.CatalogRepository
	// balances, when set, are the suppliers' balances known: an offer its
	// supplier is known unable to pay for is passed over.
	balances *BalanceBook
	keys     envelope
	stock    ownStock
	guard    PriceGuard
	clock    ports.Clock
	log      *slog.Logger
	// poll, when set, is told of each order a run leaves waiting for
	// supplier keys (PollSupplier looks again).
	poll *pollSchedule
	// locks, when set, guard each item's purchase (lockPurchase).
	locks ports.Locks
	// deliver, when set, delivers the order in the run that completes its
	// fulfilment, and in any later run that finds it fulfilled: no message
	// has to carry a fulfilled order to its delivery.
	deliver *DeliverOrder
}

// NewFulfilOrder wires FulfilOrder; it panics when a dependency is nil or
// there is no supplier.
func NewFulfilOrder(orders ports.OrderRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, suppliers ports.Suppliers, blobs ports.BlobStore, stock StockDeps, guard PriceGuard, clock ports.Clock, log *slog.Logger) FulfilOrder {
	require("FulfilOrder", "orders", orders, "dataKeys", dataKeys, "vault", vault, "blobs", blobs,
		"stock", stock.Stock, "tx", stock.Tx, "audit", stock.Audit, "clock", clock, "log", log)
	requireSuppliers("FulfilOrder", suppliers)
	keys := envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}
	return FulfilOrder{orders: orders, suppliers: suppliers, keys: keys, guard: guard.withDefaults(), clock: clock, log: log,
		stock: ownStock{StockDeps: stock, keys: stockKeys{keys}, orders: orders, clock: clock}}
}

// Handle returns nil when the order is done, permanently failed, held for
// review, waiting for supplier keys or for a supplier price within the
// price guard, and an error wrapping ErrUnavailable when it should be
// retried later. An order waiting for keys stays fulfilling with
// its item purchased: the supplier's webhook (HandleSupplierEvent),
// PollSupplier's backoff or the reconciler's slower pass resumes it, so
// that the message handler does not poll the supplier in a tight retry
// loop. (FulfilPaid's retries after a payment confirmation the mail
// service could not take run it again, a few times at most.)
//
// A supplier-bought item takes two units of work: one, before the supplier
// is called, begins its purchase (and starts a paid order's fulfilment,
// and stores the order's data key when the run made it); the other, once
// its keys are sealed, stores them (on Postgres; S3 before it), records
// the purchase, seals the item and, for the last item, completes the
// order, claims its delivery and stores the link that Handle then sends.
func (h FulfilOrder) Handle(ctx context.Context, orderID string) error {
	_, err := h.handle(ctx, orderID)
	return err
}

// handle is Handle, and whether its run delivered the order.
func (h FulfilOrder) handle(ctx context.Context, orderID string) (delivered bool, _ error) {
	o, err := h.orders.Get(ctx, orderID)
	if err != nil {
		return false, fmt.Errorf("load order %s: %w", orderID, err)
	}
	if o.Status() == domain.StatusFulfilled {
		// Fulfilled by a run that stopped before its delivery committed.
		return h.deliverFulfilled(ctx, orderID)
	}
	seen := o.Snapshot() // as read, before the question below changes o
	f := &fulfilment{FulfilOrder: h, orderID: orderID, start: o.Status() != domain.StatusFulfilling, loaded: o, seen: &seen}
	// Asked of the loaded copy, which is never saved: whether fulfilment
	// may go on. The run's first change starts it for real.
	proceed, err := o.StartFulfilment(h.clock.Now())
	if err != nil {
		h.log.WarnContext(ctx, "fulfilment not possible", "order_id", orderID, "err", err)
		return false, nil
	}
	if !proceed || o.Status() != domain.StatusFulfilling {
		return false, nil
	}
	defer func() { f.key.Close() }()
	err = f.run(ctx, o)
	if errors.Is(err, errNotFulfilling) {
		return false, nil // a concurrent run finished it, or a person stopped it
	}
	// Whatever stopped the run, it leaves the order fulfilling, as every
	// run always has: a retry or the reconciler resumes it from there.
	if serr := f.commitStart(ctx); serr != nil && err == nil && !errors.Is(serr, errNotFulfilling) {
		err = fmt.Errorf("start fulfilment of %s: %w", orderID, serr)
	}
	switch {
	case err == nil && f.delivery != nil:
		// Claimed with the seal that completed the order.
		if delivered, err = f.delivery.finish(ctx, orderID, nil); err != nil {
			err = fmt.Errorf("deliver %s: %w", orderID, err)
		}
	case err == nil && f.completed:
		delivered, err = h.deliverFulfilled(ctx, orderID)
	}
	return delivered, err
}

// deliverFulfilled delivers a fulfilled order when the run delivers
// (deliver is set), and tells whether it did. DeliverOrder is idempotent:
// its claim lets one run at a time send, and a delivered order is left as
// it is, so a retry of the message or the reconciler's pass may run it
// again after a crash at any point.
func (h FulfilOrder) deliverFulfilled(ctx context.Context, orderID string) (bool, error) {
	if h.deliver == nil {
		return false, nil
	}
	delivered, err := h.deliver.handle(ctx, orderID)
	if err != nil {
		return false, fmt.Errorf("deliver %s: %w", orderID, err)
	}
	return delivered, nil
}

// fulfilment is one run of FulfilOrder over an order.
type fulfilment struct {
	FulfilOrder
	orderID string
	key     *orderKey // the order's data key, opened at the first item to seal
	// newKey is key, wrapped, when the run created it and has yet to
	// store it: the run's first unit of work that begins a purchase or
	// seals keys stores it (withNewKey).
	newKey *ports.WrappedKey
	// start is set while the order is not yet fulfilling: the run's first
	// purchase begins in the unit of work that starts it, and any other
	// change starts it in one of its own first, as it always did.
	start bool
	// fulfilled is set once a seal completed the order.
	fulfilled bool
	// completed is set once the run saw the order fulfilled.
	completed bool
	loaded    *domain.Order // the order as the run loaded it
	// seen is the order as the run last read it or saved it in a unit of
	// work that committed: its next change starts from it (updateOrder).
	// unitSeen is the order as saved in withNewKey's unit of work (inUnit
	// while it runs), seen once that commits.
	seen, unitSeen *domain.OrderSnapshot
	inUnit         bool
	unlock         func() // releases the purchase lock held, if any
	// plainWait is set once an item waits for keys that are no pre-order's;
	// releaseWait is the earliest release date of the pre-orders that wait.
	plainWait   bool
	releaseWait time.Time
	// delivery is the delivery claimed, with its link, in the unit of
	// work whose seal completed the order.
	delivery *delivery
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
			if f.key, f.newKey, err = f.keys.forOrderUnstored(ctx, f.orderID); err != nil {
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
		if f.poll != nil {
			var until time.Time // a pre-order is looked at again from its release
			if !f.plainWait {
				until = f.releaseWait
			}
			f.poll.waitingUntil(f.orderID, until)
		}
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
	f.completed = true
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
