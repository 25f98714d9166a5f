package application

import (
	"context"
	"time"

	"github.com/keyward/keyward/domain"
)

// AuditOrderPreordered records that an order's item was bought as a
// pre-order and waits for its release.
const AuditOrderPreordered = "order.preordered"

// UndatedPreorderHorizon is how long a pre-order whose release date is
// not known (neither the supplier nor the catalog names one) waits, from
// its last step, before the sweep may hold it for review (with
// KEYWARD_PREORDER_GRACE on top) and the reconciler resumes it; the poll
// looks once a day meanwhile, so a date named later is found.
const UndatedPreorderHorizon = 90 * 24 * time.Hour

// awaitRelease records that a pre-ordered item waits for its release
// (with its purchase first when record), and audits it, in one unit of
// work. When the supplier names no date, the product's listed release
// date is taken; with none there either, the item waits with its date
// unknown. An item already waiting for the same date changes nothing and
// writes nothing. The customer's email and the shop's webhook follow from
// the order's order.preordered event.
func (f *fulfilment) awaitRelease(ctx context.Context, it *domain.OrderItem, supplier, supplierOrderID string, release time.Time, record bool) error {
	if release.IsZero() {
		release = f.listedRelease(ctx, it)
	}
	day := domain.ReleaseDay(release)
	wait := day // when the poll looks from (daily before it)
	if wait.IsZero() {
		wait = f.clock.Now().Add(UndatedPreorderHorizon)
	}
	if f.releaseWait.IsZero() || wait.Before(f.releaseWait) {
		f.releaseWait = wait
	}
	if !record && it.Status() == domain.ItemAwaitingRelease && it.ReleaseDate().Equal(day) {
		f.log.InfoContext(ctx, "pre-order awaits its release", "order_id", f.orderID, "item_id", it.ID(), "release_date", domain.FormatDay(day))
		return nil
	}
	if err := f.commitStart(ctx); err != nil {
		return err
	}
	return f.stock.Tx.Atomically(ctx, func(ctx context.Context) error {
		changed := false
		_, err := f.orders.Update(ctx, f.orderID, func(o *domain.Order) error {
			changed = false // the function runs again when the unit of work is retried
			now := f.clock.Now()
			if record {
				if err := f.recordPurchase(o, it, supplier, supplierOrderID); err != nil {
					return err
				}
			}
			cur, err := o.Item(it.ID())
			if err != nil {
				return err
			}
			if cur.Status() == domain.ItemAwaitingRelease && cur.ReleaseDate().Equal(day) {
				return nil
			}
			changed = true
			return o.AwaitItemRelease(it.ID(), day, now)
		})
		if err != nil || !changed {
			return err
		}
		f.log.InfoContext(ctx, "pre-order awaits its release", "order_id", f.orderID, "item_id", it.ID(), "release_date", domain.FormatDay(day))
		_, err = f.stock.Audit.Append(ctx, ActorSystem, AuditOrderPreordered, f.orderID, map[string]string{
			"item_id": it.ID(), "sku": it.SKU(), "supplier": supplier, "supplier_order_id": supplierOrderID,
			"release_date": domain.FormatDay(day),
		})
		return err
	})
}

// listedRelease is the release date the item's product is listed with in the
// catalog; zero when there is none (or the catalog cannot say).
func (f *fulfilment) listedRelease(ctx context.Context, it *domain.OrderItem) time.Time {
	if f.catalog == nil {
		return time.Time{}
	}
	p, err := f.catalog.Get(ctx, it.SKU())
	if err != nil {
		f.log.WarnContext(ctx, "pre-order's product not read for its release date", "order_id", f.orderID, "item_id", it.ID(), "err", err)
		return time.Time{}
	}
	return p.ReleaseDate()
}
