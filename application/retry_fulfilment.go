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
	tx     ports.Transactor
	orders ports.OrderRepository
	audit  ports.AuditLog
	clock  ports.Clock
}

// NewRetryFulfilment wires RetryFulfilment; it panics when a dependency is nil.
func NewRetryFulfilment(tx ports.Transactor, orders ports.OrderRepository, audit ports.AuditLog, clock ports.Clock) RetryFulfilment {
	require("RetryFulfilment", "tx", tx, "orders", orders, "audit", audit, "clock", clock)
	return RetryFulfilment{tx: tx, orders: orders, audit: audit, clock: clock}
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order is not failed, paid or fulfilling.
func (h RetryFulfilment) Handle(ctx context.Context, orderID, actor string) (*domain.Order, error) {
	var o *domain.Order
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		var err error
		if o, err = h.orders.Update(ctx, orderID, func(o *domain.Order) error { return o.RetryFulfilment(h.clock.Now()) }); err != nil {
			return err
		}
		if _, err := h.audit.Append(ctx, actor, AuditFulfilmentRetry, orderID, nil); err != nil {
			return fmt.Errorf("audit retry: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}
