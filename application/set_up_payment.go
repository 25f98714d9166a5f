package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// SetUpPayment creates the payment of an order that was placed while the
// gateway was down. It runs on the order's order.placed event (retried
// with backoff by the message router) and from the reconciler, so an
// outage longer than the router's retries still ends in a payment.
type SetUpPayment struct {
	orders  ports.OrderRepository
	gateway ports.PaymentGateway
	clock   ports.Clock
	log     *slog.Logger
}

// NewSetUpPayment wires SetUpPayment; it panics when a dependency is nil.
func NewSetUpPayment(orders ports.OrderRepository, gateway ports.PaymentGateway, clock ports.Clock, log *slog.Logger) SetUpPayment {
	require("SetUpPayment", "orders", orders, "gateway", gateway, "clock", clock, "log", log)
	return SetUpPayment{orders: orders, gateway: gateway, clock: clock, log: log}
}

// errSetUpMeanwhile stops an update whose order got its payment meanwhile.
var errSetUpMeanwhile = errors.New("payment set up meanwhile")

// Handle creates and attaches the order's payment, moving it to
// pending_payment (the order then emits order.payment_created). An order
// that is not awaiting its payment setup is left alone, and so is an
// unknown one. A payment the gateway refuses (ports.ErrPaymentRefused)
// expires the order: retrying cannot help. It returns ErrUnavailable while
// the gateway is unavailable (retry later), or the repository's error.
//
// Two runs at once can each create a payment; the first attached wins and
// the other is never shown to the customer (it expires at the gateway).
func (h SetUpPayment) Handle(ctx context.Context, orderID string) error {
	o, err := h.orders.Get(ctx, orderID)
	if errors.Is(err, domain.ErrNotFound) {
		h.log.WarnContext(ctx, "set up payment: no such order", "order_id", orderID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("set up payment of order %s: %w", orderID, err)
	}
	if o.Status() != domain.StatusAwaitingPaymentSetup {
		return nil
	}
	payment, err := h.gateway.CreatePayment(ctx, paymentRequest(o))
	if err != nil {
		if !errors.Is(err, ports.ErrPaymentRefused) {
			return fmt.Errorf("%w: create payment of order %s: %v", ErrUnavailable, orderID, err)
		}
		_, uerr := h.orders.Update(ctx, orderID, func(o *domain.Order) error {
			if o.Status() != domain.StatusAwaitingPaymentSetup {
				return errSetUpMeanwhile
			}
			return o.FailPaymentSetup(err.Error(), true, h.clock.Now())
		})
		if uerr != nil && !errors.Is(uerr, errSetUpMeanwhile) {
			return fmt.Errorf("expire order %s whose payment was refused: %w", orderID, uerr)
		}
		h.log.WarnContext(ctx, "payment refused: order expired", "order_id", orderID, "err", err)
		return nil
	}
	_, err = h.orders.Update(ctx, orderID, func(o *domain.Order) error {
		if o.Status() != domain.StatusAwaitingPaymentSetup {
			return errSetUpMeanwhile
		}
		return o.AttachPayment(payment, h.clock.Now())
	})
	if errors.Is(err, errSetUpMeanwhile) {
		h.log.InfoContext(ctx, "payment set up meanwhile: the extra payment is left unused", "order_id", orderID, "payment_id", payment.PaymentID)
		return nil
	}
	if err != nil {
		return fmt.Errorf("attach payment %s to order %s: %w", payment.PaymentID, orderID, err)
	}
	h.log.InfoContext(ctx, "payment set up", "order_id", orderID, "payment_id", payment.PaymentID)
	return nil
}
