package application

import (
	"context"
	"time"

	"github.com/keyward/keyward/domain"
)

// AuditOrderPreordered records that an order's item was bought as a
// pre-order and waits for its release.
const AuditOrderPreordered = "order.preordered"

// awaitRelease records that a pre-ordered item waits for its release
// (with its purchase first when record), and audits it, in one unit of
// work. An item already waiting for the same date changes nothing and
// writes nothing. The customer's email and the shop's webhook follow from
// the order's order.preordered event.
func (f *fulfilment) awaitRelease(ctx context.Context, it *domain.OrderItem, supplier, supplierOrderID string, release time.Time, record bool) error {
	day := domain.ReleaseDay(release)
	if f.releaseWait.IsZero() || day.Before(f.releaseWait) {
		f.releaseWait = day
	}
	if !record && it.Status() == domain.ItemAwaitingRelease && it.ReleaseDate().Equal(day) {
		f.log.InfoContext(ctx, "pre-order awaits its release", "order_id", f.orderID, "item_id", it.ID(), "release_date", day.Format(domain.DateLayout))
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
		f.log.InfoContext(ctx, "pre-order awaits its release", "order_id", f.orderID, "item_id", it.ID(), "release_date", day.Format(domain.DateLayout))
		_, err = f.stock.Audit.Append(ctx, ActorSystem, AuditOrderPreordered, f.orderID, map[string]string{
			"item_id": it.ID(), "sku": it.SKU(), "supplier": supplier, "supplier_order_id": supplierOrderID,
			"release_date": day.Format(domain.DateLayout),
		})
		return err
	})
}
