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
	// IdempotencyKey, when set, makes a retry of the same request return
	// the order the first one made.
	IdempotencyKey string
	// Admit, when set, is asked before a new order is made, and its
	// error returned (the edge's rate limits); a replay under an
	// Idempotency-Key makes no new order and is not asked.
	Admit func(context.Context) error
}

// PlacedOrder is the stored order and the secret token that reads it. The
// token is derived from the order id under a server secret and only its
// hash is stored. Replayed is true when an Idempotency-Key returned an
// order a previous request made.
type PlacedOrder struct {
	Order       *domain.Order
	AccessToken string
	Replayed    bool
}

// ErrIdempotencyKeyReused means an Idempotency-Key came back with another
// request than the one it first made an order for.
var ErrIdempotencyKeyReused = fmt.Errorf("%w: this Idempotency-Key was used for another request", domain.ErrConflict)

// PlaceOrder prices an order against the catalog, asks the gateway for a
// payment and stores the order. When the gateway is down the order is
// stored all the same, awaiting its payment setup, and SetUpPayment
// creates the payment later.
type PlaceOrder struct {
	orders  ports.OrderRepository
	catalog ports.CatalogRepository
	gateway ports.PaymentGateway
	keys    ports.IdempotencyKeys
	tokens  accessTokens
	clock   ports.Clock
	ids     ports.IDs
	log     *slog.Logger
}

// NewPlaceOrder wires PlaceOrder; access tokens are derived under
// tokenSecret. It panics when a dependency is nil or the secret empty.
func NewPlaceOrder(orders ports.OrderRepository, catalog ports.CatalogRepository, gateway ports.PaymentGateway, keys ports.IdempotencyKeys, tokenSecret []byte, clock ports.Clock, ids ports.IDs, log *slog.Logger) PlaceOrder {
	require("PlaceOrder", "orders", orders, "catalog", catalog, "gateway", gateway, "idempotencyKeys", keys, "clock", clock, "ids", ids, "log", log)
	if len(tokenSecret) == 0 {
		panic("PlaceOrder: no access token secret")
	}
	return PlaceOrder{orders: orders, catalog: catalog, gateway: gateway, keys: keys, tokens: accessTokens{secret: tokenSecret}, clock: clock, ids: ids, log: log}
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
// (domain.ErrConflict for an existing id). With an Idempotency-Key it
// returns the order the key made before (Replayed), or
// ErrIdempotencyKeyReused when the key made an order for another request.
// Admit's error is returned as it is.
func (h PlaceOrder) Handle(ctx context.Context, cmd PlaceOrderCommand) (PlacedOrder, error) {
	email, err := domain.ParseEmail(cmd.Email)
	if err != nil {
		return PlacedOrder{}, err
	}
	orderID := h.ids.NewID()
	if cmd.IdempotencyKey != "" {
		placed, id, err := h.reserve(ctx, cmd, orderID)
		if err != nil || placed.Order != nil {
			return placed, err
		}
		orderID = id
	}
	if cmd.Admit != nil {
		if err := cmd.Admit(ctx); err != nil {
			return PlacedOrder{}, err
		}
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
	token := h.tokens.forOrder(orderID)
	order, err := domain.NewOrder(orderID, email, domain.HashToken(token), lines, now)
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
		if cmd.IdempotencyKey != "" && errors.Is(err, domain.ErrConflict) {
			// A concurrent retry under the same key stored it first.
			return h.replay(ctx, orderID)
		}
		return PlacedOrder{}, fmt.Errorf("store order: %w", err)
	}
	return PlacedOrder{Order: order, AccessToken: token}, nil
}

// reserve records cmd's Idempotency-Key for orderID before the order is
// stored. When the key is known it returns the order it made (Placed.Order
// set), or the id it reserved for an order never stored (a request that
// failed midway), which this request then stores.
func (h PlaceOrder) reserve(ctx context.Context, cmd PlaceOrderCommand, orderID string) (PlacedOrder, string, error) {
	key, fp := idempotencyKeyHash(cmd.IdempotencyKey), requestFingerprint(cmd)
	err := h.keys.Remember(ctx, key, fp, orderID, h.clock.Now())
	if err == nil {
		return PlacedOrder{}, orderID, nil
	}
	if !errors.Is(err, domain.ErrConflict) {
		return PlacedOrder{}, "", fmt.Errorf("idempotency key: %w", err)
	}
	known, knownFP, err := h.keys.Lookup(ctx, key)
	if err != nil {
		return PlacedOrder{}, "", fmt.Errorf("idempotency key: %w", err)
	}
	if knownFP != fp {
		return PlacedOrder{}, "", ErrIdempotencyKeyReused
	}
	placed, err := h.replay(ctx, known)
	if errors.Is(err, domain.ErrNotFound) {
		return PlacedOrder{}, known, nil
	}
	return placed, known, err
}

// replay returns a stored order with its access token, derived again.
func (h PlaceOrder) replay(ctx context.Context, orderID string) (PlacedOrder, error) {
	o, err := h.orders.Get(ctx, orderID)
	if err != nil {
		return PlacedOrder{}, fmt.Errorf("order %s of the idempotency key: %w", orderID, err)
	}
	token := h.tokens.forOrder(orderID)
	if !o.CheckAccessToken(token) {
		// The token secret changed since (a random per-process secret).
		return PlacedOrder{}, fmt.Errorf("%w: the order of this Idempotency-Key exists, but its access token cannot be derived again (the token secret changed)", domain.ErrConflict)
	}
	return PlacedOrder{Order: o, AccessToken: token, Replayed: true}, nil
}

// paymentRequest is what the gateway is asked for an order: its total,
// under our order id.
func paymentRequest(o *domain.Order) ports.PaymentRequest {
	return ports.PaymentRequest{OrderID: o.ID(), Price: o.Total(), Description: "keyward order " + o.ID()}
}
