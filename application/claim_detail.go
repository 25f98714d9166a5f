package application

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ClaimDetail is a claim as support works it: the claim, its order and
// item (where the item's keys came from, which of them are bad), and every
// reveal of the item's keys. It holds no key.
type ClaimDetail struct {
	Claim   *domain.Claim
	Order   *domain.Order
	Item    *domain.OrderItem
	Reveals []domain.KeyRevelation // of the item, oldest first
	// Replacements counts the item's approved claims.
	Replacements int
}

// GetClaim reads one claim with what support decides it on.
type GetClaim struct {
	claims      ports.ClaimRepository
	orders      ports.OrderRepository
	revelations ports.RevelationLog
}

// NewGetClaim wires GetClaim; it panics when a dependency is nil.
func NewGetClaim(claims ports.ClaimRepository, orders ports.OrderRepository, revelations ports.RevelationLog) GetClaim {
	require("GetClaim", "claims", claims, "orders", orders, "revelations", revelations)
	return GetClaim{claims: claims, orders: orders, revelations: revelations}
}

// Handle returns domain.ErrNotFound for an unknown claim.
func (h GetClaim) Handle(ctx context.Context, id string) (ClaimDetail, error) {
	c, err := h.claims.Get(ctx, id)
	if err != nil {
		return ClaimDetail{}, err
	}
	o, err := h.orders.Get(ctx, c.OrderID())
	if err != nil {
		return ClaimDetail{}, fmt.Errorf("order of claim %s: %w", id, err)
	}
	it, err := o.Item(c.ItemID())
	if err != nil {
		return ClaimDetail{}, err
	}
	revs, err := h.revelations.ListByOrder(ctx, o.ID())
	if err != nil {
		return ClaimDetail{}, fmt.Errorf("revelations of order %s: %w", o.ID(), err)
	}
	n, err := h.claims.CountApproved(ctx, it.ID())
	if err != nil {
		return ClaimDetail{}, fmt.Errorf("replacements of item %s: %w", it.ID(), err)
	}
	d := ClaimDetail{Claim: c, Order: o, Item: it, Replacements: n}
	for _, r := range revs {
		if r.ItemID() == it.ID() {
			d.Reveals = append(d.Reveals, r)
		}
	}
	slices.SortStableFunc(d.Reveals, func(a, b domain.KeyRevelation) int { return a.At().Compare(b.At()) })
	return d, nil
}

// BadKeys is one approved claim's replaced keys, for the supplier dispute:
// where they were bought, never what they were.
type BadKeys struct {
	// Supplier is the supplier the item was bought from; "" for keys from
	// the own stock (SupplierOrderID then says own-stock).
	Supplier        string
	SupplierOrderID string
	SKU             string
	OrderID         string
	ItemID          string
	ClaimID         string
	Reason          domain.ClaimReason
	Keys            int // keys the claim found bad
	ApprovedAt      time.Time
}

// ExportBadKeys lists the keys replaced on approved claims, by supplier
// order.
type ExportBadKeys struct {
	claims ports.ClaimRepository
	orders ports.OrderRepository
}

// NewExportBadKeys wires ExportBadKeys; it panics when a dependency is nil.
func NewExportBadKeys(claims ports.ClaimRepository, orders ports.OrderRepository) ExportBadKeys {
	require("ExportBadKeys", "claims", claims, "orders", orders)
	return ExportBadKeys{claims: claims, orders: orders}
}

// Handle returns one row per approved claim, sorted by supplier, supplier
// order and approval time.
func (h ExportBadKeys) Handle(ctx context.Context) ([]BadKeys, error) {
	approved := domain.ClaimApproved
	var out []BadKeys
	for after := ""; ; {
		page, err := h.claims.List(ctx, ports.ClaimQuery{Status: &approved, After: after, Limit: 200})
		if err != nil {
			return nil, err
		}
		for _, c := range page {
			o, err := h.orders.Get(ctx, c.OrderID())
			if err != nil {
				return nil, fmt.Errorf("order of claim %s: %w", c.ID(), err)
			}
			it, err := o.Item(c.ItemID())
			if err != nil {
				return nil, err
			}
			n := 0
			for _, k := range it.BadKeys() {
				if k.ClaimID == c.ID() {
					n++
				}
			}
			s := c.Snapshot()
			row := BadKeys{Supplier: it.BoughtFrom(), SupplierOrderID: it.SupplierOrderID(), SKU: it.SKU(), OrderID: o.ID(), ItemID: it.ID(),
				ClaimID: c.ID(), Reason: c.Reason(), Keys: n}
			if s.DecidedAt != nil {
				row.ApprovedAt = *s.DecidedAt
			}
			if it.SupplierOrderID() == ownStockRef {
				row.Supplier = ""
			}
			out = append(out, row)
		}
		if len(page) < 200 {
			break
		}
		after = page[len(page)-1].ID()
	}
	slices.SortStableFunc(out, func(a, b BadKeys) int {
		return cmp.Or(cmp.Compare(a.Supplier, b.Supplier), cmp.Compare(a.SupplierOrderID, b.SupplierOrderID), a.ApprovedAt.Compare(b.ApprovedAt))
	})
	return out, nil
}
