package application

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// itemNextOffer: the offer could not sell the item and bought nothing;
// the next offer is tried.
const itemNextOffer itemResult = -1

// route is one item's passage through its offers in a run: where it was
// tried and why each offer was passed over.
type route struct {
	tried []string
	// clear holds the suppliers known to hold no purchase of the item (they
	// do not know it, refused it for good, or a breaker kept the call
	// from them): the purchase may move on from them.
	clear map[string]bool
	// waitOnBreaker, waitOnBalance, priceReason: an offer was passed
	// over only for now (a breaker open, a balance too low, a price).
	waitOnBreaker bool
	waitOnBalance bool
	priceReason   string
	// unconfigured: an offer's supplier is not in KEYWARD_SUPPLIERS.
	unconfigured bool
	// begun: this run began the item's purchase at an offer (under the
	// item's purchase lock), so the stored item is what it wrote, not what
	// it loaded.
	begun bool
}

func (r *route) skip(o domain.Offer, why string) {
	r.tried = append(r.tried, o.Ref().String()+": "+why)
}

// offersOf returns the offers to buy the item from, cheapest first: the
// product's linked offers, else (no repository, nothing linked) the
// product's source as it was when the order was placed.
func (f *fulfilment) offersOf(ctx context.Context, it *domain.OrderItem) ([]domain.Offer, error) {
	src := it.Source()
	own := domain.Offer{Supplier: src.Supplier, SupplierProductID: src.SupplierProductID, Cost: src.Cost, Stock: -1}
	if f.offers == nil {
		return []domain.Offer{own}, nil
	}
	linked, err := f.offers.Linked(ctx, it.SKU())
	if err != nil {
		return nil, fmt.Errorf("%w: offers of %s: %v", ErrUnavailable, it.SKU(), err)
	}
	if len(linked) == 0 {
		return []domain.Offer{own}, nil
	}
	return linked, nil
}

// buyRouted buys the item from the first of its offers that can sell it,
// cheapest first. An offer is passed over when its supplier is not
// configured, its catalog stock is short, its cost (catalog, then the
// supplier's own) is above what the item affords, its supplier's balance
// is known to be too low to pay for it (BalanceBook), its supplier's
// breaker is open, or its supplier refuses the purchase for good; a
// temporary error waits, as before. An item whose purchase was begun with a supplier
// is first looked for there: found, it is followed there; unknown there,
// it may move on. It returns the purchase with the supplier it was made
// at, or the item's result when none was (failed, held, waiting for a
// price); an error to retry.
func (f *fulfilment) buyRouted(ctx context.Context, it *domain.OrderItem) (ports.SupplierOrder, ports.Supplier, itemResult, error) {
	ctx, err := f.lockPurchase(ctx, it)
	if err != nil {
		return ports.SupplierOrder{}, nil, itemFailed, err
	}
	r := &route{clear: map[string]bool{}}
	begun := ""
	if it.Status() == domain.ItemPurchasing || it.Status() == domain.ItemFailed || it.BoughtFrom() != "" {
		begun = it.Supplier()
		sup, err := f.supplierOf(ctx, it)
		if sup == nil {
			return ports.SupplierOrder{}, nil, itemHeld, err
		}
		so, err := sup.FindOrder(ctx, it.ID())
		switch {
		case err == nil:
			return so, sup, itemProceed, nil
		case errors.Is(err, ports.ErrPurchaseUnverifiable):
			return ports.SupplierOrder{}, nil, itemHeld, f.holdForReview(ctx, it, err.Error())
		case !errors.Is(err, domain.ErrNotFound):
			// Whether a purchase exists there is unknown: never buy
			// elsewhere meanwhile.
			return ports.SupplierOrder{}, nil, itemFailed, fmt.Errorf("%w: find purchase at %s: %v", ErrUnavailable, sup.Name(), err)
		}
		r.clear[begun] = true
	}
	affordable, err := f.guard.affordable(it)
	if err != nil {
		return ports.SupplierOrder{}, nil, itemFailed, f.failItem(ctx, it, err)
	}
	offers, err := f.offersOf(ctx, it)
	if err != nil {
		return ports.SupplierOrder{}, nil, itemFailed, err
	}
	for i, o := range offers {
		sup, ok := supplierNamed(f.suppliers, o.Supplier)
		switch {
		case !ok:
			r.skip(o, "supplier not configured")
			r.unconfigured = true
			continue
		case o.Stock >= 0 && o.Stock < it.Quantity():
			r.skip(o, fmt.Sprintf("out of stock (%d for %d)", o.Stock, it.Quantity()))
			continue
		case o.Stock >= 0 && o.Cost.Currency() == affordable.Currency() && o.Cost.Amount().GreaterThan(affordable.Amount()):
			r.skip(o, fmt.Sprintf("cost %s %s > affordable %s %s", o.Cost, o.Cost.Currency(), affordable, affordable.Currency()))
			r.priceReason = fmt.Sprintf("%s%s %s > affordable %s %s", priceReasonPrefix, o.Cost, o.Cost.Currency(), affordable, affordable.Currency())
			continue
		}
		if why, short := f.balances.short(o.Supplier, o.Cost.Mul(it.Quantity())); short {
			// Known without asking: the supplier is not called.
			r.skip(o, why)
			r.waitOnBalance = true
			continue
		}
		last := i == len(offers)-1
		so, res, err := f.purchaseAt(ctx, sup, o, it, affordable, r, last)
		if res == itemNextOffer && err == nil {
			continue
		}
		return so, sup, res, err
	}
	res, err := f.noOffer(ctx, it, r)
	return ports.SupplierOrder{}, nil, res, err
}

// noOffer ends an item none of whose offers could sell it: a wait when an
// offer was passed over only for now (a breaker, a balance, a price), else
// a failure
// saying why each was passed over (held for review when an offer's
// supplier is not configured: a person acts).
func (f *fulfilment) noOffer(ctx context.Context, it *domain.OrderItem, r *route) (itemResult, error) {
	tried := strings.Join(r.tried, "; ")
	switch {
	case r.waitOnBreaker || r.waitOnBalance:
		// A breaker closes, a balance is topped up: the order waits.
		return itemFailed, fmt.Errorf("%w: no offer of %s can be bought now (%s)", ErrUnavailable, it.SKU(), tried)
	case r.priceReason != "":
		return f.waitForPrice(ctx, it, r.priceReason+" (offers tried: "+tried+")")
	case r.unconfigured:
		// A person configures the supplier or links other offers.
		reason := fmt.Sprintf("no offer of %s can be bought (KEYWARD_SUPPLIERS is %v): %s", it.SKU(), f.suppliers.Names(), tried)
		return itemHeld, f.holdForReview(ctx, it, reason)
	}
	return itemFailed, f.failItem(ctx, it, fmt.Errorf("%w: no offer of %s can sell it: %s", ports.ErrSupplierPermanent, it.SKU(), tried))
}

// purchaseAt buys the item at one offer under the price guard. Besides
// purchase's results it returns itemNextOffer when the offer cannot sell
// the item and another may (last unset), or, at any offer, when the
// supplier refused it for want of balance; the last offer otherwise waits
// or fails as a single supplier always did.
func (f *fulfilment) purchaseAt(ctx context.Context, sup ports.Supplier, o domain.Offer, it *domain.OrderItem, affordable domain.Money,
	r *route, last bool) (ports.SupplierOrder, itemResult, error) {
	cost, err := f.currentCost(ctx, sup, o)
	switch {
	case errors.Is(err, ports.ErrCircuitOpen) && !last:
		r.skip(o, "circuit breaker open")
		r.waitOnBreaker = true
		return ports.SupplierOrder{}, itemNextOffer, nil
	case err != nil:
		return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: current price of %s at %s: %v", ErrUnavailable, it.SKU(), sup.Name(), err)
	}
	if cost.Currency() == affordable.Currency() && cost.Amount().GreaterThan(affordable.Amount()) {
		reason := fmt.Sprintf("%s%s %s > affordable %s %s", priceReasonPrefix, cost, cost.Currency(), affordable, affordable.Currency())
		if !last {
			r.skip(o, "price "+cost.String()+" "+cost.Currency().String()+" > affordable")
			r.priceReason = reason
			return ports.SupplierOrder{}, itemNextOffer, nil
		}
		res, err := f.waitForPrice(ctx, it, reason)
		return ports.SupplierOrder{}, res, err
	}
	if err := f.beginOfferPurchase(ctx, it, sup.Name(), o.Ref().String(), strings.Join(r.tried, "; "), r); err != nil {
		return ports.SupplierOrder{}, itemFailed, err
	}
	r.begun = true
	if _, begun := ports.PurchaseBegun(ctx); !begun {
		ctx = ports.WithPurchaseBegun(ctx, f.clock.Now())
	}
	so, err := sup.PlaceOrder(ctx, ports.PurchaseRequest{
		ExternalID: it.ID(), ProductID: o.SupplierProductID, Qty: it.Quantity(), Price: affordable,
	})
	switch {
	case err == nil:
		return so, itemProceed, nil
	case errors.Is(err, ports.ErrPurchaseUnverifiable):
		return ports.SupplierOrder{}, itemHeld, f.holdForReview(ctx, it, err.Error())
	case errors.Is(err, ports.ErrCircuitOpen) && !last:
		// The call never left: nothing was bought there.
		r.clear[sup.Name()] = true
		r.skip(o, "circuit breaker open")
		r.waitOnBreaker = true
		return ports.SupplierOrder{}, itemNextOffer, nil
	case errors.Is(err, ports.ErrBalanceTooLow):
		// Nothing was bought there. The supplier is passed over while its
		// balance is known too low; the last offer waits for a top-up
		// (noOffer) instead of failing the order.
		// The balance is below what was asked; noted at the lower of the
		// supplier's price and the catalog's, which routing compares.
		need := cost
		if o.Cost.Currency() == cost.Currency() && o.Cost.Amount().LessThan(cost.Amount()) {
			need = o.Cost
		}
		f.balances.refused(sup.Name(), need.Mul(it.Quantity()))
		r.clear[sup.Name()] = true
		r.skip(o, "refused: "+err.Error())
		r.waitOnBalance = true
		return ports.SupplierOrder{}, itemNextOffer, nil
	case errors.Is(err, ports.ErrSupplierPermanent) && !last:
		r.clear[sup.Name()] = true
		r.skip(o, "refused: "+err.Error())
		return ports.SupplierOrder{}, itemNextOffer, nil
	case errors.Is(err, ports.ErrSupplierPermanent):
		// A refusal may be the price rising since we asked: the guard
		// waits for it to come down instead of failing the order.
		if res, cerr := f.checkPrice(ctx, sup, o.SupplierProductID, it, affordable); cerr != nil || res != itemProceed {
			return ports.SupplierOrder{}, res, cerr
		}
		return ports.SupplierOrder{}, itemFailed, f.failItem(ctx, it, err)
	}
	return ports.SupplierOrder{}, itemFailed, fmt.Errorf("%w: purchase at %s: %v", ErrUnavailable, sup.Name(), err)
}

// currentCost asks the supplier what the offer costs now; the catalog's
// cost when the supplier no longer lists it (the purchase says why it
// cannot be made).
func (f *fulfilment) currentCost(ctx context.Context, sup ports.Supplier, o domain.Offer) (domain.Money, error) {
	p, err := sup.Product(ctx, o.SupplierProductID)
	if errors.Is(err, domain.ErrNotFound) {
		return o.Cost, nil
	}
	if err != nil {
		return domain.Money{}, err
	}
	return p.Cost, nil
}

// beginOfferPurchase records, before the supplier is called, that it is,
// at which offer and after which others; a paid order starts fulfilling in
// the same unit of work, and so is the order's data key when the run
// made it (withNewKey). The purchase moves from another supplier only
// when that one is known to hold none (clear).
func (f *fulfilment) beginOfferPurchase(ctx context.Context, it *domain.OrderItem, supplier, offer, tried string, r *route) error {
	err := f.withNewKey(ctx, func(ctx context.Context) error {
		_, err := f.updateOrder(ctx, func(o *domain.Order) error {
			cur, err := o.Item(it.ID())
			if err != nil {
				return err
			}
			if !r.begun && !sameItem(cur, it) {
				return errItemMoved(it.ID())
			}
			if err := f.startOn(o); err != nil {
				return err
			}
			move := cur.BoughtFrom() == "" || r.clear[cur.BoughtFrom()]
			return o.BeginItemOfferPurchase(it.ID(), supplier, offer, tried, move, f.clock.Now())
		})
		return err
	})
	if err == nil {
		f.start = false
	}
	return err
}
