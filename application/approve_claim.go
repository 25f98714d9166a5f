package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of an approved claim: claim.approved has the claim's id
// as its subject, key.replaced the order's.
const (
	AuditClaimApproved = "claim.approved"
	AuditKeyReplaced   = "key.replaced"
	// A replacement is about to be bought from a supplier, and the
	// supplier order that bought it; their subject is the claim's id.
	AuditReplacementRequested = "claim.replacement_requested"
	AuditReplacementBought    = "claim.replacement_bought"
)

// ApproveClaimCommand is support's decision for the customer.
type ApproveClaimCommand struct {
	ClaimID string
	Source  string // stock, or supplier: bought from the item's own supplier
	Note    string // for the record; the customer is not sent it
	Force   bool   // replace beyond ClaimPolicy.MaxReplacements
	Actor   string
}

// ApprovedClaim is what an approval did.
type ApprovedClaim struct {
	Claim *domain.Claim
	// Link is the delivery link emailed to the customer, revealing the
	// replacement; nil when the email could not be sent (the approval
	// stands: a resent delivery link reveals the replacement too).
	Link *domain.DeliveryLink
	// BlockedKeys counts the replaced keys whose hash was newly blocked
	// from the stock (a key that came from the stock is known already).
	BlockedKeys int
}

// ApproveClaim replaces a claimed item's keys. From the supplier, the
// replacement is bought first, from the supplier the item was bought from,
// under the price guard, as a purchase of its own whose external id is the
// claim's (an approval asked again finds it instead of buying again); the
// purchase is recorded on the order before the supplier is asked and once
// it is bought, so money spent is on record when the approval then fails,
// and the claim is then replaced from that purchase only. Then
// in one unit of work: the claim is approved, as many keys as the item
// shows are taken from the product's own stock (or are the ones bought)
// and sealed under the order's data key at new slots,
// the order marks the replaced keys bad (they stay sealed, as evidence,
// and are never revealed again) and shows the replacements, the canonical
// hash of each replaced key is stored in the stock as withdrawn (so an
// import of it, however spelt, is refused as a duplicate), and both steps
// are audited. Then a new delivery link is emailed.
type ApproveClaim struct {
	tx        ports.Transactor
	claims    ports.ClaimRepository
	orders    ports.OrderRepository
	stock     ports.StockRepository
	suppliers ports.Suppliers
	guard     PriceGuard
	keys      envelope
	audit     ports.AuditLog
	clock     ports.Clock
	ids       ports.IDs
	issuer    linkIssuer
	policy    ClaimPolicy
	log       *slog.Logger
	repl      replacements
}

// NewApproveClaim wires ApproveClaim; it panics when a dependency is nil.
func NewApproveClaim(tx ports.Transactor, claims ports.ClaimRepository, orders ports.OrderRepository, stock ports.StockRepository,
	suppliers ports.Suppliers, guard PriceGuard, dataKeys ports.DataKeyRepository, vault ports.KeyVault, blobs ports.BlobStore, links ports.DeliveryLinkRepository, mailer ports.Mailer,
	audit ports.AuditLog, clock ports.Clock, ids ports.IDs, delivery DeliveryPolicy, policy ClaimPolicy, log *slog.Logger) ApproveClaim {
	require("ApproveClaim", "tx", tx, "claims", claims, "orders", orders, "stock", stock, "dataKeys", dataKeys, "vault", vault, "blobs", blobs,
		"audit", audit, "log", log)
	return ApproveClaim{tx: tx, claims: claims, orders: orders, stock: stock, suppliers: suppliers, guard: guard.withDefaults(), keys: envelope{dataKeys: dataKeys, vault: vault, blobs: blobs},
		audit: audit, clock: clock, ids: ids, issuer: newLinkIssuer("ApproveClaim", links, mailer, clock, ids, delivery),
		policy: policy.withDefaults(), log: log, repl: replacements{tx: tx, orders: orders, audit: audit, suppliers: suppliers, clock: clock}}
}

// Handle returns domain.ErrNotFound for an unknown claim,
// domain.ErrInvalidTransition for a claim decided already or an order no
// longer delivered (revoked: its keys are gone), domain.ErrInvalidClaim for
// an unknown source or a note too long, and for source supplier when the
// item names no supplier to buy from, domain.ErrReplacementLimit beyond
// the item's allowance without force, domain.ErrOutOfStock when the
// product's stock has too few keys, domain.ErrConflict when the item
// changed meanwhile or the supplier asks more than the price guard allows,
// ports.ErrSupplierPermanent when the supplier refuses the purchase,
// domain.ErrConflict for source stock when a replacement was bought for
// the claim already (approve it from the supplier: it is found again; a
// purchase requested whose answer was lost is looked up at the supplier
// first, and recorded bought when found), and
// ErrUnavailable when the key vault or the supplier is down or the
// replacement bought has no keys yet (approve again: the purchase is found,
// not repeated). Nothing is decided on any error.
func (h ApproveClaim) Handle(ctx context.Context, cmd ApproveClaimCommand) (ApprovedClaim, error) {
	c, err := h.claims.Get(ctx, cmd.ClaimID)
	if err != nil {
		return ApprovedClaim{}, err
	}
	source, err := domain.ParseReplacementSource(cmd.Source)
	if err != nil {
		return ApprovedClaim{}, err
	}
	replaced, err := h.claims.CountApproved(ctx, c.ItemID())
	if err != nil {
		return ApprovedClaim{}, fmt.Errorf("replacements of item %s: %w", c.ItemID(), err)
	}
	// Decided on a copy first, for the refusals that need no key.
	if err := domain.UnmarshalClaim(c.Snapshot()).Approve(source, cmd.Note, cmd.Actor, replaced, h.policy.MaxReplacements, cmd.Force, h.clock.Now()); err != nil {
		return ApprovedClaim{}, err
	}
	o, err := h.orders.Get(ctx, c.OrderID())
	if err != nil {
		return ApprovedClaim{}, err
	}
	it, err := o.Item(c.ItemID())
	if err != nil {
		return ApprovedClaim{}, err
	}
	current := it.CurrentKeys()
	if o.Status() != domain.StatusDelivered || len(current) == 0 {
		return ApprovedClaim{}, fmt.Errorf("%w: order is %s and item %s shows %d keys; only a delivered item's keys are replaced",
			domain.ErrInvalidTransition, o.Status(), it.ID(), len(current))
	}
	var checked domain.ReplacementPurchase
	if source != domain.ReplaceFromSupplier {
		if checked, err = h.repl.settled(ctx, o, c, cmd.Actor); err != nil {
			return ApprovedClaim{}, err
		}
	}
	orderKey, err := h.keys.open(ctx, o.ID())
	if errors.Is(err, domain.ErrNotFound) {
		return ApprovedClaim{}, fmt.Errorf("%w: the order's keys were destroyed", domain.ErrInvalidTransition)
	}
	if err != nil {
		return ApprovedClaim{}, err
	}
	defer orderKey.Close()
	stock := stockKeys{h.keys}
	stockKey, err := stock.forSKU(ctx, it.SKU())
	if err != nil {
		return ApprovedClaim{}, fmt.Errorf("stock data key of %s: %w", it.SKU(), err)
	}
	defer stockKey.Close()
	blocks, err := h.blocks(ctx, it, current, orderKey, stock, stockKey)
	if err != nil {
		return ApprovedClaim{}, err
	}
	var bought purchasedReplacement
	if source == domain.ReplaceFromSupplier {
		if bought, err = h.buy(ctx, o, it, c.ID(), len(current), cmd.Actor); err != nil {
			return ApprovedClaim{}, err
		}
		defer bought.clear()
	}

	var (
		approved *domain.Claim
		order    *domain.Order
		blocked  []domain.StockKeyID
	)
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		now := h.clock.Now()
		// The order's row first: a concurrent approval of the item waits
		// here, then finds its claim decided or the keys changed.
		if _, err := h.orders.Update(ctx, o.ID(), func(o *domain.Order) error {
			cur, err := o.Item(it.ID())
			if err != nil {
				return err
			}
			if !slices.Equal(cur.CurrentKeys(), current) {
				return fmt.Errorf("%w: item %s's keys changed meanwhile", domain.ErrConflict, it.ID())
			}
			if source != domain.ReplaceFromSupplier {
				return replacementBought(o, c.ID(), checked)
			}
			return nil
		}); err != nil {
			return err
		}
		replaced, err := h.claims.CountApproved(ctx, c.ItemID())
		if err != nil {
			return err
		}
		if approved, err = h.claims.Update(ctx, c.ID(), func(c *domain.Claim) error {
			return c.Approve(source, cmd.Note, cmd.Actor, replaced, h.policy.MaxReplacements, cmd.Force, now)
		}); err != nil {
			return err
		}
		keys, ids := bought.keys, []string(nil)
		if source == domain.ReplaceFromStock {
			// The stock keys are assigned to the claim: the item's own
			// keys from the stock, if any, count toward another claim.
			claimed, err := h.stock.Claim(ctx, it.SKU(), c.ID(), len(current))
			if err != nil {
				return err
			}
			keys = make([]ports.SupplierKey, 0, len(claimed))
			defer func() {
				for _, k := range keys {
					clear(k.Data)
				}
			}()
			for _, k := range claimed {
				pt, err := openStock(stockKey, k.ID, k.Sealed)
				if err != nil {
					return fmt.Errorf("open stock key %s: %w", k.ID, err)
				}
				keys = append(keys, ports.SupplierKey{ContentType: k.ContentType, Data: pt})
				ids = append(ids, string(k.ID))
			}
		}
		repl := make([]domain.SealedKey, 0, len(keys))
		for i, k := range keys {
			// A blob store may write outside the unit of work (S3): a
			// rollback leaves these blobs under slots no key holds, which
			// the next approval writes over.
			slot := it.NextSlot() + i
			ref, err := h.keys.store(ctx, orderKey, it.ID(), slot, k.Data)
			if err != nil {
				return err
			}
			repl = append(repl, domain.SealedKey{Slot: slot, BlobRef: ref, ContentType: k.ContentType})
		}
		if order, err = h.orders.Update(ctx, o.ID(), func(o *domain.Order) error {
			return o.ReplaceItemKeys(it.ID(), c.ID(), repl, now)
		}); err != nil {
			return err
		}
		if blocked, err = h.block(ctx, it.SKU(), blocks, now); err != nil {
			return err
		}
		if _, err := h.audit.Append(ctx, cmd.Actor, AuditClaimApproved, c.ID(), map[string]string{
			"order_id": o.ID(), "item_id": it.ID(), "source": source.String(), "forced": strconv.FormatBool(approved.Forced()),
		}); err != nil {
			return fmt.Errorf("audit claim: %w", err)
		}
		bad := make([]string, len(current))
		for i, k := range current {
			bad[i] = strconv.Itoa(k.Slot)
		}
		blockedIDs := make([]string, len(blocked))
		for i, id := range blocked {
			blockedIDs[i] = string(id)
		}
		if _, err := h.audit.Append(ctx, cmd.Actor, AuditKeyReplaced, o.ID(), map[string]string{
			"claim_id": c.ID(), "item_id": it.ID(), "bad_slots": strings.Join(bad, ","), "stock_key_ids": strings.Join(ids, ","),
			"blocked_stock_key_ids": strings.Join(blockedIDs, ","), "supplier_order_id": it.SupplierOrderID(),
			"replacement_supplier": bought.supplier, "replacement_supplier_order_id": bought.orderID,
		}); err != nil {
			return fmt.Errorf("audit replacement: %w", err)
		}
		return nil
	})
	if err != nil {
		return ApprovedClaim{}, err
	}
	res := ApprovedClaim{Claim: approved, BlockedKeys: len(blocked)}
	// The email goes out once the replacement is stored: the link it
	// carries reveals it.
	link, err := h.sendReplacement(ctx, order, c.ID(), it.Name())
	if err != nil {
		h.log.WarnContext(ctx, "replacement approved, email not sent; resend the delivery link", "claim_id", c.ID(), "order_id", o.ID(), "error", err)
		return res, nil
	}
	res.Link = link
	return res, nil
}

// blocks returns, for each key being replaced, a stock record of its
// canonical hash sealed under the product's stock key: stored and
// withdrawn at once, it keeps the key out of the stock for good. A text
// key that CanonicalKeyText refuses could never be imported: it needs no
// record.
func (h ApproveClaim) blocks(ctx context.Context, it *domain.OrderItem, keys []domain.SealedKey, orderKey *orderKey, stock stockKeys, stockKey *orderKey) ([]domain.StockKey, error) {
	hasher, err := stock.hasher(ctx)
	if err != nil {
		return nil, fmt.Errorf("stock hash key: %w", err)
	}
	defer hasher.Close()
	now := h.clock.Now()
	var out []domain.StockKey
	for _, k := range keys {
		pt, err := h.keys.load(ctx, orderKey, it.ID(), k.Slot, k.BlobRef)
		if errors.Is(err, domain.ErrNotFound) {
			return nil, fmt.Errorf("%w: the order's keys were destroyed", domain.ErrInvalidTransition)
		}
		if err != nil {
			return nil, err
		}
		data := normaliseKey(k.ContentType, pt)
		form, err := dedupeForm(k.ContentType, data)
		if err != nil {
			clear(pt)
			continue
		}
		id := domain.StockKeyID(h.ids.NewID())
		out = append(out, domain.StockKey{ID: id, SKU: it.SKU(), Hash: canonicalHash(hasher, k.ContentType, form),
			LegacyHash: keyedHash(hasher, k.ContentType, data), Sealed: sealStock(stockKey, id, data), ContentType: k.ContentType, CreatedAt: now})
		clear(form)
		clear(pt)
	}
	return out, nil
}

// block stores the records of blocks the stock does not know yet and
// withdraws them at once, returning their ids.
func (h ApproveClaim) block(ctx context.Context, sku string, blocks []domain.StockKey, now time.Time) ([]domain.StockKeyID, error) {
	if len(blocks) == 0 {
		return nil, nil
	}
	added, err := h.stock.Add(ctx, blocks)
	if err != nil {
		return nil, fmt.Errorf("block replaced keys: %w", err)
	}
	for _, id := range added {
		if err := h.stock.Withdraw(ctx, sku, id, now); err != nil {
			return nil, fmt.Errorf("block replaced key %s: %w", id, err)
		}
	}
	return added, nil
}

// sendReplacement emails a new delivery link, which reveals the
// replacement.
func (h ApproveClaim) sendReplacement(ctx context.Context, o *domain.Order, claimID, item string) (*domain.DeliveryLink, error) {
	link, url, err := h.issuer.create(ctx, o)
	if err != nil {
		return nil, err
	}
	d := newEmailData(o).withLink(url, link.ExpiresAt()).withClaim(item, "")
	m, err := emailKeyReplaced.render(o.Email().String(), "key-replaced/"+claimID, d)
	if err != nil {
		return nil, err
	}
	if _, err := h.issuer.mailer.Send(ctx, m); err != nil {
		return nil, fmt.Errorf("%w: send the replacement: %v", ErrUnavailable, err)
	}
	return link, nil
}

// purchasedReplacement is a replacement bought from the supplier.
type purchasedReplacement struct {
	supplier, orderID string
	keys              []ports.SupplierKey
}

func (p purchasedReplacement) clear() {
	for _, k := range p.keys {
		clear(k.Data)
	}
}

// replacementBought returns domain.ErrConflict when o records a replacement
// bought from a supplier for claimID: the claim is replaced from it, or
// the money spent on it is lost. It is ErrConflict too when o records a
// purchase requested that checked, what was known when the supplier was
// asked (replacements.settled), did not: begun meanwhile, it may be bought.
func replacementBought(o *domain.Order, claimID string, checked domain.ReplacementPurchase) error {
	switch p := o.ReplacementPurchase(claimID); {
	case p.Bought():
		return fmt.Errorf("%w: %s order %s was bought to replace claim %s's keys: approve the claim from the supplier", domain.ErrConflict, p.Supplier, p.SupplierOrderID, claimID)
	case p.Requested && !checked.Requested:
		return fmt.Errorf("%w: a replacement for claim %s is being bought from %s: ask again", domain.ErrConflict, claimID, p.Supplier)
	}
	return nil
}

// replacements records what a supplier says of the purchase of a claim's
// replacement.
type replacements struct {
	tx        ports.Transactor
	orders    ports.OrderRepository
	audit     ports.AuditLog
	suppliers ports.Suppliers
	clock     ports.Clock
}

// settled is asked before a claim is decided other than by a replacement
// from the supplier (rejected, or approved from stock), and returns what
// o records of the purchase of its replacement. It is domain.ErrConflict
// when a replacement was bought: the claim is replaced from it, or the
// money spent on it is lost. A purchase requested whose answer never came
// (the supplier placed it, the answer timed out) is looked up at the
// supplier by the claim's id: found, it is recorded as bought, with its
// audit record, and the answer is domain.ErrConflict; not found (or
// cancelled or refunded by the supplier: no keys come, nothing is spent),
// the claim may be decided. ErrUnavailable
// when the supplier cannot be asked.
func (r replacements) settled(ctx context.Context, o *domain.Order, c *domain.Claim, actor string) (domain.ReplacementPurchase, error) {
	p := o.ReplacementPurchase(c.ID())
	if err := replacementBought(o, c.ID(), p); err != nil || !p.Requested {
		return p, err
	}
	reg, ok := r.suppliers.Get(p.Supplier)
	if !ok {
		return p, fmt.Errorf("%w: supplier %s, asked for claim %s's replacement, is not configured: whether it sold it is unknown", ErrUnavailable, p.Supplier, c.ID())
	}
	so, err := reg.Supplier.FindOrder(ctx, c.ID())
	switch {
	case errors.Is(err, domain.ErrNotFound), err == nil && so.Status.Final():
		// Never placed, or cancelled or refunded: nothing was spent.
		return p, nil
	case err != nil:
		return p, fmt.Errorf("%w: find claim %s's replacement purchase at %s: %v", ErrUnavailable, c.ID(), p.Supplier, err)
	}
	if err := r.bought(ctx, o.ID(), c.ItemID(), c.ID(), p.Supplier, so.ID, actor); err != nil {
		return p, err
	}
	return p, fmt.Errorf("%w: %s order %s was bought to replace claim %s's keys: approve the claim from the supplier", domain.ErrConflict, p.Supplier, so.ID, c.ID())
}

// bought records, with its audit record, that supplier order supplierOrderID
// bought claimID's replacement.
func (r replacements) bought(ctx context.Context, orderID, itemID, claimID, supplier, supplierOrderID, actor string) error {
	err := recordOnOrder(ctx, r.tx, r.orders, r.audit, orderID, func(o *domain.Order) error {
		return o.RecordReplacementBought(claimID, itemID, supplier, supplierOrderID, r.clock.Now())
	}, actor, AuditReplacementBought, claimID, map[string]string{
		"order_id": orderID, "item_id": itemID, "supplier": supplier, "supplier_order_id": supplierOrderID,
	})
	if err != nil {
		return fmt.Errorf("record claim %s's replacement bought as %s order %s: %w", claimID, supplier, supplierOrderID, err)
	}
	return nil
}

// buy buys n keys of the item's product from the supplier the item was
// bought from, under the price guard, as a purchase whose external id is
// the claim's: asked again, it finds that purchase instead of buying again.
// The purchase is recorded on o once the price guard lets it be placed,
// before the supplier is asked to place it, and once its supplier order is
// known.
func (h ApproveClaim) buy(ctx context.Context, o *domain.Order, it *domain.OrderItem, claimID string, n int, actor string) (purchasedReplacement, error) {
	reg, ok := h.suppliers.Get(it.Supplier())
	if !ok || it.Source().SupplierProductID == "" {
		return purchasedReplacement{}, fmt.Errorf("%w: item %s names no supplier product to buy a replacement of (supplier %q): approve from stock",
			domain.ErrInvalidClaim, it.ID(), it.Supplier())
	}
	sup := reg.Supplier
	earlier := o.ReplacementPurchase(claimID)
	so, err := sup.FindOrder(ctx, claimID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		request := func() error {
			if earlier.Requested {
				return nil
			}
			err := recordOnOrder(ctx, h.tx, h.orders, h.audit, o.ID(), func(o *domain.Order) error {
				return o.RecordReplacementRequested(claimID, it.ID(), sup.Name(), h.clock.Now())
			}, actor, AuditReplacementRequested, claimID, map[string]string{"order_id": o.ID(), "item_id": it.ID(), "supplier": sup.Name()})
			if err != nil {
				return fmt.Errorf("record the purchase of claim %s's replacement: %w", claimID, err)
			}
			return nil
		}
		if so, err = h.placeReplacement(ctx, sup, it, claimID, n, request); err != nil {
			return purchasedReplacement{}, err
		}
	case err != nil:
		return purchasedReplacement{}, fmt.Errorf("%w: find the replacement's purchase at %s: %v", ErrUnavailable, sup.Name(), err)
	}
	if earlier.SupplierOrderID != so.ID {
		if err := h.repl.bought(ctx, o.ID(), it.ID(), claimID, sup.Name(), so.ID, actor); err != nil {
			return purchasedReplacement{}, err
		}
	}
	keys, err := sup.Keys(ctx, so.ID)
	switch {
	case errors.Is(err, ports.ErrKeysPending):
		return purchasedReplacement{}, fmt.Errorf("%w: %s order %s for the replacement has no keys yet; approve again shortly (the purchase is found again, not repeated)",
			ErrUnavailable, sup.Name(), so.ID)
	case err != nil:
		return purchasedReplacement{}, fmt.Errorf("%w: keys of %s order %s: %v", ErrUnavailable, sup.Name(), so.ID, err)
	case len(keys) != n:
		purchasedReplacement{keys: keys}.clear()
		return purchasedReplacement{}, fmt.Errorf("%w: %s order %s delivered %d keys for %d replaced", domain.ErrConflict, sup.Name(), so.ID, len(keys), n)
	}
	return purchasedReplacement{supplier: sup.Name(), orderID: so.ID, keys: keys}, nil
}

// placeReplacement buys within the price guard: the most paid for a key is
// what the customer paid for one less the minimum margin. request records
// the purchase once the guard lets it be placed, before the supplier is
// asked: a purchase refused by the guard was never attempted.
func (h ApproveClaim) placeReplacement(ctx context.Context, sup ports.Supplier, it *domain.OrderItem, claimID string, n int, request func() error) (ports.SupplierOrder, error) {
	affordable, err := h.guard.affordable(it)
	if err != nil {
		return ports.SupplierOrder{}, err
	}
	p, err := sup.Product(ctx, it.Source().SupplierProductID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return ports.SupplierOrder{}, fmt.Errorf("%w: %s no longer sells %s: approve from stock", domain.ErrConflict, sup.Name(), it.SKU())
	case err != nil:
		return ports.SupplierOrder{}, fmt.Errorf("%w: current price of %s at %s: %v", ErrUnavailable, it.SKU(), sup.Name(), err)
	case p.Cost.Currency() == affordable.Currency() && p.Cost.Amount().GreaterThan(affordable.Amount()):
		return ports.SupplierOrder{}, fmt.Errorf("%w: %s asks %s %s for %s, more than the affordable %s %s: approve from stock, or later",
			domain.ErrConflict, sup.Name(), p.Cost, p.Cost.Currency(), it.SKU(), affordable, affordable.Currency())
	}
	if err := request(); err != nil {
		return ports.SupplierOrder{}, err
	}
	so, err := sup.PlaceOrder(ctx, ports.PurchaseRequest{ExternalID: claimID, ProductID: it.Source().SupplierProductID, Qty: n, Price: affordable})
	switch {
	case errors.Is(err, ports.ErrSupplierPermanent):
		return ports.SupplierOrder{}, err
	case err != nil:
		return ports.SupplierOrder{}, fmt.Errorf("%w: buy the replacement at %s: %v", ErrUnavailable, sup.Name(), err)
	}
	return so, nil
}
