package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// GetOrder reads an order for its customer, who proves ownership with the
// order's access token.
type GetOrder struct {
	orders ports.OrderRepository
}

// NewGetOrder wires GetOrder; it panics when a dependency is nil.
func NewGetOrder(orders ports.OrderRepository) GetOrder {
	require("GetOrder", "orders", orders)
	return GetOrder{orders: orders}
}

// Handle returns domain.ErrNotFound both for a missing order and for a token
// that does not open it, so ids cannot be probed.
func (h GetOrder) Handle(ctx context.Context, id, accessToken string) (*domain.Order, error) {
	o, err := h.orders.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !o.CheckAccessToken(accessToken) {
		return nil, domain.ErrNotFound
	}
	return o, nil
}

// ForAdmin reads any order for an operator, who is authenticated by the
// caller. It returns domain.ErrNotFound for a missing order.
func (h GetOrder) ForAdmin(ctx context.Context, id string) (*domain.Order, error) {
	return h.orders.Get(ctx, id)
}
