package application

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ResendDeliveryLink issues a fresh link for a delivered order and revokes
// the older ones, so only the newest email works. One resend of an order
// runs at a time (across processes, through Locks): two interleaved resends
// would each revoke the other's link and leave none working.
type ResendDeliveryLink struct {
	tx     ports.Transactor
	orders ports.OrderRepository
	audit  ports.AuditLog
	locks  ports.Locks
	issuer linkIssuer
}

// NewResendDeliveryLink wires ResendDeliveryLink; it panics when a
// dependency is nil.
func NewResendDeliveryLink(tx ports.Transactor, orders ports.OrderRepository, links ports.DeliveryLinkRepository, mailer ports.Mailer, audit ports.AuditLog, locks ports.Locks, clock ports.Clock, ids ports.IDs, policy DeliveryPolicy) ResendDeliveryLink {
	require("ResendDeliveryLink", "tx", tx, "orders", orders, "audit", audit, "locks", locks)
	return ResendDeliveryLink{tx: tx, orders: orders, audit: audit, locks: locks, issuer: newLinkIssuer("ResendDeliveryLink", links, mailer, clock, ids, policy)}
}

// Handle checks the customer's access token unless adminActor is set (then
// it names the admin); it returns domain.ErrNotFound for a wrong token,
// domain.ErrInvalidTransition when the order is not delivered,
// domain.ErrConflict while another resend of the order runs, and an error
// matching ErrRateLimited (with RetryAfter) when the order had its
// allowance of resends in the policy's window.
func (h ResendDeliveryLink) Handle(ctx context.Context, orderID, accessToken, adminActor string) (*domain.DeliveryLink, error) {
	asAdmin := adminActor != ""
	o, err := h.orders.Get(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if !asAdmin && !o.CheckAccessToken(accessToken) {
		return nil, domain.ErrNotFound
	}
	actor := adminActor
	if actor == "" {
		actor = ActorCustomer
	}
	return h.resend(ctx, o, actor, nil)
}

// resend sends o's new link and revokes the older ones, under the order's
// lock and within the policy's allowance, audited by actor with details
// added to the record's.
func (h ResendDeliveryLink) resend(ctx context.Context, o *domain.Order, actor string, details map[string]string) (*domain.DeliveryLink, error) {
	orderID := o.ID()
	if o.Status() != domain.StatusDelivered {
		return nil, fmt.Errorf("%w: order is %s; links are sent once it is delivered", domain.ErrInvalidTransition, o.Status())
	}
	release, ok, err := h.locks.TryLock(ctx, "resend-delivery-link/"+orderID)
	if err != nil {
		return nil, fmt.Errorf("%w: lock: %v", ErrUnavailable, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: a delivery link for this order is being sent right now; wait for it", domain.ErrConflict)
	}
	defer release()
	if err := h.withinAllowance(ctx, orderID); err != nil {
		return nil, err
	}
	// The new link is sent before the old ones are revoked: a failure
	// never leaves the customer without a working link.
	link, err := h.issuer.issue(ctx, o)
	if err != nil {
		return nil, err
	}
	// The order's timeline, the older links and the audit record change
	// together (in that order, as every unit of work takes them: order,
	// links, audit).
	now := h.issuer.clock.Now()
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		if _, err := h.orders.Update(ctx, orderID, func(o *domain.Order) error { return o.RecordLinkResent(link.ID(), now) }); err != nil {
			return err
		}
		revoked, err := revokeLinks(ctx, h.issuer.links, orderID, link.ID(), now)
		if err != nil {
			return err
		}
		rec := map[string]string{"link_id": link.ID(), "links_revoked": fmt.Sprint(revoked)}
		for k, v := range details {
			rec[k] = v
		}
		if _, err := h.audit.Append(ctx, actor, AuditDeliveryResent, orderID, rec); err != nil {
			return fmt.Errorf("audit resend: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return link, nil
}

// withinAllowance refuses a resend when the order's links, not counting the
// first (the delivery), already include the policy's number of resends in
// its window.
func (h ResendDeliveryLink) withinAllowance(ctx context.Context, orderID string) error {
	p := h.issuer.policy
	if p.ResendLimit <= 0 {
		return nil
	}
	links, err := h.issuer.links.ListByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	slices.SortFunc(links, func(a, b *domain.DeliveryLink) int { return a.CreatedAt().Compare(b.CreatedAt()) })
	now := h.issuer.clock.Now()
	var recent []time.Time
	for _, l := range links[min(1, len(links)):] {
		if l.CreatedAt().After(now.Add(-p.ResendWindow)) {
			recent = append(recent, l.CreatedAt())
		}
	}
	if len(recent) < p.ResendLimit {
		return nil
	}
	wait := recent[len(recent)-p.ResendLimit].Add(p.ResendWindow).Sub(now)
	return rateLimited(wait, fmt.Sprintf("this order's delivery link was sent again %d times in the last %s", len(recent), p.ResendWindow))
}
