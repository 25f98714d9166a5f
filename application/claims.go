package application

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of claims; their subject is the claim's id.
const (
	AuditClaimOpened   = "claim.opened"
	AuditClaimRejected = "claim.rejected"
)

// ClaimPolicy configures claims.
type ClaimPolicy struct {
	// Window is how long after an item's first reveal it may be claimed;
	// default 14 days.
	Window time.Duration
	// MaxReplacements is how many approved claims an item may have
	// before only a forced approval replaces it again; default 1.
	MaxReplacements int
}

func (p ClaimPolicy) withDefaults() ClaimPolicy {
	if p.Window <= 0 {
		p.Window = 14 * 24 * time.Hour
	}
	if p.MaxReplacements <= 0 {
		p.MaxReplacements = 1
	}
	return p
}

// OpenClaimCommand is a customer's report, through their delivery link,
// that an item's key does not work.
type OpenClaimCommand struct {
	Token   string // any delivery link of the order: links expire long before the window does
	ItemID  string
	Reason  string // not_working, already_used, wrong_region or other
	Message string
}

// OpenClaim records a claim on a revealed item, within the window of its
// first reveal, one open claim per item.
type OpenClaim struct {
	tx          ports.Transactor
	links       ports.DeliveryLinkRepository
	orders      ports.OrderRepository
	revelations ports.RevelationLog
	claims      ports.ClaimRepository
	audit       ports.AuditLog
	clock       ports.Clock
	ids         ports.IDs
	policy      ClaimPolicy
}

// NewOpenClaim wires OpenClaim; it panics when a dependency is nil.
func NewOpenClaim(tx ports.Transactor, links ports.DeliveryLinkRepository, orders ports.OrderRepository, revelations ports.RevelationLog,
	claims ports.ClaimRepository, audit ports.AuditLog, clock ports.Clock, ids ports.IDs, policy ClaimPolicy) OpenClaim {
	require("OpenClaim", "tx", tx, "links", links, "orders", orders, "revelations", revelations, "claims", claims, "audit", audit, "clock", clock, "ids", ids)
	return OpenClaim{tx: tx, links: links, orders: orders, revelations: revelations, claims: claims, audit: audit, clock: clock, ids: ids,
		policy: policy.withDefaults()}
}

// Handle returns domain.ErrNotFound for an unknown token,
// domain.ErrItemNotFound for an item of another order,
// domain.ErrInvalidClaim for a bad reason or message,
// domain.ErrClaimWindowClosed for an item never revealed or revealed too
// long ago, and domain.ErrConflict while the item has an open claim.
func (h OpenClaim) Handle(ctx context.Context, cmd OpenClaimCommand) (*domain.Claim, error) {
	link, err := h.links.GetByTokenHash(ctx, domain.HashToken(cmd.Token))
	if err != nil {
		return nil, err
	}
	o, err := h.orders.Get(ctx, link.OrderID())
	if err != nil {
		return nil, err
	}
	if o.Status() != domain.StatusDelivered {
		return nil, fmt.Errorf("%w: order is %s; only a delivered order's keys can be claimed", domain.ErrInvalidTransition, o.Status())
	}
	if _, err := o.Item(cmd.ItemID); err != nil {
		return nil, err
	}
	reason, err := domain.ParseClaimReason(cmd.Reason)
	if err != nil {
		return nil, err
	}
	revs, err := h.revelations.ListByOrder(ctx, o.ID())
	if err != nil {
		return nil, fmt.Errorf("revelations of order %s: %w", o.ID(), err)
	}
	var first time.Time
	for _, r := range revs {
		if r.ItemID() == cmd.ItemID && (first.IsZero() || r.At().Before(first)) {
			first = r.At()
		}
	}
	c, err := domain.NewClaim(h.ids.NewID(), o.ID(), cmd.ItemID, reason, cmd.Message, first, h.clock.Now(), h.policy.Window)
	if err != nil {
		return nil, err
	}
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		if _, err := h.orders.Update(ctx, o.ID(), func(o *domain.Order) error { return o.RecordClaimOpened(c.ID(), cmd.ItemID, c.CreatedAt()) }); err != nil {
			return err
		}
		if err := h.claims.Create(ctx, c); err != nil {
			return fmt.Errorf("store claim: %w", err)
		}
		if _, err := h.audit.Append(ctx, ActorCustomer, AuditClaimOpened, c.ID(),
			map[string]string{"order_id": o.ID(), "item_id": cmd.ItemID, "reason": reason.String(), "link_id": link.ID()}); err != nil {
			return fmt.Errorf("audit claim: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// RejectClaim decides a claim against the customer and emails them the
// message.
type RejectClaim struct {
	tx     ports.Transactor
	claims ports.ClaimRepository
	orders ports.OrderRepository
	mailer ports.Mailer
	audit  ports.AuditLog
	clock  ports.Clock
	repl   replacements
}

// NewRejectClaim wires RejectClaim; it panics when a dependency is nil.
// suppliers are asked whether a replacement requested for the claim was
// bought.
func NewRejectClaim(tx ports.Transactor, claims ports.ClaimRepository, orders ports.OrderRepository, suppliers ports.Suppliers, mailer ports.Mailer,
	audit ports.AuditLog, clock ports.Clock) RejectClaim {
	require("RejectClaim", "tx", tx, "claims", claims, "orders", orders, "mailer", mailer, "audit", audit, "clock", clock)
	return RejectClaim{tx: tx, claims: claims, orders: orders, mailer: mailer, audit: audit, clock: clock,
		repl: replacements{tx: tx, orders: orders, audit: audit, suppliers: suppliers, clock: clock}}
}

// Handle returns domain.ErrNotFound for an unknown claim,
// domain.ErrInvalidTransition for one already decided,
// domain.ErrInvalidClaim for an empty or too long message,
// domain.ErrConflict when a replacement was bought from a supplier for the
// claim (approve it from the supplier instead; a purchase requested whose
// answer was lost is looked up at the supplier first, and recorded bought
// when found), ErrUnavailable when that supplier cannot be asked (nothing
// is decided then), and ErrUnavailable when the email cannot be sent (the
// rejection is recorded then).
func (h RejectClaim) Handle(ctx context.Context, claimID, message, actor string) (*domain.Claim, error) {
	c, err := h.claims.Get(ctx, claimID)
	if err != nil {
		return nil, err
	}
	now := h.clock.Now()
	// Decided on a copy first: what the email says is what is stored.
	decided := domain.UnmarshalClaim(c.Snapshot())
	if err := decided.Reject(message, actor, now); err != nil {
		return nil, err
	}
	o, err := h.orders.Get(ctx, c.OrderID())
	if err != nil {
		return nil, err
	}
	it, err := o.Item(c.ItemID())
	if err != nil {
		return nil, err
	}
	checked, err := h.repl.settled(ctx, o, c, actor)
	if err != nil {
		return nil, err
	}
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		if _, err := h.orders.Update(ctx, o.ID(), func(o *domain.Order) error {
			if err := replacementBought(o, claimID, checked); err != nil {
				return err
			}
			return o.RecordClaimRejected(claimID, c.ItemID(), now)
		}); err != nil {
			return err
		}
		if c, err = h.claims.Update(ctx, claimID, func(c *domain.Claim) error { return c.Reject(message, actor, now) }); err != nil {
			return err
		}
		if _, err := h.audit.Append(ctx, actor, AuditClaimRejected, c.ID(),
			map[string]string{"order_id": c.OrderID(), "item_id": c.ItemID()}); err != nil {
			return fmt.Errorf("audit claim: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The email goes once the decision is stored, under a key of the
	// claim: a rejection that lost a race with an approval tells the
	// customer nothing.
	d := newEmailData(o).withClaim(it.Name(), decided.Note())
	m, err := emailClaimRejected.render(o.Email().String(), "claim-rejected/"+c.ID(), d)
	if err != nil {
		return c, fmt.Errorf("the rejection is recorded; its email was not rendered: %w", err)
	}
	if _, err := h.mailer.Send(ctx, m); err != nil {
		return c, fmt.Errorf("%w: the rejection is recorded; its email was not sent: %v", ErrUnavailable, err)
	}
	return c, nil
}

// ListClaims lists claims for support, newest first.
type ListClaims struct{ claims ports.ClaimRepository }

// NewListClaims wires ListClaims; it panics when the repository is nil.
func NewListClaims(claims ports.ClaimRepository) ListClaims {
	require("ListClaims", "claims", claims)
	return ListClaims{claims: claims}
}

// Handle returns a page of claims (q.Limit defaults to 50, at most 200)
// and the cursor of the next page, "" after the last.
func (h ListClaims) Handle(ctx context.Context, q ports.ClaimQuery) ([]*domain.Claim, string, error) {
	if q.Limit <= 0 || q.Limit > 200 {
		q.Limit = min(max(q.Limit, 50), 200)
	}
	cs, err := h.claims.List(ctx, q)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(cs) == q.Limit {
		next = cs[len(cs)-1].ID()
	}
	return cs, next, nil
}
