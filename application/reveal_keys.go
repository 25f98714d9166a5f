package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// RevealCommand is one reveal request from a customer's browser or client.
type RevealCommand struct {
	Token     string
	IP        string
	UserAgent string
}

// RevealedKey is one plaintext key, for the response only.
type RevealedKey struct {
	ContentType string
	Data        []byte
}

// RevealedItem is an item with its keys.
type RevealedItem struct {
	ItemID string
	SKU    string
	Name   string
	Keys   []RevealedKey
}

// Revealed is the result of a reveal.
type Revealed struct {
	Link  *domain.DeliveryLink
	Order *domain.Order
	Items []RevealedItem
	First bool
}

// RevealKeys checks a delivery link, opens the order's sealed keys, consumes
// one reveal and records a revelation per item, and only then returns the
// keys. Nothing is consumed when the keys cannot be opened.
type RevealKeys struct {
	Links       ports.DeliveryLinkRepository
	Orders      ports.OrderRepository
	DataKeys    ports.DataKeyRepository
	Vault       ports.KeyVault
	Blobs       ports.BlobStore
	Revelations ports.RevelationLog
	Audit       ports.AuditLog
	Clock       ports.Clock
	IDs         ports.IDs
	Log         *slog.Logger
}

// Handle returns domain.ErrNotFound for an unknown token; ErrLinkExpired,
// ErrLinkRevoked or ErrLinkExhausted for a link that no longer reveals
// (also when the order was revoked); ErrUnavailable when the vault is down.
func (h RevealKeys) Handle(ctx context.Context, cmd RevealCommand) (Revealed, error) {
	cmd.IP, cmd.UserAgent = clean(cmd.IP, 64), clean(cmd.UserAgent, 512)
	link, order, err := openLink(ctx, h.Links, h.Orders, cmd.Token, h.Clock)
	if err != nil {
		return Revealed{}, err
	}
	wk, err := h.DataKeys.Get(ctx, order.ID())
	if errors.Is(err, domain.ErrNotFound) {
		return Revealed{}, domain.ErrLinkRevoked // shredded
	}
	if err != nil {
		return Revealed{}, fmt.Errorf("load data key: %w", err)
	}
	dataKey, err := unwrap(ctx, h.Vault, order.ID(), wk)
	if err != nil {
		return Revealed{}, err
	}
	defer zero(dataKey)
	items, err := h.open(ctx, order, dataKey)
	if err != nil {
		return Revealed{}, err
	}

	now := h.Clock.Now()
	var first bool
	link, err = h.Links.Update(ctx, link.ID(), func(l *domain.DeliveryLink) error {
		var err error
		first, err = l.Reveal(now)
		return err
	})
	if err != nil {
		return Revealed{}, err
	}
	revs := make([]domain.KeyRevelation, 0, len(items))
	for _, it := range items {
		rv, err := domain.NewKeyRevelation(h.IDs.NewID(), order, it.ItemID, link,
			domain.RevealAccess{IP: cmd.IP, UserAgent: cmd.UserAgent}, now, first)
		if err != nil {
			return Revealed{}, h.giveBack(ctx, link.ID(), fmt.Errorf("record revelation: %w", err))
		}
		revs = append(revs, rv)
	}
	// The audit record first: if it cannot be written nothing else is, and
	// the reveal is given back. If the revelation log then fails, the give
	// back is audited too, so the trail never claims keys were shown.
	details := map[string]string{
		"link_id": link.ID(), "ip": cmd.IP, "user_agent": cmd.UserAgent, "first": fmt.Sprint(first), "reveals_left": fmt.Sprint(link.RevealsLeft()),
	}
	if _, err := h.Audit.Append(ctx, ActorCustomer, AuditKeysRevealed, order.ID(), details); err != nil {
		return Revealed{}, h.giveBack(ctx, link.ID(), fmt.Errorf("audit revelation: %w", err))
	}
	if err := h.Revelations.Append(ctx, revs...); err != nil {
		err = h.giveBack(ctx, link.ID(), fmt.Errorf("record revelation: %w", err))
		if _, aerr := h.Audit.Append(context.WithoutCancel(ctx), ActorSystem, AuditRevealUndone, order.ID(), map[string]string{
			"link_id": link.ID(), "reason": "revelation could not be recorded; keys were not shown",
		}); aerr != nil {
			h.Log.ErrorContext(ctx, "could not audit an undone reveal", "order_id", order.ID(), "err", aerr)
		}
		return Revealed{}, err
	}
	h.Log.InfoContext(ctx, "keys revealed", "order_id", order.ID(), "link_id", link.ID(), "ip", cmd.IP, "first", first)
	return Revealed{Link: link, Order: order, Items: items, First: first}, nil
}

// giveBack returns a consumed reveal when the keys will not be shown, so a
// failure on our side never costs the customer a reveal.
func (h RevealKeys) giveBack(ctx context.Context, linkID string, cause error) error {
	// Also when the client went away: that is the usual cause.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := h.Links.Update(ctx, linkID, func(l *domain.DeliveryLink) error { l.UndoReveal(); return nil }); err != nil {
		h.Log.ErrorContext(ctx, "could not give back a reveal", "link_id", linkID, "err", err)
	}
	return cause
}

// clean makes client-supplied text safe to store and audit: valid UTF-8,
// no control characters, bounded length.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

func (h RevealKeys) open(ctx context.Context, o *domain.Order, dataKey []byte) ([]RevealedItem, error) {
	var out []RevealedItem
	for _, it := range o.Items() {
		ri := RevealedItem{ItemID: it.ID(), SKU: it.SKU(), Name: it.Name()}
		for _, k := range it.Keys() {
			ct, err := h.Blobs.Get(ctx, k.BlobRef)
			if err != nil {
				if errors.Is(err, domain.ErrNotFound) {
					return nil, domain.ErrLinkRevoked
				}
				return nil, fmt.Errorf("%w: load sealed key: %v", ErrUnavailable, err)
			}
			pt, err := openKey(dataKey, ct, sealAAD(o.ID(), it.ID(), k.Slot))
			if err != nil {
				return nil, fmt.Errorf("open key of item %s slot %d: %w", it.ID(), k.Slot, err)
			}
			ri.Keys = append(ri.Keys, RevealedKey{ContentType: k.ContentType, Data: pt})
		}
		out = append(out, ri)
	}
	return out, nil
}

// openLink finds the link for a token and its order, and checks both allow
// a reveal now.
func openLink(ctx context.Context, links ports.DeliveryLinkRepository, orders ports.OrderRepository, token string, clock ports.Clock) (*domain.DeliveryLink, *domain.Order, error) {
	if token == "" {
		return nil, nil, domain.ErrNotFound
	}
	link, err := links.GetByTokenHash(ctx, domain.HashToken(token))
	if err != nil {
		return nil, nil, err
	}
	order, err := orders.Get(ctx, link.OrderID())
	if err != nil {
		return nil, nil, fmt.Errorf("order of link: %w", err)
	}
	if order.Status() == domain.StatusRevoked {
		return link, order, domain.ErrLinkRevoked
	}
	if err := link.CanReveal(clock.Now()); err != nil {
		return link, order, err
	}
	return link, order, nil
}
