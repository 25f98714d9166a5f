package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// GatewayConfig tunes the fake payment gateway.
type GatewayConfig struct {
	// PayCurrency defaults to "usdttrc20".
	PayCurrency string
	// Rate is pay units per unit of the price currency; default 1.0850.
	Rate decimal.Decimal
	// Clock defaults to time.Now.
	Clock func() time.Time
}

// SandboxPayment is everything the gateway knows about a payment, enough
// for IPNBody to write the notification NOWPayments would send.
type SandboxPayment struct {
	OrderID          string
	OrderDescription string
	PaymentID        string
	PurchaseID       string
	PayAddress       string
	PriceAmount      decimal.Decimal
	PriceCurrency    string // lower case, as NOWPayments writes it: "eur"
	PayAmount        decimal.Decimal
	PayCurrency      string
	CreatedAt        time.Time
}

// Gateway is a fake NOWPayments: it issues payments but never sends IPNs;
// tests build them with IPNBody and sign them with the NOWPayments scheme.
// Safe for concurrent use.
type Gateway struct {
	cfg    GatewayConfig
	nextID atomic.Int64

	down atomic.Bool

	mu       sync.Mutex
	payments map[string]SandboxPayment // by order id, latest wins
	byID     map[string]SandboxPayment
}

var _ ports.PaymentGateway = (*Gateway)(nil)

// NewGateway returns a gateway whose payment ids start at a random
// 10-digit number.
func NewGateway(cfg GatewayConfig) *Gateway {
	if cfg.PayCurrency == "" {
		cfg.PayCurrency = "usdttrc20"
	}
	if cfg.Rate.IsZero() {
		cfg.Rate = decimal.RequireFromString("1.0850")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	g := &Gateway{cfg: cfg, payments: map[string]SandboxPayment{}, byID: map[string]SandboxPayment{}}
	// Start in 4e9..5e9 so ids stay 10 digits for a billion payments.
	start, err := rand.Int(rand.Reader, big.NewInt(1_000_000_000))
	if err != nil {
		panic("sandbox: crypto/rand failed: " + err.Error())
	}
	g.nextID.Store(4_000_000_000 + start.Int64())
	return g
}

// SetDown makes the gateway unreachable (every call fails with
// ports.ErrGatewayUnavailable) or brings it back.
func (g *Gateway) SetDown(down bool) { g.down.Store(down) }

// CreatePayment issues a waiting payment of r.Price × Rate, rounded to 6
// decimals. It returns a wrapped ports.ErrPaymentRefused when the order id
// is empty or the price is not positive, ports.ErrGatewayUnavailable while
// down or when ctx is done.
func (g *Gateway) CreatePayment(ctx context.Context, r ports.PaymentRequest) (domain.Payment, error) {
	if err := g.reachable(ctx); err != nil {
		return domain.Payment{}, fmt.Errorf("sandbox create payment: %w", err)
	}
	if r.OrderID == "" || !r.Price.Amount().IsPositive() {
		return domain.Payment{}, fmt.Errorf("sandbox create payment: %w: needs an order id and a positive price", ports.ErrPaymentRefused)
	}
	p := SandboxPayment{
		OrderID:          r.OrderID,
		OrderDescription: r.Description,
		PaymentID:        strconv.FormatInt(g.nextID.Add(1), 10),
		PurchaseID:       strconv.FormatInt(g.nextID.Add(1), 10),
		PayAddress:       tronAddress(),
		PriceAmount:      r.Price.Amount(),
		PriceCurrency:    strings.ToLower(r.Price.Currency().String()),
		PayAmount:        r.Price.Amount().Mul(g.cfg.Rate).Round(6),
		PayCurrency:      g.cfg.PayCurrency,
		CreatedAt:        g.cfg.Clock().UTC(),
	}
	g.mu.Lock()
	g.payments[r.OrderID] = p
	g.byID[p.PaymentID] = p
	g.mu.Unlock()
	return domain.Payment{
		Provider:    "sandbox",
		PaymentID:   p.PaymentID,
		PayAddress:  p.PayAddress,
		PayAmount:   p.PayAmount,
		PayCurrency: p.PayCurrency,
		Status:      domain.PaymentWaiting,
	}, nil
}

// GetPayment reports a payment the sandbox issued, always waiting: the
// sandbox never sees money move. It returns domain.ErrNotFound for an id
// it never issued, ports.ErrGatewayUnavailable while down.
func (g *Gateway) GetPayment(ctx context.Context, paymentID string) (ports.PaymentState, error) {
	if err := g.reachable(ctx); err != nil {
		return ports.PaymentState{}, fmt.Errorf("sandbox get payment: %w", err)
	}
	g.mu.Lock()
	p, ok := g.byID[paymentID]
	g.mu.Unlock()
	if !ok {
		return ports.PaymentState{}, fmt.Errorf("sandbox get payment %s: %w", paymentID, domain.ErrNotFound)
	}
	return ports.PaymentState{OrderID: p.OrderID, Status: domain.PaymentWaiting.String(), Update: domain.PaymentUpdate{
		PaymentID: p.PaymentID, Status: domain.PaymentWaiting, PriceAmount: p.PriceAmount, PriceCurrency: strings.ToUpper(p.PriceCurrency),
		PayAmount: p.PayAmount, PayCurrency: p.PayCurrency,
	}}, nil
}

// Health returns ports.ErrGatewayUnavailable while the sandbox is down.
func (g *Gateway) Health(ctx context.Context) error { return g.reachable(ctx) }

func (g *Gateway) reachable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %v", ports.ErrGatewayUnavailable, err)
	}
	if g.down.Load() {
		return fmt.Errorf("%w: sandbox gateway is down", ports.ErrGatewayUnavailable)
	}
	return nil
}

// Payment returns the latest payment created for orderID, false if none.
func (g *Gateway) Payment(orderID string) (SandboxPayment, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[orderID]
	return p, ok
}

const base58Alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

// tronAddress returns a random but well-formed TRON address: base58check of
// 0x41 and 20 random bytes, so it starts with T and has 34 characters.
func tronAddress() string {
	payload := make([]byte, 21, 25)
	payload[0] = 0x41
	rand.Read(payload[1:])
	first := sha256.Sum256(payload)
	check := sha256.Sum256(first[:])
	payload = append(payload, check[:4]...)

	n := new(big.Int).SetBytes(payload)
	radix, mod := big.NewInt(58), new(big.Int)
	var out []byte
	for n.Sign() > 0 {
		n.DivMod(n, radix, mod)
		out = append(out, base58Alphabet[mod.Int64()])
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return string(out)
}
