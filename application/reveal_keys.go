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
	tx          ports.Transactor
	links       ports.DeliveryLinkRepository
	orders      ports.OrderRepository
	keys        envelope
	revelations ports.RevelationLog
	audit       ports.AuditLog
	clock       ports.Clock
	ids         ports.IDs
	log         *slog.Logger
}

// NewRevealKeys wires RevealKeys; it panics when a dependency is nil.
func NewRevealKeys(tx ports.Transactor, links ports.DeliveryLinkRepository, orders ports.OrderRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, blobs ports.BlobStore, revelations ports.RevelationLog, audit ports.AuditLog, clock ports.Clock, ids ports.IDs, log *slog.Logger) RevealKeys {
	require("RevealKeys", "tx", tx, "links", links, "orders", orders, "dataKeys", dataKeys, "vault", vault, "blobs", blobs, "revelations", revelations, "audit", audit, "clock", clock, "ids", ids, "log", log)
	return RevealKeys{tx: tx, links: links, orders: orders, keys: envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}, revelations: revelations, audit: audit, clock: clock, ids: ids, log: log}
}

// Handle returns domain.ErrNotFound for an unknown token; ErrLinkExpired,
// ErrLinkRevoked or ErrLinkExhausted for a link that no longer reveals
// (also when the order was revoked); ErrUnavailable when the vault is down.
func (h RevealKeys) Handle(ctx context.Context, cmd RevealCommand) (Revealed, error) {
	cmd.IP, cmd.UserAgent = clean(cmd.IP, 64), clean(cmd.UserAgent, 512)
	read, err := h.read(ctx, cmd.Token)
	if err != nil {
		return Revealed{}, err
	}
	link, order := read.Link, read.Order
	key, err := h.openKey(ctx, read)
	if errors.Is(err, domain.ErrNotFound) {
		return Revealed{}, domain.ErrLinkRevoked // shredded
	}
	if err != nil {
		return Revealed{}, err
	}
	items, err := h.open(ctx, order, key, sealedFrom(read, h.keys.blobs))
	key.Close()
	if errors.Is(err, domain.ErrNotFound) {
		return Revealed{}, domain.ErrLinkRevoked // ciphertext shredded
	}
	if err != nil {
		return Revealed{}, err
	}

	// The reveal is consumed, recorded and audited in one unit of work:
	// all three commit, or none does and the keys are not shown.
	now := h.clock.Now()
	var (
		first    bool
		consumed *domain.DeliveryLink
	)
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		l, f, err := consumeReveal(ctx, h.links, link.ID(), now)
		if err != nil {
			return err
		}
		consumed, first = l, f
		revs := make([]domain.KeyRevelation, 0, len(items))
		for _, it := range items {
			rv, err := domain.NewKeyRevelation(h.ids.NewID(), order, it.ItemID, l,
				domain.RevealAccess{IP: cmd.IP, UserAgent: cmd.UserAgent}, now, first)
			if err != nil {
				return fmt.Errorf("record revelation: %w", err)
			}
			revs = append(revs, rv)
		}
		if err := h.revelations.Append(ctx, revs...); err != nil {
			return fmt.Errorf("record revelation: %w", err)
		}
		details := map[string]string{
			"link_id": l.ID(), "ip": cmd.IP, "user_agent": cmd.UserAgent, "first": fmt.Sprint(first), "reveals_left": fmt.Sprint(l.RevealsLeft()),
		}
		if _, err := h.audit.Append(ctx, ActorCustomer, AuditKeysRevealed, order.ID(), details); err != nil {
			return fmt.Errorf("audit revelation: %w", err)
		}
		return nil
	})
	if err != nil {
		// The unit of work rolled back: the reveal is not consumed.
		return Revealed{}, err
	}
	link = consumed
	h.log.InfoContext(ctx, "keys revealed", "order_id", order.ID(), "link_id", link.ID(), "ip", cmd.IP, "first", first)
	return Revealed{Link: link, Order: order, Items: items, First: first}, nil
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

// read reads the link of token, its order and, where the link store
// keeps the data keys (and the sealed keys), those too, in one read where
// the stores can (ports.DeliveryLinkForReveal); then it checks the link
// and order allow a reveal now, as openLink does.
func (h RevealKeys) read(ctx context.Context, token string) (revealRead, error) {
	both, ok := h.links.(ports.DeliveryLinkForReveal)
	if !ok || token == "" || !ports.SameStore(h.links, h.keys.dataKeys) {
		link, order, err := openLink(ctx, h.links, h.orders, token, h.clock)
		return revealRead{RevealRead: ports.RevealRead{Link: link, Order: order}}, err
	}
	read, err := both.GetForRevealByTokenHash(ctx, domain.HashToken(token), ports.SameStore(h.links, h.keys.blobs))
	if err != nil {
		return revealRead{}, err
	}
	return revealRead{RevealRead: read, keyRead: true}, canReveal(read.Link, read.Order, h.clock)
}

// revealRead is what read read; keyRead says whether it read the data key.
type revealRead struct {
	ports.RevealRead
	keyRead bool
}

// openKey opens the order's data key, read with the link or now.
func (h RevealKeys) openKey(ctx context.Context, read revealRead) (*orderKey, error) {
	if !read.keyRead {
		return h.keys.open(ctx, read.Order.ID())
	}
	if read.DataKey == nil {
		return nil, fmt.Errorf("%w: data key of order %s", domain.ErrNotFound, read.Order.ID())
	}
	return h.keys.unwrap(ctx, read.Order.ID(), *read.DataKey)
}

// sealedFrom returns how to get a sealed key: from those read with the
// link when they were, else from blobs.
func sealedFrom(read revealRead, blobs ports.BlobStore) func(context.Context, string) ([]byte, error) {
	if read.Sealed == nil {
		return blobs.Get
	}
	return func(_ context.Context, ref string) ([]byte, error) {
		ct, ok := read.Sealed[ref]
		if !ok {
			return nil, fmt.Errorf("%w: blob %s", domain.ErrNotFound, ref)
		}
		return ct, nil
	}
}

// open reads and opens every key of the order the customer is shown: a
// key a claim replaced is not, its replacement is. get reads a sealed key.
func (h RevealKeys) open(ctx context.Context, o *domain.Order, key *orderKey, get func(context.Context, string) ([]byte, error)) ([]RevealedItem, error) {
	var out []RevealedItem
	for _, it := range o.Items() {
		ri := RevealedItem{ItemID: it.ID(), SKU: it.SKU(), Name: it.Name()}
		for _, k := range it.CurrentKeys() {
			pt, err := h.keys.loadFrom(ctx, get, key, it.ID(), k.Slot, k.BlobRef)
			if err != nil {
				return nil, err
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
	link, order, err := linkAndOrder(ctx, links, orders, domain.HashToken(token))
	if err != nil {
		return nil, nil, err
	}
	return link, order, canReveal(link, order, clock)
}

// canReveal returns why link, of order, may not reveal now, or nil.
func canReveal(link *domain.DeliveryLink, order *domain.Order, clock ports.Clock) error {
	if order.Status() == domain.StatusRevoked {
		return domain.ErrLinkRevoked
	}
	return link.CanReveal(clock.Now())
}

// linkAndOrder reads the link with the token hash h and its order, in one
// read where the repository can.
func linkAndOrder(ctx context.Context, links ports.DeliveryLinkRepository, orders ports.OrderRepository, h domain.TokenHash) (*domain.DeliveryLink, *domain.Order, error) {
	if both, ok := links.(ports.DeliveryLinkWithOrder); ok {
		return both.GetWithOrderByTokenHash(ctx, h)
	}
	link, err := links.GetByTokenHash(ctx, h)
	if err != nil {
		return nil, nil, err
	}
	order, err := orders.Get(ctx, link.OrderID())
	if err != nil {
		return nil, nil, fmt.Errorf("order of link: %w", err)
	}
	return link, order, nil
}

// consumeReveal consumes one reveal of the link with id at now, in one
// write where the repository can (ports.DeliveryLinkRevealer).
func consumeReveal(ctx context.Context, links ports.DeliveryLinkRepository, id string, now time.Time) (*domain.DeliveryLink, bool, error) {
	if r, ok := links.(ports.DeliveryLinkRevealer); ok {
		return r.Reveal(ctx, id, now)
	}
	var first bool
	l, err := links.Update(ctx, id, func(l *domain.DeliveryLink) (err error) {
		first, err = l.Reveal(now)
		return err
	})
	return l, first, err
}
