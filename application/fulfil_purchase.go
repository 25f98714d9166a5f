package application

import (
	"github.com/keyward/keyward/domain"
)

// recordPurchase records the supplier's order on the item; begun first,
// for an item a previous run left failed before finding the purchase (it
// changes nothing on an item purchasing).
func (f *fulfilment) recordPurchase(o *domain.Order, it *domain.OrderItem, supplier, supplierOrderID string) error {
	now := f.clock.Now()
	if err := o.BeginItemPurchaseFrom(it.ID(), supplier, now); err != nil {
		return err
	}
	return o.RecordItemPurchase(it.ID(), supplierOrderID, now)
}
