package application

import (
	"context"
	"errors"
	"fmt"
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
	ResendLimit   int           // resends allowed per order in ResendWindow; 0 means no limit
	ResendWindow  time.Duration // default 1 hour
}

// linkIssuer creates a delivery link and emails it; the token exists only in
// the email and is never stored.
type linkIssuer struct {
	links  ports.DeliveryLinkRepository
	mailer ports.Mailer
	clock  ports.Clock
	ids    ports.IDs
	policy DeliveryPolicy
}

func newLinkIssuer(useCase string, links ports.DeliveryLinkRepository, mailer ports.Mailer, clock ports.Clock, ids ports.IDs, policy DeliveryPolicy) linkIssuer {
	require(useCase, "links", links, "mailer", mailer, "clock", clock, "ids", ids)
	return linkIssuer{links: links, mailer: mailer, clock: clock, ids: ids, policy: policy}
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
	link, err := domain.NewDeliveryLink(li.ids.NewID(), o.ID(), domain.HashToken(token), li.clock.Now(), li.policy.TTL, li.policy.MaxReveals)
	if err != nil {
		return nil, "", err
	}
	if err := li.links.Create(ctx, link); err != nil {
		return nil, "", fmt.Errorf("store delivery link: %w", err)
	}
	return link, strings.TrimRight(li.policy.PublicBaseURL, "/") + "/deliver/" + token, nil
}

func (li linkIssuer) send(ctx context.Context, o *domain.Order, link *domain.DeliveryLink, url string) error {
	m, err := deliveryEmail(o, link, url)
	if err != nil {
		return err
	}
	if _, err := li.mailer.Send(ctx, m); err != nil {
		return fmt.Errorf("%w: send delivery email: %v", ErrUnavailable, err)
	}
	return nil
}

// deliveryEmail is the email that carries a delivery link, once per link.
func deliveryEmail(o *domain.Order, link *domain.DeliveryLink, url string) (ports.Email, error) {
	return emailKeysReady.render(o.Email().String(), "delivery-link/"+link.ID(), newEmailData(o).withLink(url, link.ExpiresAt()))
}

// revokeLink ends one link; a link that is gone is not an error.
func revokeLink(ctx context.Context, links ports.DeliveryLinkRepository, linkID string, now time.Time) error {
	_, err := links.Update(ctx, linkID, func(l *domain.DeliveryLink) error { l.Revoke(now); return nil })
	if err != nil && !errors.Is(err, domain.ErrNotFound) {
		return fmt.Errorf("revoke link %s: %w", linkID, err)
	}
	return nil
}

// revokeLinks revokes every live link of the order except keep, and
// returns how many it revoked.
func revokeLinks(ctx context.Context, links ports.DeliveryLinkRepository, orderID, keep string, now time.Time) (int, error) {
	all, err := links.ListByOrder(ctx, orderID)
	if err != nil {
		return 0, fmt.Errorf("list links: %w", err)
	}
	n := 0
	for _, l := range all {
		if l.Revoked() || l.ID() == keep {
			continue
		}
		if err := revokeLink(ctx, links, l.ID(), now); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
