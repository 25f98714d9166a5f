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
	orders ports.OrderRepository
	audit  ports.AuditLog
	clock  ports.Clock
}

// NewRetryFulfilment wires RetryFulfilment; it panics when a dependency is nil.
func NewRetryFulfilment(orders ports.OrderRepository, audit ports.AuditLog, clock ports.Clock) RetryFulfilment {
	require("RetryFulfilment", "orders", orders, "audit", audit, "clock", clock)
	return RetryFulfilment{orders: orders, audit: audit, clock: clock}
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order is not failed, paid or fulfilling.
func (h RetryFulfilment) Handle(ctx context.Context, orderID, actor string) (*domain.Order, error) {
	o, err := h.orders.Update(ctx, orderID, func(o *domain.Order) error { return o.RetryFulfilment(h.clock.Now()) })
	if err != nil {
		return nil, err
	}
	if _, err := h.audit.Append(ctx, actor, AuditFulfilmentRetry, orderID, nil); err != nil {
		return nil, fmt.Errorf("audit retry: %w", err)
	}
	return o, nil
}
