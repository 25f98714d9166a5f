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

// Audit actions of a refund.
const (
	AuditOrderRefunded = "order.refunded"
	AuditKeyOutcome    = "order.key_outcome"
	// A supplier is about to be asked to take keys back, and its answer:
	// each recorded in a unit of work of its own, around the call.
	AuditReturnRequested = "order.return_requested"
	AuditReturnAnswered  = "order.return_answered"
)

// ReturnWindow is how long after delivery a supplier takes unrevealed keys
// back (Kinguin: 24 h).
const ReturnWindow = 24 * time.Hour

// Bounds of a refund's free text.
const (
	MaxRefundReason    = 500
	MaxRefundReference = 200
)

// RefundCommand is a refund of a paid order: the money went back outside
// keyward, Reference records how.
type RefundCommand struct {
	OrderID   string
	Reason    string
	Reference string
	Actor     string
}

// RefundOrder ends a paid order as refunded and gives back what the
// customer never saw: own-stock keys never revealed go back into the
// stock (re-sealed under the product's stock key in the unit of work that
// destroys the order's data key), supplier keys never revealed are
// offered back to the supplier that sold them where it takes them back
// (once per supplier order, within ReturnWindow of their delivery), and
// every other key is quarantined: shredded with the order. Every link is
// revoked. Each key's outcome is on the order's timeline and in the audit
// trail.
//
// A supplier that takes keys back does so once, and does not undo it when
// the refund fails afterwards. So the request is recorded (with its audit
// record) before the supplier is asked, and the answer as soon as it
// comes; a refund tried again uses a recorded answer instead of asking
// again, and asks only where the answer was lost, before it classifies the
// keys, reading "no keys to return" (ports.ErrNothingToReturn) as the
// earlier request carried out. Where the supplier took keys back, the keys
// not seen before the request are returned, whatever was revealed since.
type RefundOrder struct {
	tx          ports.Transactor
	orders      ports.OrderRepository
	links       ports.DeliveryLinkRepository
	revelations ports.RevelationLog
	stock       ports.StockRepository
	suppliers   ports.Suppliers
	locks       ports.Locks
	keys        envelope
	audit       ports.AuditLog
	clock       ports.Clock
	log         *slog.Logger
}

// NewRefundOrder wires RefundOrder; it panics when a dependency is nil.
func NewRefundOrder(tx ports.Transactor, orders ports.OrderRepository, links ports.DeliveryLinkRepository, revelations ports.RevelationLog, stock ports.StockRepository,
	suppliers ports.Suppliers, locks ports.Locks, dataKeys ports.DataKeyRepository, vault ports.KeyVault, blobs ports.BlobStore, audit ports.AuditLog, clock ports.Clock, log *slog.Logger) RefundOrder {
	require("RefundOrder", "tx", tx, "orders", orders, "links", links, "revelations", revelations, "stock", stock, "locks", locks, "dataKeys", dataKeys, "vault", vault, "blobs", blobs,
		"audit", audit, "clock", clock, "log", log)
	return RefundOrder{tx: tx, orders: orders, links: links, revelations: revelations, stock: stock, suppliers: suppliers, locks: locks,
		keys: envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}, audit: audit, clock: clock, log: log}
}

// restock is the keys of one item going back into the stock.
type restock struct {
	sku, itemID string
	keys        []domain.StockKey
}

// Handle returns domain.ErrNotFound for an unknown order, domain.ErrConflict
// for an order refunded already (nothing changes), domain.ErrInvalidTransition
// for an order that is not paid or already revoked, domain.ErrInvalidOrder for
// free text out of bounds.
func (h RefundOrder) Handle(ctx context.Context, cmd RefundCommand) (*domain.Order, error) {
	cmd.Reason, cmd.Reference = strings.TrimSpace(cmd.Reason), strings.TrimSpace(cmd.Reference)
	if cmd.Reason == "" || len(cmd.Reason) > MaxRefundReason || len(cmd.Reference) > MaxRefundReference {
		return nil, fmt.Errorf("%w: refund needs a reason (1..%d bytes) and reference (up to %d bytes)", domain.ErrInvalidOrder, MaxRefundReason, MaxRefundReference)
	}
	// One refund of an order at a time: the supplier is asked once, by the
	// refund that then records its answer.
	release, ok, err := h.locks.TryLock(ctx, "refund-order/"+cmd.OrderID)
	if err != nil {
		return nil, fmt.Errorf("%w: lock: %v", ErrUnavailable, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w: order %s is being refunded right now", domain.ErrConflict, cmd.OrderID)
	}
	defer release()
	o, err := h.orders.Get(ctx, cmd.OrderID)
	if err != nil {
		return nil, err
	}
	if o.Status() == domain.StatusRefunded {
		return nil, fmt.Errorf("%w: order %s is refunded already", domain.ErrConflict, o.ID())
	}
	if err := o.RefundCanStart(); err != nil {
		return nil, err
	}
	seen, err := h.revelations.ListByOrder(ctx, o.ID())
	if err != nil {
		return nil, fmt.Errorf("revelations of %s: %w", o.ID(), err)
	}
	outcomes, restocks, returned, err := h.plan(ctx, o, cmd.Actor)
	if err != nil {
		return nil, err
	}
	var links int
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		// The links are revoked first: a reveal that commits from now on
		// is refused, and one that committed since the plan is seen below,
		// so a key the customer saw is never put back into the stock.
		var err error
		if links, err = revokeLinks(ctx, h.links, cmd.OrderID, "", h.clock.Now()); err != nil {
			return err
		}
		now, err := h.revelations.ListByOrder(ctx, cmd.OrderID)
		if err != nil {
			return fmt.Errorf("revelations of %s: %w", cmd.OrderID, err)
		}
		if len(now) != len(seen) {
			return fmt.Errorf("%w: order %s was revealed while the refund was planned; refund it again", domain.ErrConflict, cmd.OrderID)
		}
		o, err = h.orders.Update(ctx, cmd.OrderID, func(o *domain.Order) error {
			if o.Status() == domain.StatusRefunded {
				return fmt.Errorf("%w: order %s is refunded already", domain.ErrConflict, o.ID())
			}
			return o.Refund(cmd.Reason, cmd.Reference, outcomes, returned, h.clock.Now())
		})
		if err != nil {
			return err
		}
		// The keys go back into the stock before the data key that could
		// open them here is destroyed, in the same unit of work.
		for _, r := range restocks {
			if err := h.stock.Restock(ctx, r.sku, r.itemID, r.keys, h.clock.Now()); err != nil {
				return fmt.Errorf("restock %s: %w", r.sku, err)
			}
		}
		if err := h.keys.dataKeys.Delete(ctx, cmd.OrderID); err != nil {
			return fmt.Errorf("destroy data key: %w", err)
		}
		for _, k := range outcomes {
			if _, err := h.audit.Append(ctx, cmd.Actor, AuditKeyOutcome, cmd.OrderID, map[string]string{
				"item_id": k.ItemID, "slot": strconv.Itoa(k.Slot), "outcome": k.Outcome.String(), "detail": k.Detail,
			}); err != nil {
				return fmt.Errorf("audit key outcome: %w", err)
			}
		}
		_, err = h.audit.Append(ctx, cmd.Actor, AuditOrderRefunded, cmd.OrderID, map[string]string{
			"reason": cmd.Reason, "reference": cmd.Reference, "keys": strconv.Itoa(len(outcomes)), "links_revoked": strconv.Itoa(links),
			"returned_supplier_orders": strings.Join(returned, ","),
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	// The refund has committed (its data key is gone, so no copy of the
	// ciphertext opens): a ciphertext the blob store would not delete now
	// is left to the sweep, which purges refunded orders as revoked ones,
	// rather than telling the caller a done refund failed.
	if _, err := h.keys.shred(ctx, o); err != nil {
		h.log.WarnContext(ctx, "refund: ciphertext left for the sweep", "order_id", o.ID(), "err", err)
	}
	h.log.InfoContext(ctx, "order refunded", "order_id", o.ID(), "keys", len(outcomes), "links_revoked", links)
	return o, nil
}

// plan decides each key's outcome: it re-seals the own-stock keys never
// revealed under their product's stock key and asks suppliers to take
// their unrevealed keys back. Nothing is stored but the return requests
// and their answers (see giveBack).
func (h RefundOrder) plan(ctx context.Context, o *domain.Order, actor string) ([]domain.RefundedKey, []restock, []string, error) {
	revs, err := h.revelations.ListByOrder(ctx, o.ID())
	if err != nil {
		return nil, nil, nil, fmt.Errorf("revelations of %s: %w", o.ID(), err)
	}
	reveals := map[string][]time.Time{} // by item
	for _, r := range revs {
		reveals[r.ItemID()] = append(reveals[r.ItemID()], r.At())
	}
	sealedAt := map[string]time.Time{}   // by item: its own keys
	replacedAt := map[string]time.Time{} // by claim: the replacements it sealed
	for _, e := range o.Timeline() {
		switch e.Kind() {
		case domain.EventKindItemSealed:
			sealedAt[e.Metadata()["item_id"]] = e.At()
		case domain.EventKindKeyReplaced:
			replacedAt[e.Metadata()["claim_id"]] = e.At()
		}
	}
	// A key was seen when its item was revealed once the key was sealed:
	// a key sealed at fulfilment by any reveal, a replacement by a reveal
	// after its approval (the reveal that found the key bad came before).
	// Given a time, only the reveals before it count.
	seen := func(it *domain.OrderItem, k domain.SealedKey, before time.Time) bool {
		for _, r := range reveals[it.ID()] {
			if !before.IsZero() && !r.Before(before) {
				continue
			}
			if k.ClaimID != "" && !k.Bad {
				if at, ok := replacedAt[k.ClaimID]; !ok || r.After(at) {
					return true
				}
				continue
			}
			if !r.Before(sealedAt[it.ID()]) {
				return true
			}
		}
		return false
	}
	// offered counts the keys a refund offers back to supplier order ref
	// when the supplier took them at at (zero: now): the supplier's own
	// keys of ref's items, not bad, not seen before at.
	offered := func(ref string, at time.Time) int {
		n := 0
		for _, it := range o.Items() {
			if it.SupplierOrderID() != ref || ref == ownStockRef {
				continue
			}
			for _, k := range it.Keys() {
				if !k.Bad && k.ClaimID == "" && !seen(it, k, at) {
					n++
				}
			}
		}
		return n
	}
	var (
		out      []domain.RefundedKey
		restocks []restock
		returned []string
		asked    = map[string]ports.KeyReturn{}
		refused  = map[string]string{}
		left     = map[string]int{} // by supplier order: keys taken back not yet given an outcome
		orderKey *orderKey
	)
	defer func() {
		if orderKey != nil {
			orderKey.Close()
		}
	}()
	takenBack, err := h.lostAnswers(ctx, o, offered, asked, refused, actor)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, it := range o.Items() {
		keys := it.Keys()
		if len(keys) == 0 {
			continue
		}
		own := it.SupplierOrderID() == ownStockRef
		var unseen []domain.SealedKey
		for _, k := range keys {
			before := time.Time{}
			if k.ClaimID == "" && !own {
				before = takenBack[it.SupplierOrderID()]
			}
			switch {
			case k.Bad:
				out = append(out, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyQuarantined, Detail: "bad key"})
			case seen(it, k, before):
				out = append(out, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyQuarantined, Detail: "revealed"})
			default:
				unseen = append(unseen, k)
			}
		}
		if len(unseen) == 0 {
			continue
		}
		// Keys of the stock: an own-stock item's, and replacements taken
		// from the stock (assigned there to their claim). The supplier's
		// own keys are offered back to it.
		byAssignee := map[string][]domain.SealedKey{}
		var assignees []string
		var bought []domain.SealedKey
		for _, k := range unseen {
			a := ""
			switch {
			case k.ClaimID != "":
				a = k.ClaimID
			case own:
				a = it.ID()
			default:
				bought = append(bought, k)
				continue
			}
			if _, ok := byAssignee[a]; !ok {
				assignees = append(assignees, a)
			}
			byAssignee[a] = append(byAssignee[a], k)
		}
		for _, a := range assignees {
			if orderKey == nil {
				if orderKey, err = h.keys.open(ctx, o.ID()); err != nil {
					return nil, nil, nil, fmt.Errorf("data key of %s: %w", o.ID(), err)
				}
			}
			r, ks, missing, err := h.restock(ctx, orderKey, it, a, byAssignee[a])
			if err != nil {
				return nil, nil, nil, err
			}
			out = append(out, ks...)
			if len(r.keys) > 0 {
				restocks = append(restocks, r)
			}
			for _, k := range missing {
				if own || k.ClaimID == "" {
					out = append(out, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyQuarantined, Detail: "no stock key assigned to it"})
				} else {
					// Bought from the supplier for the claim, under a
					// purchase of its own that the item does not record.
					out = append(out, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyNotReturnable, Detail: "replacement bought for claim " + k.ClaimID})
				}
			}
		}
		if len(bought) == 0 {
			continue
		}
		ks, ret, err := h.giveBack(ctx, o, it, bought, sealedAt[it.ID()], returnState{asked: asked, refused: refused, left: left}, actor)
		if err != nil {
			return nil, nil, nil, err
		}
		out = append(out, ks...)
		if ret != "" && !slices.Contains(returned, ret) {
			returned = append(returned, ret)
		}
	}
	return out, restocks, returned, nil
}

// lostAnswers settles, before any key is classified, the returns an
// earlier refund requested whose answer was lost (the supplier may have
// taken the keys back, then the refund failed before it recorded so): the
// supplier is asked once more and its answer recorded, ErrNothingToReturn
// read as the earlier request carried out, the keys offered then (offered
// counts them) returned. It returns, by supplier order, when the supplier
// took keys back (the request's time), recorded now or by an earlier
// refund: the keys not seen before then are gone, whatever was revealed
// since.
func (h RefundOrder) lostAnswers(ctx context.Context, o *domain.Order, offered func(ref string, at time.Time) int,
	asked map[string]ports.KeyReturn, refused map[string]string, actor string) (map[string]time.Time, error) {
	takenBack := map[string]time.Time{}
	for _, it := range o.Items() {
		ref := it.SupplierOrderID()
		if ref == "" || ref == ownStockRef || !it.ReleaseDate().IsZero() { // a pre-order is never offered back
			continue
		}
		earlier := o.ReturnRequest(ref)
		_, done := asked[ref]
		switch {
		case earlier.Answered && earlier.Returned > 0:
			takenBack[ref] = earlier.RequestedAt
		case !earlier.Requested || earlier.Answered || done || refused[ref] != "":
		default:
			returner, ok := h.returner(it)
			if !ok {
				continue
			}
			if err := h.askReturn(ctx, o.ID(), actor, it, returner, offered(ref, earlier.RequestedAt), true, asked, refused); err != nil {
				return nil, err
			}
			if asked[ref].Returned > 0 {
				takenBack[ref] = earlier.RequestedAt
			}
		}
	}
	return takenBack, nil
}

// restock re-seals the unseen own-stock keys of it under its product's
// stock key, each under the id of the stock key it was sold as (found by
// its canonical hash, which it keeps). assignee is what the stock assigned
// the keys to: the item, or the claim a replacement was taken for. It
// returns as missing the keys the stock does not hold as assigned to it.
func (h RefundOrder) restock(ctx context.Context, orderKey *orderKey, it *domain.OrderItem, assignee string, keys []domain.SealedKey) (restock, []domain.RefundedKey, []domain.SealedKey, error) {
	var missing []domain.SealedKey
	stock := stockKeys{h.keys}
	stockKey, err := stock.openSKU(ctx, it.SKU())
	if err != nil {
		return restock{}, nil, nil, fmt.Errorf("stock data key of %s: %w", it.SKU(), err)
	}
	defer stockKey.Close()
	hasher, err := stock.hasher(ctx)
	if err != nil {
		return restock{}, nil, nil, fmt.Errorf("stock hash key: %w", err)
	}
	defer hasher.Close()
	r := restock{sku: it.SKU(), itemID: assignee}
	var out []domain.RefundedKey
	taken := map[domain.StockKeyID]bool{}
	for _, k := range keys {
		pt, err := h.keys.load(ctx, orderKey, it.ID(), k.Slot, k.BlobRef)
		if err != nil {
			return restock{}, nil, nil, fmt.Errorf("open key %s/%d: %w", it.ID(), k.Slot, err)
		}
		form, err := dedupeForm(k.ContentType, pt)
		if err != nil {
			clear(pt)
			out = append(out, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyQuarantined, Detail: "not a key the stock takes"})
			continue
		}
		hash := canonicalHash(hasher, k.ContentType, form)
		holders, err := h.stock.HashHolders(ctx, [][]byte{hash})
		if err != nil {
			clear(pt)
			clear(form) // a text key's canonical copy
			return restock{}, nil, nil, fmt.Errorf("stock key of %s/%d: %w", it.ID(), k.Slot, err)
		}
		var id domain.StockKeyID
		for _, s := range holders {
			if s.Status == domain.StockAssigned && s.ItemID == assignee && s.SKU == it.SKU() && !taken[s.ID] {
				id = s.ID
				break
			}
		}
		if id == "" {
			clear(pt)
			clear(form) // a text key's canonical copy
			missing = append(missing, k)
			continue
		}
		taken[id] = true
		r.keys = append(r.keys, domain.StockKey{ID: id, SKU: it.SKU(), Sealed: sealStock(stockKey, id, pt), ContentType: k.ContentType})
		clear(pt)
		clear(form)
		out = append(out, domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyRestocked, Detail: "stock key " + string(id)})
	}
	return r, out, missing, nil
}

// returnState is what a refund learnt of its supplier returns: the answers
// (asked), the refusals (refused), and by supplier order how many of the
// keys taken back have no outcome yet (left).
type returnState struct {
	asked   map[string]ports.KeyReturn
	refused map[string]string
	left    map[string]int
}

// returner returns the returns of the supplier it was bought from, if it
// takes keys back.
func (h RefundOrder) returner(it *domain.OrderItem) (ports.SupplierReturns, bool) {
	reg, ok := h.suppliers.Get(it.Supplier())
	if !ok {
		return nil, false
	}
	return reg.Returner()
}

// giveBack asks the supplier the item was bought from to take its unseen
// keys back, once per supplier order (rs remembers the answers of this
// refund, o's timeline those of an earlier one that failed), and returns
// each key's outcome and the supplier order id when the supplier took keys
// back. The request is recorded before the supplier is asked and its
// answer right after; it returns an error when either cannot be recorded.
func (h RefundOrder) giveBack(ctx context.Context, o *domain.Order, it *domain.OrderItem, keys []domain.SealedKey, sealedAt time.Time,
	rs returnState, actor string) ([]domain.RefundedKey, string, error) {
	all := func(outcome domain.KeyOutcome, detail string) []domain.RefundedKey {
		out := make([]domain.RefundedKey, len(keys))
		for i, k := range keys {
			out[i] = domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: outcome, Detail: detail}
		}
		return out
	}
	returner, ok := h.returner(it)
	ref := it.SupplierOrderID()
	// An earlier refund that asked the supplier decides, even once the
	// return window has passed since.
	earlier := o.ReturnRequest(ref)
	switch {
	case !ok:
		return all(domain.KeyNotReturnable, "supplier "+it.Supplier()+" takes no keys back"), "", nil
	case ref == "":
		return all(domain.KeyNotReturnable, "no supplier order"), "", nil
	case it.Source().Kind != domain.SourceSupplier && it.BoughtFrom() == "":
		return all(domain.KeyNotReturnable, "not bought from a supplier"), "", nil
	case !it.ReleaseDate().IsZero():
		// Kinguin takes no pre-order back: asking would only be refused.
		return all(domain.KeyNotReturnable, "a pre-order: the supplier takes none back"), "", nil
	case !earlier.Requested && !sealedAt.IsZero() && h.clock.Now().Sub(sealedAt) > ReturnWindow:
		return all(domain.KeyNotReturnable, "delivered more than 24 h ago"), "", nil
	}
	if why, done := rs.refused[ref]; done {
		return all(domain.KeyReturnRefused, why), "", nil
	}
	r, done := rs.asked[ref]
	switch {
	case done:
	case earlier.Answered && earlier.Refusal != "":
		rs.refused[ref] = earlier.Refusal
		return all(domain.KeyReturnRefused, earlier.Refusal), "", nil
	case earlier.Answered:
		r = ports.KeyReturn{Returned: earlier.Returned, Kept: earlier.Kept}
		rs.asked[ref] = r
	default:
		// Not asked yet: an earlier request whose answer was lost is
		// asked again by lostAnswers, before the keys are classified.
		if !earlier.Requested {
			if err := h.recordReturn(ctx, o.ID(), actor, AuditReturnRequested, map[string]string{"item_id": it.ID(), "supplier": it.Supplier(), "supplier_order_id": ref},
				func(o *domain.Order) error { return o.RecordReturnRequested(it.ID(), h.clock.Now()) }); err != nil {
				return nil, "", fmt.Errorf("record the return request of %s order %s: %w", it.Supplier(), ref, err)
			}
		}
		if err := h.askReturn(ctx, o.ID(), actor, it, returner, len(keys), earlier.Requested, rs.asked, rs.refused); err != nil {
			return nil, "", err
		}
		if why, refused := rs.refused[ref]; refused {
			return all(domain.KeyReturnRefused, why), "", nil
		}
		r = rs.asked[ref]
	}
	if _, ok := rs.left[ref]; !ok {
		rs.left[ref] = r.Returned
	}
	out := make([]domain.RefundedKey, len(keys))
	took := false
	for i, k := range keys {
		if rs.left[ref] > 0 {
			rs.left[ref]--
			took = true
			out[i] = domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyReturned, Detail: it.Supplier() + " order " + ref}
		} else {
			out[i] = domain.RefundedKey{ItemID: it.ID(), Slot: k.Slot, Outcome: domain.KeyReturnRefused, Detail: "the supplier kept it"}
		}
	}
	if !took {
		return out, "", nil
	}
	return out, ref, nil
}

// askReturn asks the supplier to take back the keys of the item's supplier
// order, whose request is recorded, and records its answer in asked, or
// its refusal in refused (no answer is a refusal not recorded on the
// order, so a refund tried again asks once more). again: the request was
// recorded by an earlier refund, whose answer was lost; the supplier's
// ErrNothingToReturn then means that request took back the offered keys
// of the order. It returns an error when the answer cannot be recorded.
func (h RefundOrder) askReturn(ctx context.Context, orderID, actor string, it *domain.OrderItem, returner ports.SupplierReturns, offered int, again bool,
	asked map[string]ports.KeyReturn, refused map[string]string) error {
	ref := it.SupplierOrderID()
	r, err := returner.ReturnKeys(ctx, ref)
	switch {
	case err != nil && again && errors.Is(err, ports.ErrNothingToReturn):
		// The earlier request took the keys back; its answer was lost.
		r, err = ports.KeyReturn{Returned: offered}, nil
	case err != nil:
		why := boundedDetail(err.Error())
		if !errors.Is(err, ports.ErrReturnRefused) {
			// No answer: the supplier may have taken them back. Nothing
			// is recorded, so a refund tried again asks once more.
			why = "no answer from the supplier, check its order: " + why
		} else if err := h.recordAnswer(ctx, orderID, actor, ref, ports.KeyReturn{}, why); err != nil {
			return err
		}
		h.log.WarnContext(ctx, "supplier did not take keys back", "supplier", it.Supplier(), "supplier_order_id", ref, "err", err)
		refused[ref] = why
		return nil
	}
	if err := h.recordAnswer(ctx, orderID, actor, ref, r, ""); err != nil {
		return err
	}
	asked[ref] = r
	return nil
}

// recordAnswer records the supplier's answer to the return of ref's keys:
// r, or refusal when it refused.
func (h RefundOrder) recordAnswer(ctx context.Context, orderID, actor, ref string, r ports.KeyReturn, refusal string) error {
	err := h.recordReturn(ctx, orderID, actor, AuditReturnAnswered, map[string]string{
		"supplier_order_id": ref, "returned": strconv.Itoa(r.Returned), "kept": strconv.Itoa(r.Kept), "refusal": refusal,
	}, func(o *domain.Order) error {
		return o.RecordReturnAnswer(ref, r.Returned, r.Kept, refusal, h.clock.Now())
	})
	if err != nil {
		return fmt.Errorf("record the answer to the return of supplier order %s: %w", ref, err)
	}
	return nil
}

// recordReturn changes the order with fn and appends its audit record.
func (h RefundOrder) recordReturn(ctx context.Context, orderID, actor, action string, details map[string]string, fn func(*domain.Order) error) error {
	return recordOnOrder(ctx, h.tx, h.orders, h.audit, orderID, fn, actor, action, orderID, details)
}

// recordOnOrder changes the order with fn and appends the audit record of
// the change, in a unit of work of their own: what an external call is
// about to do, or did, kept before the unit of work that acts on it.
func recordOnOrder(ctx context.Context, tx ports.Transactor, orders ports.OrderRepository, audit ports.AuditLog, orderID string, fn func(*domain.Order) error,
	actor, action, subject string, details map[string]string) error {
	return tx.Atomically(ctx, func(ctx context.Context) error {
		if _, err := orders.Update(ctx, orderID, fn); err != nil {
			return err
		}
		_, err := audit.Append(ctx, actor, action, subject, details)
		return err
	})
}

// boundedDetail keeps an outcome's detail short.
func boundedDetail(s string) string {
	if len(s) > 300 {
		return strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}
