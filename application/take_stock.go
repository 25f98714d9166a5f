package application

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// StockDeps are the ports fulfilment needs to take keys from our own stock.
type StockDeps struct {
	Stock ports.StockRepository
	Tx    ports.Transactor
	Audit ports.AuditLog
}

// ownStockRef stands where a supplier order id goes for an item sealed
// from our own stock.
const ownStockRef = "own-stock"

// ownStock moves keys from our stock to an order item.
type ownStock struct {
	StockDeps
	keys   stockKeys
	orders ports.OrderRepository
	clock  ports.Clock
}

// errItemSealedMeanwhile stops a unit of work that found the item sealed
// by a concurrent run: it rolls back, returning its claim to the stock.
var errItemSealedMeanwhile = errors.New("item sealed meanwhile")

func (s ownStock) sourcing(ctx context.Context, it *domain.OrderItem) (domain.Sourcing, error) {
	return sourcingOf(ctx, s.Stock, it.SKU(), it.Source().Kind)
}

// covers reports whether the stock has keys enough for the item now; take
// may still find fewer (a concurrent order).
func (s ownStock) covers(ctx context.Context, it *domain.OrderItem) (bool, error) {
	c, err := s.Stock.Counts(ctx, it.SKU())
	if err != nil {
		return false, fmt.Errorf("stock of %s: %w", it.SKU(), err)
	}
	return c.Available >= it.Quantity(), nil
}

// take seals the item from our stock in one unit of work: claim the keys
// (SKIP LOCKED), open each under the stock data key and seal it under the
// order's, seal the item, audit. It reports false, having changed nothing,
// when the stock has too few keys.
func (s ownStock) take(ctx context.Context, orderID string, it *domain.OrderItem, key *orderKey) (bool, error) {
	stockKey, err := s.keys.openSKU(ctx, it.SKU())
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil // never stocked
	}
	if err != nil {
		return false, fmt.Errorf("stock data key of %s: %w", it.SKU(), err)
	}
	defer stockKey.Close()
	err = s.Tx.Atomically(ctx, func(ctx context.Context) error {
		// The order's row first: a concurrent run on the same order waits
		// here until this one ends, then finds the item no longer pending,
		// before it claims other keys or writes over this one's blobs
		// (their refs are the item's slots).
		if _, err := s.orders.Update(ctx, orderID, func(o *domain.Order) error {
			cur, err := o.Item(it.ID())
			switch {
			case err != nil:
				return err
			case cur.Status() == domain.ItemSealed:
				return errItemSealedMeanwhile
			case cur.Status() != domain.ItemPending:
				return fmt.Errorf("%w: item %s is %s now, another run has it", ErrUnavailable, it.ID(), cur.Status())
			}
			return nil
		}); err != nil {
			return err
		}
		claimed, err := s.Stock.Claim(ctx, it.SKU(), it.ID(), it.Quantity())
		if err != nil {
			return err
		}
		sealed := make([]domain.SealedKey, 0, len(claimed))
		ids := make([]string, 0, len(claimed))
		for slot, c := range claimed {
			pt, err := openStock(stockKey, c.ID, c.Sealed)
			if err != nil {
				return fmt.Errorf("open stock key %s: %w", c.ID, err)
			}
			// A blob store may write outside the unit of work (S3): a
			// rollback leaves this blob under a ref no record points to,
			// and whatever seals the item next (this, or the supplier's
			// keys) writes every slot again first. See ports.Transactor.
			ref, err := s.keys.store(ctx, key, it.ID(), slot, pt)
			clear(pt)
			if err != nil {
				return err
			}
			sealed = append(sealed, domain.SealedKey{Slot: slot, BlobRef: ref, ContentType: c.ContentType})
			ids = append(ids, string(c.ID))
		}
		now := s.clock.Now()
		if _, err := s.orders.Update(ctx, orderID, func(o *domain.Order) error {
			// Own stock is no supplier's: the item records none.
			if err := o.BeginItemPurchaseFrom(it.ID(), "", now); err != nil {
				return err
			}
			if err := o.RecordItemPurchase(it.ID(), ownStockRef, now); err != nil {
				return err
			}
			return o.SealItem(it.ID(), sealed, now)
		}); err != nil {
			return err
		}
		_, err = s.Audit.Append(ctx, ActorSystem, AuditStockAssigned, "product:"+it.SKU(), map[string]string{
			"order_id": orderID, "item_id": it.ID(), "stock_key_ids": strings.Join(ids, ","),
		})
		return err
	})
	switch {
	case errors.Is(err, domain.ErrOutOfStock):
		return false, nil
	case errors.Is(err, errItemSealedMeanwhile):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("take %s from stock: %w", it.SKU(), err)
	}
	return true, nil
}
