package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DescribeDelivery returns a link's state without revealing or consuming.
type DescribeDelivery struct {
	links  ports.DeliveryLinkRepository
	orders ports.OrderRepository
	clock  ports.Clock
}

// NewDescribeDelivery wires DescribeDelivery; it panics when a dependency is nil.
func NewDescribeDelivery(links ports.DeliveryLinkRepository, orders ports.OrderRepository, clock ports.Clock) DescribeDelivery {
	require("DescribeDelivery", "links", links, "orders", orders, "clock", clock)
	return DescribeDelivery{links: links, orders: orders, clock: clock}
}

// DeliveryState is what a link allows now.
type DeliveryState struct {
	Link  *domain.DeliveryLink
	Order *domain.Order
	// Problem is nil when the link can reveal, else why not.
	Problem error
}

// Handle returns domain.ErrNotFound for an unknown token; an expired,
// revoked or exhausted link is described with its Problem set.
func (h DescribeDelivery) Handle(ctx context.Context, token string) (DeliveryState, error) {
	link, order, err := openLink(ctx, h.links, h.orders, token, h.clock)
	if link == nil || order == nil {
		return DeliveryState{}, err
	}
	return DeliveryState{Link: link, Order: order, Problem: err}, nil
}
