package application

import (
	"context"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DescribeDelivery returns a link's state without revealing or consuming.
type DescribeDelivery struct {
	Links  ports.DeliveryLinkRepository
	Orders ports.OrderRepository
	Clock  ports.Clock
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
	link, order, err := openLink(ctx, h.Links, h.Orders, token, h.Clock)
	if link == nil || order == nil {
		return DeliveryState{}, err
	}
	return DeliveryState{Link: link, Order: order, Problem: err}, nil
}
