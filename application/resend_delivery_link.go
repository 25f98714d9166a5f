package application

import (
	"context"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ResendDeliveryLink issues a fresh link for a delivered order and revokes
// the older ones, so only the newest email works.
type ResendDeliveryLink struct {
	orders ports.OrderRepository
	audit  ports.AuditLog
	issuer linkIssuer
}

// NewResendDeliveryLink wires ResendDeliveryLink; it panics when a
// dependency is nil.
func NewResendDeliveryLink(orders ports.OrderRepository, links ports.DeliveryLinkRepository, mailer ports.Mailer, audit ports.AuditLog, clock ports.Clock, ids ports.IDs, policy DeliveryPolicy) ResendDeliveryLink {
	require("ResendDeliveryLink", "orders", orders, "audit", audit)
	return ResendDeliveryLink{orders: orders, audit: audit, issuer: newLinkIssuer("ResendDeliveryLink", links, mailer, clock, ids, policy)}
}

// Handle checks the customer's access token unless adminActor is set (then
// it names the admin); it returns domain.ErrNotFound for a wrong token and
// domain.ErrInvalidTransition when the order is not delivered.
func (h ResendDeliveryLink) Handle(ctx context.Context, orderID, accessToken, adminActor string) (*domain.DeliveryLink, error) {
	asAdmin := adminActor != ""
	o, err := h.orders.Get(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if !asAdmin && !o.CheckAccessToken(accessToken) {
		return nil, domain.ErrNotFound
	}
	if o.Status() != domain.StatusDelivered {
		return nil, fmt.Errorf("%w: order is %s; links are sent once it is delivered", domain.ErrInvalidTransition, o.Status())
	}
	// The new link is sent before the old ones are revoked: a failure
	// never leaves the customer without a working link.
	link, err := h.issuer.issue(ctx, o)
	if err != nil {
		return nil, err
	}
	now := h.issuer.clock.Now()
	revoked, err := revokeLinks(ctx, h.issuer.links, orderID, link.ID(), now)
	if err != nil {
		return nil, err
	}
	if _, err := h.orders.Update(ctx, orderID, func(o *domain.Order) error { return o.RecordLinkResent(link.ID(), now) }); err != nil {
		return nil, err
	}
	actor := adminActor
	if actor == "" {
		actor = ActorCustomer
	}
	if _, err := h.audit.Append(ctx, actor, AuditDeliveryResent, orderID, map[string]string{"link_id": link.ID(), "links_revoked": fmt.Sprint(revoked)}); err != nil {
		return nil, fmt.Errorf("audit resend: %w", err)
	}
	return link, nil
}
