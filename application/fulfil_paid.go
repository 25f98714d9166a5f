package application

import (
	"context"
	"errors"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// FulfilPaid handles order.paid: it fulfils the order (FulfilOrder) and
// then, unless that run delivered it, emails the customer that the payment
// is confirmed (NotifyCustomer). One handling of one message does both, so
// that the payment's email costs no consumer of its own: no queue hop, no
// consume transaction of its own, no read of its own for an order
// delivered at once, whose keys-ready email, sent seconds after the
// payment, says the payment arrived. An order whose keys take longer (a
// supplier still preparing them, a pre-order, a run that failed and is
// retried) gets the confirmation once the run stops, as long as it is
// still paid or fulfilling (NotifyCustomer: a fulfilled order's keys
// email is on its way, a failed one's delay email says the payment is
// safe).
type FulfilPaid struct {
	fulfil FulfilOrder
	notify NotifyCustomer
	log    *slog.Logger
}

// NewFulfilPaid wires FulfilPaid; it panics when log is nil.
func NewFulfilPaid(fulfil FulfilOrder, notify NotifyCustomer, log *slog.Logger) FulfilPaid {
	require("FulfilPaid", "log", log)
	return FulfilPaid{fulfil: fulfil, notify: notify, log: log}
}

// Handle fulfils ev's order and confirms its payment. When the fulfilment
// fails it still confirms the payment (the retries may take long, and
// their last one may leave the order to the reconciler) and returns the
// fulfilment's error. An email that cannot go out now is an error to
// retry (wrapping ErrUnavailable): the retry runs the fulfilment again,
// which is idempotent (an order whose keys the supplier has yet to
// deliver asks it once more per retry, within the retry policy's few
// tries), and the email's idempotency key sends it once. An email refused
// for good is logged and not returned: retried, it would be refused
// again, each try running the fulfilment again; its keys-ready email
// meets the same address later.
func (h FulfilPaid) Handle(ctx context.Context, ev domain.OrderEvent) error {
	delivered, err := h.fulfil.handle(ctx, ev.OrderID)
	if delivered {
		return err
	}
	nerr := h.notify.Handle(ctx, ev)
	if errors.Is(nerr, ports.ErrMailRejected) {
		h.log.WarnContext(ctx, "payment confirmation refused by the mail service", "order_id", ev.OrderID, "err", nerr)
		nerr = nil
	}
	if err != nil {
		if nerr != nil {
			h.log.WarnContext(ctx, "payment confirmation not sent; tried again with the fulfilment", "order_id", ev.OrderID, "err", nerr)
		}
		return err
	}
	return nerr
}
