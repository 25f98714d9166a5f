package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// PlaceOrderLine is one requested product.
type PlaceOrderLine struct {
	SKU      string
	Quantity int
}

// PlaceOrderCommand is a customer's order.
type PlaceOrderCommand struct {
	Email string
	Lines []PlaceOrderLine
}

// PlacedOrder is the stored order and the secret token that reads it. The
// token is shown once and only its hash is stored.
type PlacedOrder struct {
	Order       *domain.Order
	AccessToken string
}

// PlaceOrder prices an order against the catalog, asks the gateway for a
// payment and stores the order. When the gateway is down the order is
// stored all the same, awaiting its payment setup, and SetUpPayment
// creates the payment later.
type PlaceOrder struct {
	orders  ports.OrderRepository
	catalog ports.CatalogRepository
	gateway ports.PaymentGateway
	clock   ports.Clock
	ids     ports.IDs
	log     *slog.Logger
}

// NewPlaceOrder wires PlaceOrder; it panics when a dependency is nil.
func NewPlaceOrder(orders ports.OrderRepository, catalog ports.CatalogRepository, gateway ports.PaymentGateway, clock ports.Clock, ids ports.IDs, log *slog.Logger) PlaceOrder {
	require("PlaceOrder", "orders", orders, "catalog", catalog, "gateway", gateway, "clock", clock, "ids", ids, "log", log)
	return PlaceOrder{orders: orders, catalog: catalog, gateway: gateway, clock: clock, ids: ids, log: log}
}

// Handle validates and prices the lines, asks the gateway for a payment,
// then stores the order in pending_payment with its payment; when the
// gateway is unavailable (any failure but a refusal) it stores the order
// in awaiting_payment_setup without one, to be set up later (its
// order.placed event starts SetUpPayment). Nothing is stored when any
// other step fails. It returns domain.ErrInvalidEmail for a bad address;
// domain.ErrInvalidOrder for an unknown sku, no lines or too many, a
// repeated sku, a quantity outside 1..domain.MaxItemQuantity, a payment
// the gateway refused (ports.ErrPaymentRefused: an amount below its
// minimum) or one it returned without provider or id;
// domain.ErrOutOfStock or domain.ErrProductInactive for a product that
// cannot be sold; and, wrapped, the catalog's error when a product cannot
// be read, or the repository's when the order cannot be stored
// (domain.ErrConflict for an existing id).
func (h PlaceOrder) Handle(ctx context.Context, cmd PlaceOrderCommand) (PlacedOrder, error) {
	email, err := domain.ParseEmail(cmd.Email)
	if err != nil {
		return PlacedOrder{}, err
	}
	lines := make([]domain.NewItem, 0, len(cmd.Lines))
	for _, l := range cmd.Lines {
		p, err := h.catalog.Get(ctx, l.SKU)
		if errors.Is(err, domain.ErrNotFound) {
			return PlacedOrder{}, fmt.Errorf("%w: unknown sku %q", domain.ErrInvalidOrder, l.SKU)
		}
		if err != nil {
			return PlacedOrder{}, fmt.Errorf("product %q: %w", l.SKU, err)
		}
		lines = append(lines, domain.NewItem{ID: h.ids.NewID(), Product: p, Quantity: l.Quantity})
	}
	now := h.clock.Now()
	token := newToken()
	order, err := domain.NewOrder(h.ids.NewID(), email, domain.HashToken(token), lines, now)
	if err != nil {
		return PlacedOrder{}, err
	}
	payment, err := h.gateway.CreatePayment(ctx, paymentRequest(order))
	switch {
	case errors.Is(err, ports.ErrPaymentRefused):
		return PlacedOrder{}, fmt.Errorf("%w: the payment provider refused this payment: %v", domain.ErrInvalidOrder, err)
	case err != nil:
		h.log.WarnContext(ctx, "payment gateway unavailable: order stored awaiting its payment setup", "order_id", order.ID(), "err", err)
		if err := order.FailPaymentSetup(err.Error(), false, now); err != nil {
			return PlacedOrder{}, err
		}
	default:
		if err := order.AttachPayment(payment, now); err != nil {
			return PlacedOrder{}, err
		}
	}
	if err := h.orders.Create(ctx, order); err != nil {
		return PlacedOrder{}, fmt.Errorf("store order: %w", err)
	}
	return PlacedOrder{Order: order, AccessToken: token}, nil
}

// paymentRequest is what the gateway is asked for an order: its total,
// under our order id.
func paymentRequest(o *domain.Order) ports.PaymentRequest {
	return ports.PaymentRequest{OrderID: o.ID(), Price: o.Total(), Description: "keyward order " + o.ID()}
}
