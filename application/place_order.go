package application

import (
	"context"
	"errors"
	"fmt"

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
// payment and stores the order awaiting payment.
type PlaceOrder struct {
	orders  ports.OrderRepository
	catalog ports.CatalogRepository
	gateway ports.PaymentGateway
	clock   ports.Clock
	ids     ports.IDs
}

// NewPlaceOrder wires PlaceOrder; it panics when a dependency is nil.
func NewPlaceOrder(orders ports.OrderRepository, catalog ports.CatalogRepository, gateway ports.PaymentGateway, clock ports.Clock, ids ports.IDs) PlaceOrder {
	require("PlaceOrder", "orders", orders, "catalog", catalog, "gateway", gateway, "clock", clock, "ids", ids)
	return PlaceOrder{orders: orders, catalog: catalog, gateway: gateway, clock: clock, ids: ids}
}

// Handle validates and prices the lines, asks the gateway for a payment,
// then stores the order in pending_payment; nothing is stored when any
// step fails. It returns domain.ErrInvalidEmail for a bad address;
// domain.ErrInvalidOrder for an unknown sku, no lines or too many, a
// repeated sku, a quantity outside 1..domain.MaxItemQuantity, or a payment
// the gateway returned without provider or id; domain.ErrOutOfStock or
// domain.ErrProductInactive for a product that cannot be sold; ErrUnavailable
// when the gateway cannot create a payment; and, wrapped, the catalog's
// error when a product cannot be read, or the repository's when the order
// cannot be stored (domain.ErrConflict for an existing id).
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
	payment, err := h.gateway.CreatePayment(ctx, ports.PaymentRequest{
		OrderID: order.ID(), Price: order.Total(), Description: "keyward order " + order.ID(),
	})
	if err != nil {
		return PlacedOrder{}, fmt.Errorf("%w: create payment: %v", ErrUnavailable, err)
	}
	if err := order.AttachPayment(payment, now); err != nil {
		return PlacedOrder{}, err
	}
	if err := h.orders.Create(ctx, order); err != nil {
		return PlacedOrder{}, fmt.Errorf("store order: %w", err)
	}
	return PlacedOrder{Order: order, AccessToken: token}, nil
}
