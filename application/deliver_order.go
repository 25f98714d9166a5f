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
	token := newToken()
	link, err := domain.NewDeliveryLink(li.IDs.NewID(), o.ID(), domain.HashToken(token), li.Clock.Now(), li.Policy.TTL, li.Policy.MaxReveals)
	if err != nil {
		return nil, err
	}
	if err := li.Links.Create(ctx, link); err != nil {
		return nil, fmt.Errorf("store delivery link: %w", err)
	}
	url := strings.TrimRight(li.Policy.PublicBaseURL, "/") + "/deliver/" + token
	if err := li.Mailer.Send(ctx, deliveryEmail(o, link, url)); err != nil {
		return nil, fmt.Errorf("%w: send delivery email: %v", ErrUnavailable, err)
	}
	return link, nil
}

// revokeAll revokes every link of the order.
func (li linkIssuer) revokeAll(ctx context.Context, orderID string) error {
	links, err := li.Links.ListByOrder(ctx, orderID)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	now := li.Clock.Now()
	for _, l := range links {
		if l.Revoked() {
			continue
		}
		if _, err := li.Links.Update(ctx, l.ID(), func(l *domain.DeliveryLink) error { l.Revoke(now); return nil }); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("revoke link %s: %w", l.ID(), err)
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
// retry when mail or storage fails.
func (h DeliverOrder) Handle(ctx context.Context, orderID string) error {
	lease := h.Lease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	claimed := false
	o, err := h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		claimed = o.ClaimDelivery(h.Issuer.Clock.Now(), lease)
		return nil
	})
	if err != nil {
		return fmt.Errorf("claim delivery: %w", err)
	}
	if !claimed {
		return nil
	}
	if err := h.Issuer.revokeAll(ctx, orderID); err != nil {
		return err
	}
	link, err := h.Issuer.issue(ctx, o)
	if err != nil {
		return err
	}
	_, err = h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		if o.Status() != domain.StatusFulfilled {
			return nil
		}
		return o.MarkDelivered(link.ID(), h.Issuer.Clock.Now())
	})
	if err != nil {
		return fmt.Errorf("mark delivered: %w", err)
	}
	h.Log.InfoContext(ctx, "order delivered", "order_id", orderID, "link_id", link.ID())
	return nil
}
