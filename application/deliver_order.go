package application

import (
	"context"
	"errors"

	"fmt"
	"html"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DeliveryPolicy configures delivery links.
type DeliveryPolicy struct {
	TTL           time.Duration // how long a link reveals; default 15 minutes
	MaxReveals    int           // how many reveals a link allows
	PublicBaseURL string        // e.g. https://keys.example.com
}

// linkIssuer creates a delivery link and emails it; the token exists only in
// the email and is never stored.
type linkIssuer struct {
	Links  ports.DeliveryLinkRepository
	Mailer ports.Mailer
	Clock  ports.Clock
	IDs    ports.IDs
	Policy DeliveryPolicy
}

func (li linkIssuer) issue(ctx context.Context, o *domain.Order) (*domain.DeliveryLink, error) {
	link, url, err := li.create(ctx, o)
	if err != nil {
		return nil, err
	}
	return link, li.send(ctx, o, link, url)
}

// create stores a new link; the url (with the token) exists only in memory.
func (li linkIssuer) create(ctx context.Context, o *domain.Order) (*domain.DeliveryLink, string, error) {
	token := newToken()
	link, err := domain.NewDeliveryLink(li.IDs.NewID(), o.ID(), domain.HashToken(token), li.Clock.Now(), li.Policy.TTL, li.Policy.MaxReveals)
	if err != nil {
		return nil, "", err
	}
	if err := li.Links.Create(ctx, link); err != nil {
		return nil, "", fmt.Errorf("store delivery link: %w", err)
	}
	return link, strings.TrimRight(li.Policy.PublicBaseURL, "/") + "/deliver/" + token, nil
}

func (li linkIssuer) send(ctx context.Context, o *domain.Order, link *domain.DeliveryLink, url string) error {
	if err := li.Mailer.Send(ctx, deliveryEmail(o, link, url)); err != nil {
		return fmt.Errorf("%w: send delivery email: %v", ErrUnavailable, err)
	}
	return nil
}

// revoke ends one link.
func (li linkIssuer) revoke(ctx context.Context, linkID string) error {
	now := li.Clock.Now()
	_, err := li.Links.Update(ctx, linkID, func(l *domain.DeliveryLink) error { l.Revoke(now); return nil })
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("revoke link %s: %w", linkID, err)
	}
	return nil
}

// revokeAll revokes every link of the order.
func (li linkIssuer) revokeAll(ctx context.Context, orderID string) error {
	links, err := li.Links.ListByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Revoked() {
			continue
		}
		if err := li.revoke(ctx, l.ID()); err != nil {
			return err
		}
	}
	return nil
}

func deliveryEmail(o *domain.Order, link *domain.DeliveryLink, url string) ports.Email {
	var names []string
	for _, it := range o.Items() {
		names = append(names, fmt.Sprintf("%d × %s", it.Quantity(), it.Name()))
	}
	exp := link.ExpiresAt().UTC().Format("2006-01-02 15:04 MST")
	text := fmt.Sprintf("Your keyward order %s is ready.\n\n%s\n\nOpen this link to reveal your keys (valid until %s):\n%s\n\nThe link works a limited number of times. Do not forward this email.\n",
		o.ID(), strings.Join(names, "\n"), exp, url)
	var items strings.Builder
	for _, n := range names {
		items.WriteString("<li>" + html.EscapeString(n) + "</li>")
	}
	body := fmt.Sprintf(`<!doctype html><html><body><p>Your keyward order %s is ready.</p><ul>%s</ul><p><a href="%s">Reveal your keys</a> (valid until %s).</p><p>The link works a limited number of times. Do not forward this email.</p></body></html>`,
		html.EscapeString(o.ID()), items.String(), html.EscapeString(url), html.EscapeString(exp))
	return ports.Email{To: o.Email().String(), Subject: "Your keys are ready", Text: text, HTML: body, IdempotencyKey: "delivery-link/" + link.ID()}
}

// DeliverOrder sends the delivery link of a fulfilled order and marks it
// delivered. It runs on OrderFulfilled and from the reconciler. One worker
// at a time holds the order's delivery claim; a worker that takes over a
// stale claim (its holder died mid-way) revokes the links issued before, so
// at most one link ever works, even if an earlier email did go out.
type DeliverOrder struct {
	Orders ports.OrderRepository
	Issuer linkIssuer
	Log    *slog.Logger
	// Lease is how long a delivery claim holds; default 2 minutes.
	Lease time.Duration
}

// NewDeliverOrder wires DeliverOrder.
func NewDeliverOrder(orders ports.OrderRepository, links ports.DeliveryLinkRepository, mailer ports.Mailer, clock ports.Clock, ids ports.IDs, policy DeliveryPolicy, log *slog.Logger) DeliverOrder {
	return DeliverOrder{Orders: orders, Issuer: linkIssuer{Links: links, Mailer: mailer, Clock: clock, IDs: ids, Policy: policy}, Log: log}
}

// Handle is a no-op for an order that is not fulfilled (already delivered,
// revoked) or whose delivery another worker holds; it returns an error to
// retry when mail or storage fails, after releasing its claim.
func (h DeliverOrder) Handle(ctx context.Context, orderID string) error {
	lease := h.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	claim := h.Issuer.IDs.NewID()
	claimed := false
	o, err := h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		claimed = o.ClaimDelivery(claim, h.Issuer.Clock.Now(), lease)
		return nil
	})
	if err != nil {
		return fmt.Errorf("claim delivery: %w", err)
	}
	if !claimed {
		return nil
	}
	err = h.deliver(ctx, o, claim, lease)
	if err != nil {
		// Free the claim at once so the retry need not wait for the lease;
		// also when the request context is what failed.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, rerr := h.Orders.Update(rctx, orderID, func(o *domain.Order) error {
			o.ReleaseDelivery(claim, h.Issuer.Clock.Now())
			return nil
		}); rerr != nil {
			h.Log.WarnContext(ctx, "could not release delivery claim; the lease will expire", "order_id", orderID, "err", rerr)
		}
	}
	return err
}

// deliver revokes earlier links, issues and emails a new one and marks the
// order delivered, checking before each step that cannot be undone that
// the claim is still held (a worker that stalled past its lease stops and
// revokes its own link).
func (h DeliverOrder) deliver(ctx context.Context, o *domain.Order, claim string, lease time.Duration) error {
	orderID := o.ID()
	if err := h.Issuer.revokeAll(ctx, orderID); err != nil {
		return err
	}
	link, url, err := h.Issuer.create(ctx, o)
	if err != nil {
		return err
	}
	current, err := h.Orders.Get(ctx, orderID)
	if err != nil {
		return fmt.Errorf("reload order: %w", err)
	}
	if !current.HoldsDelivery(claim, h.Issuer.Clock.Now(), lease) {
		h.Log.WarnContext(ctx, "delivery claim lost before sending; revoking own link", "order_id", orderID)
		return h.Issuer.revoke(ctx, link.ID())
	}
	if err := h.Issuer.send(ctx, o, link, url); err != nil {
		return err
	}
	lost := false
	_, err = h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		if !o.HoldsDelivery(claim, h.Issuer.Clock.Now(), lease) {
			lost = true
			return nil
		}
		return o.MarkDelivered(link.ID(), h.Issuer.Clock.Now())
	})
	if err != nil {
		return fmt.Errorf("mark delivered: %w", err)
	}
	if lost {
		h.Log.WarnContext(ctx, "delivery claim lost after sending; revoking own link", "order_id", orderID)
		return h.Issuer.revoke(ctx, link.ID())
	}
	h.Log.InfoContext(ctx, "order delivered", "order_id", orderID, "link_id", link.ID())
	return nil
}
