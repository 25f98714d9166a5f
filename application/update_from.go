package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// updateFrom updates order id with fn from seen, a copy of it read or
// saved in a unit of work that committed, where orders can
// (ports.SeenOrderUpdater); without seen, or where they cannot, it is
// orders.Update.
func updateFrom(ctx context.Context, orders ports.OrderRepository, seen *domain.OrderSnapshot, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	if u, ok := orders.(ports.SeenOrderUpdater); ok && seen != nil && seen.ID == id {
		return u.UpdateSeen(ctx, *seen, fn)
	}
	return orders.Update(ctx, id, fn)
}
