package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// RetryFulfilment restarts fulfilment of a failed or stuck order; the order
// emits FulfilmentRetried, which the fulfilment worker picks up.
type RetryFulfilment struct {
	Orders ports.OrderRepository
	Clock  ports.Clock
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order is not failed, paid or fulfilling.
func (h RetryFulfilment) Handle(ctx context.Context, orderID string) (*domain.Order, error) {
	return h.Orders.Update(ctx, orderID, func(o *domain.Order) error { return o.RetryFulfilment(h.Clock.Now()) })
}
