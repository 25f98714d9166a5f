package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// HandleSupplierEvent takes the suppliers' webhooks, each authenticated
// and read by its own supplier's verifier: a purchase that changed resumes
// the fulfilment of the item bought from that supplier; products that
// changed are refreshed in the catalog. An event is a hint: the purchase
// and the products are read again from the supplier before anything is
// stored. Unknown orders or products, events it does not handle and stale
// events (older than one already seen for the same order or product) are
// acknowledged and ignored.
type HandleSupplierEvent struct {
	suppliers ports.Suppliers
	marks     ports.SupplierEventMarks
	orders    ports.OrderRepository
	fulfil    FulfilOrder
	catalog   SyncCatalog
	log       *slog.Logger
}

// NewHandleSupplierEvent wires HandleSupplierEvent; it panics when a
// dependency is nil or there is no supplier.
func NewHandleSupplierEvent(suppliers ports.Suppliers, marks ports.SupplierEventMarks, orders ports.OrderRepository, fulfil FulfilOrder, catalog SyncCatalog, log *slog.Logger) HandleSupplierEvent {
	requireSuppliers("HandleSupplierEvent", suppliers)
	require("HandleSupplierEvent", "supplierMarks", marks, "orders", orders, "log", log)
	return HandleSupplierEvent{suppliers: suppliers, marks: marks, orders: orders, fulfil: fulfil, catalog: catalog, log: log}
}

// SupplierEventResult says what an event did.
type SupplierEventResult struct {
	// Outcome is "resumed", "refreshed" or "ignored".
	Outcome string
	// Reason says why an event was ignored.
	Reason  string
	OrderID string // our order, for purchase events that found one
}

// eventResumeTimeout bounds the fulfilment a webhook resumes; what is left
// over is finished by the reconciler.
const eventResumeTimeout = 30 * time.Second

// Handle authenticates and applies one webhook of the named supplier. It
// returns domain.ErrNotFound for a supplier that is not configured,
// ports.ErrSignatureInvalid for a wrong credential (or a supplier that
// sends no webhooks) and ports.ErrMalformedNotice for an unreadable body,
// changing nothing; an error wrapping ErrUnavailable when storage, the
// supplier or the resumed fulfilment fails (the supplier retries the
// webhook; a redelivery is not stale).
func (h HandleSupplierEvent) Handle(ctx context.Context, supplier string, w ports.SupplierWebhook) (SupplierEventResult, error) {
	r, ok := h.suppliers.Get(supplier)
	if !ok {
		return SupplierEventResult{}, fmt.Errorf("%w: no supplier %q is configured", domain.ErrNotFound, supplier)
	}
	if r.Hooks == nil {
		return SupplierEventResult{}, fmt.Errorf("%w: supplier %s sends no webhooks", ports.ErrSignatureInvalid, supplier)
	}
	ev, err := r.Hooks.Verify(w)
	if err != nil {
		return SupplierEventResult{}, err
	}
	switch ev.Kind {
	case ports.SupplierEventPurchase:
		return h.orderChanged(ctx, r.Supplier, ev)
	case ports.SupplierEventProduct:
		return h.productsChanged(ctx, supplier, ev)
	}
	return ignored("event %q is not handled", ev.Name), nil
}

func ignored(format string, args ...any) SupplierEventResult {
	return SupplierEventResult{Outcome: "ignored", Reason: fmt.Sprintf(format, args...)}
}

// fresh advances the entity's mark; false for a stale event. An event
// that does not say when the entity changed is never stale.
func (h HandleSupplierEvent) fresh(ctx context.Context, entity string, at time.Time) (bool, error) {
	if at.IsZero() {
		return true, nil
	}
	ok, err := h.marks.Advance(ctx, entity, at)
	if err != nil {
		return false, fmt.Errorf("%w: record supplier event of %s: %v", ErrUnavailable, entity, err)
	}
	return ok, nil
}

// entity names a supplier's order or product for the marks; Kinguin's
// keep the names they had when it was the only supplier.
func entity(supplier, kind, id string) string {
	if supplier == "kinguin" {
		return kind + ":" + id
	}
	return supplier + ":" + kind + ":" + id
}

func (h HandleSupplierEvent) orderChanged(ctx context.Context, sup ports.Supplier, ev ports.SupplierEvent) (SupplierEventResult, error) {
	name := sup.Name()
	ent := entity(name, "order", ev.SupplierOrderID)
	if ev.SupplierOrderID == "" {
		ent = entity(name, "order-external", ev.ExternalID)
	}
	if ok, err := h.fresh(ctx, ent, ev.UpdatedAt); err != nil || !ok {
		return ignored("stale: %s changed after %s", ent, ev.UpdatedAt.Format(time.RFC3339Nano)), err
	}
	if ev.ExternalID == "" && ev.SupplierOrderID != "" {
		// The event names the supplier's order only: the supplier says
		// which item it was bought for.
		so, err := sup.Order(ctx, ev.SupplierOrderID)
		switch {
		case errors.Is(err, domain.ErrNotFound):
			return ignored("%s does not know order %s", name, ev.SupplierOrderID), nil
		case err != nil:
			return SupplierEventResult{}, fmt.Errorf("%w: read %s order %s: %v", ErrUnavailable, name, ev.SupplierOrderID, err)
		}
		ev.ExternalID = so.ExternalID
	}
	if ev.ExternalID == "" {
		return ignored("order %s carries no external id", ev.SupplierOrderID), nil
	}
	found, err := h.orders.List(ctx, ports.OrderQuery{ItemID: ev.ExternalID, Limit: 1})
	if err != nil {
		return SupplierEventResult{}, fmt.Errorf("%w: find the order of item %s: %v", ErrUnavailable, ev.ExternalID, err)
	}
	if len(found) == 0 {
		return ignored("no order holds item %s", ev.ExternalID), nil
	}
	o := found[0]
	res := SupplierEventResult{OrderID: o.ID()}
	it, err := o.Item(ev.ExternalID)
	if err != nil {
		return SupplierEventResult{}, fmt.Errorf("order %s: %w", o.ID(), err)
	}
	bought, _ := supplierNamed(h.suppliers, it.Supplier())
	switch {
	case ev.Status == ports.PurchasePending:
		res.Outcome, res.Reason = "ignored", "the supplier is still processing"
		return res, nil
	case o.Status() != domain.StatusFulfilling:
		res.Outcome, res.Reason = "ignored", "order is "+o.Status().String()
		return res, nil
	case it.Status() == domain.ItemSealed:
		res.Outcome, res.Reason = "ignored", "item already sealed"
		return res, nil
	case bought == nil || bought.Name() != name:
		res.Outcome, res.Reason = "ignored", fmt.Sprintf("item is bought from %q, not %s", it.Supplier(), name)
		return res, nil
	case it.SupplierOrderID() != "" && ev.SupplierOrderID != "" && it.SupplierOrderID() != ev.SupplierOrderID:
		res.Outcome, res.Reason = "ignored", "item was bought under supplier order "+it.SupplierOrderID()
		return res, nil
	}
	rctx, cancel := context.WithTimeout(ctx, eventResumeTimeout)
	defer cancel()
	if err := h.fulfil.Handle(rctx, o.ID()); err != nil {
		return SupplierEventResult{}, fmt.Errorf("%w: resume order %s: %w", ErrUnavailable, o.ID(), err)
	}
	h.log.InfoContext(ctx, "supplier event resumed fulfilment", "order_id", o.ID(), "item_id", it.ID(), "supplier", name,
		"event", ev.Name, "purchase_status", string(ev.Status))
	res.Outcome = "resumed"
	return res, nil
}

func (h HandleSupplierEvent) productsChanged(ctx context.Context, supplier string, ev ports.SupplierEvent) (SupplierEventResult, error) {
	refreshed := 0
	for _, id := range ev.ProductIDs {
		ent := entity(supplier, "product", id)
		ok, err := h.fresh(ctx, ent, ev.UpdatedAt)
		if err != nil {
			return SupplierEventResult{}, err
		}
		if !ok {
			continue
		}
		done, err := h.catalog.Refresh(ctx, supplier, id, ev.UpdatedAt)
		if err != nil {
			return SupplierEventResult{}, fmt.Errorf("%w: refresh product %s: %v", ErrUnavailable, id, err)
		}
		if done {
			refreshed++
		}
	}
	switch {
	case refreshed > 0:
		return SupplierEventResult{Outcome: "refreshed"}, nil
	case len(ev.ProductIDs) == 1:
		return ignored("product %s is not in the catalog, is newer, or the event is stale", ev.ProductIDs[0]), nil
	}
	return ignored("none of the %d products is in the catalog and older", len(ev.ProductIDs)), nil
}
