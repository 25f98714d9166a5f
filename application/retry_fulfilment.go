package application

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// RetryFulfilment restarts fulfilment of a failed or stuck order; the order
// emits FulfilmentRetried, which the fulfilment worker picks up.
type RetryFulfilment struct {
	Orders ports.OrderRepository
	Audit  ports.AuditLog
	Clock  ports.Clock
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order is not failed, paid or fulfilling.
func (h RetryFulfilment) Handle(ctx context.Context, orderID, actor string) (*domain.Order, error) {
	o, err := h.Orders.Update(ctx, orderID, func(o *domain.Order) error { return o.RetryFulfilment(h.Clock.Now()) })
	if err != nil {
		return nil, err
	}
	if _, err := h.Audit.Append(ctx, actor, AuditFulfilmentRetry, orderID, nil); err != nil {
		return nil, fmt.Errorf("audit retry: %w", err)
	}
	return o, nil
}
