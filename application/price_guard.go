package application

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// PriceGuard keeps a purchase within what the order paid: the most sent to
// the supplier for one key is the item's sale price minus MinMargin. When
// the supplier asks more, the item waits up to Wait for a cheaper offer
// (the reconciler resumes the order meanwhile), then the order is held for
// review with the reason.
type PriceGuard struct {
	MinMargin decimal.Decimal // per key, in the item's currency; default 0
	Wait      time.Duration   // default 30m
}

// DefaultPriceGuardWait is how long an item waits for a cheaper offer.
const DefaultPriceGuardWait = 30 * time.Minute

// priceReasonPrefix starts every price guard reason, so a later run knows
// the item's failure is a wait for a price.
const priceReasonPrefix = "supplier price "

func (g PriceGuard) withDefaults() PriceGuard {
	if g.Wait <= 0 {
		g.Wait = DefaultPriceGuardWait
	}
	return g
}

// affordable is the most the item pays for one key; ErrInvalidOrder wrapped
// when the margin leaves nothing.
func (g PriceGuard) affordable(it *domain.OrderItem) (domain.Money, error) {
	unit := it.UnitPrice()
	amount := unit.Amount().Sub(g.MinMargin)
	if !amount.IsPositive() {
		return domain.Money{}, fmt.Errorf("%w: a minimum margin of %s leaves nothing of %s %s to buy %s with",
			domain.ErrInvalidOrder, g.MinMargin.StringFixed(2), unit, unit.Currency(), it.SKU())
	}
	return domain.MoneyFromDecimal(amount, unit.Currency())
}

// checkPrice asks the supplier what the item costs now at its product
// productID. It returns itemProceed (buy) when the cost is within
// affordable or cannot be compared, itemPriceWait while the guard waits for
// a cheaper offer, and itemHeld once it held the order for review.
func (f *fulfilment) checkPrice(ctx context.Context, sup ports.Supplier, productID string, it *domain.OrderItem, affordable domain.Money) (itemResult, error) {
	p, err := sup.Product(ctx, productID)
	if errors.Is(err, domain.ErrNotFound) {
		return itemProceed, nil // the purchase itself says why it cannot be made
	}
	if err != nil {
		return itemFailed, fmt.Errorf("%w: current price of %s: %v", ErrUnavailable, it.SKU(), err)
	}
	if p.Cost.Currency() != affordable.Currency() || !p.Cost.Amount().GreaterThan(affordable.Amount()) {
		return itemProceed, nil
	}
	reason := fmt.Sprintf("%s%s %s > affordable %s %s", priceReasonPrefix, p.Cost, p.Cost.Currency(), affordable, affordable.Currency())
	return f.waitForPrice(ctx, it, reason)
}

// waitForPrice records that the item waits for a cheaper offer (reason
// starts with priceReasonPrefix): itemPriceWait while the guard waits,
// itemHeld once it held the order for review.
func (f *fulfilment) waitForPrice(ctx context.Context, it *domain.OrderItem, reason string) (itemResult, error) {
	now := f.clock.Now()
	o, err := f.update(ctx, func(o *domain.Order) error {
		cur, err := o.Item(it.ID())
		if err != nil {
			return err
		}
		if fl := cur.Failure(); fl != nil && fl.Retryable && strings.HasPrefix(fl.Reason, priceReasonPrefix) {
			return nil // already waiting: the wait started then
		}
		return o.FailItem(it.ID(), reason, true, now)
	})
	if err != nil {
		return itemFailed, fmt.Errorf("record price wait: %w", err)
	}
	since := priceWaitStart(o, it.ID(), now)
	if now.Sub(since) < f.guard.Wait {
		f.log.InfoContext(ctx, "waiting for a cheaper supplier offer", "order_id", f.orderID, "item_id", it.ID(), "reason", reason,
			"until", since.Add(f.guard.Wait))
		return itemPriceWait, nil
	}
	return itemHeld, f.holdForReview(ctx, it, reason)
}

// priceWaitStart is when the item's current wait for a price began: its
// latest price guard failure in the timeline.
func priceWaitStart(o *domain.Order, itemID string, now time.Time) time.Time {
	tl := o.Timeline()
	for i := len(tl) - 1; i >= 0; i-- {
		e := tl[i]
		if e.Kind() == domain.EventKindItemFailed && e.Value("item_id") == itemID && strings.HasPrefix(e.Value("reason"), priceReasonPrefix) {
			return e.At()
		}
	}
	return now
}
