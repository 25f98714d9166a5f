package domain

import "time"

// BeginItemOfferPurchase is BeginItemPurchaseFrom for a purchase routed to
// one of several offers: offer names the one bought (supplier/product id)
// and tried the offers passed over before it and why, both kept in the
// timeline. With reroute the purchase may move from the supplier it was
// begun with, which the caller found holds no purchase of the item (it
// does not know the item, or refused it for good); an item with a supplier
// order never moves. It returns what BeginItemPurchaseFrom returns.
func (o *Order) BeginItemOfferPurchase(itemID, supplier, offer, tried string, reroute bool, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if it.status == ItemPurchasing && it.boughtFrom == supplier && tried == "" {
		return nil
	}
	from := it.boughtFrom
	if reroute && it.supplierOrderID == "" && from != supplier {
		it.boughtFrom = ""
	}
	if err := it.beginPurchase(supplier); err != nil {
		it.boughtFrom = from
		return err
	}
	extra := []string{"supplier", supplier, "offer", offer}
	if tried != "" {
		extra = append(extra, "tried", tried)
	}
	if from != "" && from != supplier {
		extra = append(extra, "rerouted_from", from)
	}
	o.touch(itemEvent(EventKindItemPurchasing, o.status, it, now, extra...), now)
	return nil
}
