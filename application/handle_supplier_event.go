package application

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// HandleSupplierEvent takes the supplier's webhooks: an order that
// completed resumes the fulfilment of the item waiting for it; a product
// that changed is refreshed in the catalog. Unknown orders or products,
// events it does not handle and stale events (older than one already seen
// for the same order or product) are acknowledged and ignored.
type HandleSupplierEvent struct {
	verifier ports.SupplierEventVerifier
	marks    ports.SupplierEventMarks
	orders   ports.OrderRepository
	fulfil   FulfilOrder
	catalog  SyncCatalog
	log      *slog.Logger
}

// NewHandleSupplierEvent wires HandleSupplierEvent; it panics when a
// dependency is nil.
func NewHandleSupplierEvent(verifier ports.SupplierEventVerifier, marks ports.SupplierEventMarks, orders ports.OrderRepository, fulfil FulfilOrder, catalog SyncCatalog, log *slog.Logger) HandleSupplierEvent {
	require("HandleSupplierEvent", "supplierHooks", verifier, "supplierMarks", marks, "orders", orders, "log", log)
	return HandleSupplierEvent{verifier: verifier, marks: marks, orders: orders, fulfil: fulfil, catalog: catalog, log: log}
}

// SupplierEventResult says what an event did.
type SupplierEventResult struct {
	// Outcome is "resumed", "refreshed" or "ignored".
	Outcome string
	// Reason says why an event was ignored.
	Reason  string
	OrderID string // our order, for order events that found one
}

// eventResumeTimeout bounds the fulfilment a webhook resumes; what is left
// over is finished by the reconciler.
const eventResumeTimeout = 30 * time.Second

// Handle authenticates and applies one webhook. It returns
// ports.ErrSignatureInvalid for a wrong credential and
// ports.ErrMalformedNotice for an unreadable body, changing nothing; an
// error wrapping ErrUnavailable when storage, the supplier or the resumed
// fulfilment fails (the supplier retries the webhook; a redelivery is not
// stale).
func (h HandleSupplierEvent) Handle(ctx context.Context, name, credential string, body []byte) (SupplierEventResult, error) {
	ev, err := h.verifier.Verify(name, credential, body)
	if err != nil {
		return SupplierEventResult{}, err
	}
	switch ev.Name {
	case ports.SupplierEventOrderStatus, ports.SupplierEventOrderComplete:
		return h.orderChanged(ctx, ev)
	case ports.SupplierEventProductUpdate:
		return h.productChanged(ctx, ev)
	}
	return ignored("event %q is not handled", ev.Name), nil
}

func ignored(format string, args ...any) SupplierEventResult {
	return SupplierEventResult{Outcome: "ignored", Reason: fmt.Sprintf(format, args...)}
}

// fresh advances the entity's mark; false for a stale event.
func (h HandleSupplierEvent) fresh(ctx context.Context, entity string, at time.Time) (bool, error) {
	ok, err := h.marks.Advance(ctx, entity, at)
	if err != nil {
		return false, fmt.Errorf("%w: record supplier event of %s: %v", ErrUnavailable, entity, err)
	}
	return ok, nil
}

func (h HandleSupplierEvent) orderChanged(ctx context.Context, ev ports.SupplierEvent) (SupplierEventResult, error) {
	entity := "order:" + ev.SupplierOrderID
	if ev.SupplierOrderID == "" {
		entity = "order-external:" + ev.ExternalID
	}
	if ok, err := h.fresh(ctx, entity, ev.UpdatedAt); err != nil || !ok {
		return ignored("stale: %s changed after %s", entity, ev.UpdatedAt.Format(time.RFC3339Nano)), err
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
	switch {
	case ev.OrderStatus == ports.SupplierOrderProcessing:
		res.Outcome, res.Reason = "ignored", "the supplier is still processing"
		return res, nil
	case o.Status() != domain.StatusFulfilling:
		res.Outcome, res.Reason = "ignored", "order is "+o.Status().String()
		return res, nil
	case it.Status() == domain.ItemSealed:
		res.Outcome, res.Reason = "ignored", "item already sealed"
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
	h.log.InfoContext(ctx, "supplier event resumed fulfilment", "order_id", o.ID(), "item_id", it.ID(), "supplier_status", ev.OrderStatus)
	res.Outcome = "resumed"
	return res, nil
}

func (h HandleSupplierEvent) productChanged(ctx context.Context, ev ports.SupplierEvent) (SupplierEventResult, error) {
	entity := "product:" + ev.ProductID
	if ok, err := h.fresh(ctx, entity, ev.UpdatedAt); err != nil || !ok {
		return ignored("stale: %s changed after %s", entity, ev.UpdatedAt.Format(time.RFC3339Nano)), err
	}
	done, err := h.catalog.Refresh(ctx, ev.ProductID, ev.UpdatedAt)
	if err != nil {
		return SupplierEventResult{}, fmt.Errorf("%w: refresh product %s: %v", ErrUnavailable, ev.ProductID, err)
	}
	if !done {
		return ignored("product %s is not in the catalog or is newer", ev.ProductID), nil
	}
	return SupplierEventResult{Outcome: "refreshed"}, nil
}
