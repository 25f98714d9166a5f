package application

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// OrderDetail is everything an operator sees of one order: the order with
// its timeline, the payment notifications received for it and its
// delivery links. It holds no key and no token.
type OrderDetail struct {
	Order         *domain.Order
	Notifications []NotificationSummary
	Links         []LinkSummary
}

// NotificationSummary is a stored payment notification without its body.
type NotificationSummary struct {
	Provider   string
	PaymentID  string
	Status     string
	BodySHA256 [32]byte
	ReceivedAt time.Time
}

// LinkSummary is a delivery link's state, never its token or hash.
type LinkSummary struct {
	ID          string
	State       string // "active", "expired", "revoked" or "used_up"
	CreatedAt   time.Time
	ExpiresAt   time.Time
	MaxReveals  int
	RevealsUsed int
}

// GetOrderDetail reads an order for operators.
type GetOrderDetail struct {
	orders        ports.OrderRepository
	notifications ports.PaymentNotificationLog
	links         ports.DeliveryLinkRepository
	clock         ports.Clock
}

// NewGetOrderDetail wires GetOrderDetail; it panics when a dependency is nil.
func NewGetOrderDetail(orders ports.OrderRepository, notifications ports.PaymentNotificationLog, links ports.DeliveryLinkRepository, clock ports.Clock) GetOrderDetail {
	require("GetOrderDetail", "orders", orders, "notifications", notifications, "links", links, "clock", clock)
	return GetOrderDetail{orders: orders, notifications: notifications, links: links, clock: clock}
}

// Handle returns the order's detail, or domain.ErrNotFound.
func (h GetOrderDetail) Handle(ctx context.Context, id string) (OrderDetail, error) {
	o, err := h.orders.Get(ctx, id)
	if err != nil {
		return OrderDetail{}, err
	}
	ns, err := h.notifications.ListByOrder(ctx, id)
	if err != nil {
		return OrderDetail{}, fmt.Errorf("order %s: %w", id, err)
	}
	ls, err := h.links.ListByOrder(ctx, id)
	if err != nil {
		return OrderDetail{}, fmt.Errorf("order %s: %w", id, err)
	}
	d := OrderDetail{Order: o, Notifications: make([]NotificationSummary, 0, len(ns)), Links: make([]LinkSummary, 0, len(ls))}
	for _, n := range ns {
		d.Notifications = append(d.Notifications, NotificationSummary{Provider: n.Provider, PaymentID: n.PaymentID,
			Status: n.Status, BodySHA256: n.BodySHA256, ReceivedAt: n.ReceivedAt})
	}
	now := h.clock.Now()
	for _, l := range ls {
		d.Links = append(d.Links, LinkSummary{ID: l.ID(), State: linkState(l.CanReveal(now)), CreatedAt: l.CreatedAt(),
			ExpiresAt: l.ExpiresAt(), MaxReveals: l.MaxReveals(), RevealsUsed: l.RevealsUsed()})
	}
	return d, nil
}

func linkState(err error) string {
	switch {
	case err == nil:
		return "active"
	case errors.Is(err, domain.ErrLinkRevoked):
		return "revoked"
	case errors.Is(err, domain.ErrLinkExpired):
		return "expired"
	default:
		return "used_up"
	}
}
