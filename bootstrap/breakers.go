package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sony/gobreaker"
	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// breakerTrips is how many calls in a row must fail for a breaker to open.
const breakerTrips = 5

// breaker is a circuit breaker around one dependency: after breakerTrips
// transient failures in a row it opens, and calls fail at once (a
// transient error: the work waits and is retried, no retry storm reaches
// the dependency); after the open time one call probes it, and its success
// closes the breaker again, so work resumes by itself.
type breaker struct {
	name string
	cb   *gobreaker.CircuitBreaker
	// unavailable is what an open breaker's error wraps besides
	// application.ErrUnavailable (the port's own outage error).
	unavailable error

	mu          sync.Mutex
	lastErr     string
	lastLatency time.Duration
}

func newBreaker(name string, openFor time.Duration, unavailable error, log *slog.Logger) *breaker {
	b := &breaker{name: name, unavailable: unavailable}
	b.cb = gobreaker.NewCircuitBreaker(gobreaker.Settings{
		Name: name, MaxRequests: 1, Timeout: openFor,
		ReadyToTrip:  func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= breakerTrips },
		IsSuccessful: func(err error) bool { return !dependencyFailed(err) },
		OnStateChange: func(name string, from, to gobreaker.State) {
			log.Warn("circuit breaker", "dependency", name, "from", from.String(), "to", to.String())
		},
	})
	return b
}

// dependencyFailed reports whether err says the dependency is in trouble:
// a transient failure. Answers such as "not found", "keys pending" or a
// refusal show it working; a caller giving up (cancelled) says nothing.
func dependencyFailed(err error) bool {
	switch {
	case err == nil, errors.Is(err, context.Canceled), errors.Is(err, ports.ErrKeysPending):
		return false
	}
	return application.ClassifyFailure(err) == application.FailureTransient && !errors.Is(err, domain.ErrNotFound)
}

// call runs fn through the breaker.
func call[T any](ctx context.Context, b *breaker, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	start := time.Now()
	v, err := b.cb.Execute(func() (any, error) { return fn(ctx) })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return zero, fmt.Errorf("%w: %w: %w: %s (%v)", application.ErrUnavailable, b.unavailable, ports.ErrCircuitOpen, b.name, err)
	}
	b.mu.Lock()
	b.lastLatency = time.Since(start)
	if dependencyFailed(err) {
		b.lastErr = err.Error()
	}
	b.mu.Unlock()
	if err != nil {
		return zero, err
	}
	t, _ := v.(T)
	return t, nil
}

func do(ctx context.Context, b *breaker, fn func(context.Context) error) error {
	_, err := call(ctx, b, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// check reports the breaker at /readyz: an open breaker is a degraded
// dependency, with the latency and error of its last call. A half-open
// one is ready: its next call probes the dependency, and an instance
// reported unready would get no request to probe with, staying out of
// its load balancer's rotation for good.
func (b *breaker) check(context.Context) error {
	st := b.cb.State()
	if st == gobreaker.StateClosed || st == gobreaker.StateHalfOpen {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Errorf("circuit %s: last call took %s and failed: %s", st, b.lastLatency.Round(time.Millisecond), b.lastErr)
}

// breakersModule makes a circuit breaker for each supplier, the payment
// gateway, the mailer and the key vault, and reports each at /readyz as
// "breaker.<dependency>" (a supplier's dependency is "supplier", or
// "supplier.<name>" among several). The ports are put behind them by
// portDecorators.
func breakersModule() fx.Option {
	return fx.Options(
		fx.Provide(newBreakers, newSupplierMonitor),
		fx.Provide(
			fx.Annotate(func(b *breakers) []ports.HealthCheck {
				out := make([]ports.HealthCheck, 0, len(b.suppliers))
				for _, sb := range b.suppliers {
					out = append(out, ports.HealthCheck{Name: "breaker." + sb.name, Check: sb.check})
				}
				return out
			}, fx.ResultTags(`group:"health,flatten"`)),
			fx.Annotate(func(b *breakers) ports.HealthCheck {
				return ports.HealthCheck{Name: "breaker.payments", Check: b.gateway.check}
			}, fx.ResultTags(`group:"health"`)),
			fx.Annotate(func(b *breakers) ports.HealthCheck {
				return ports.HealthCheck{Name: "breaker.mailer", Check: b.mailer.check}
			}, fx.ResultTags(`group:"health"`)),
			fx.Annotate(func(b *breakers) ports.HealthCheck {
				return ports.HealthCheck{Name: "breaker.keyvault", Check: b.vault.check}
			}, fx.ResultTags(`group:"health"`)),
		),
	)
}

// breakers holds one breaker per dependency; suppliers' in the order of
// KEYWARD_SUPPLIERS.
type breakers struct {
	suppliers              []*breaker
	bySupplier             map[string]*breaker
	gateway, mailer, vault *breaker
}

// all lists the breakers, for the breaker gauge.
func (b *breakers) all() []*breaker {
	return append(append([]*breaker(nil), b.suppliers...), b.gateway, b.mailer, b.vault)
}

// openGauge is 1 while the breaker fails calls at once (open, or half-open
// and probing), else 0.
func (b *breaker) openGauge() float64 {
	if b.cb.State() == gobreaker.StateClosed {
		return 0
	}
	return 1
}

func newBreakers(cfg Config, suppliers ports.Suppliers, log *slog.Logger) *breakers {
	openFor := cfg.Operations.BreakerOpenFor
	log = log.With("component", "breaker")
	b := &breakers{bySupplier: map[string]*breaker{}}
	for _, r := range suppliers {
		sb := newBreaker(supplierDependency(suppliers, r.Supplier.Name()), openFor, ports.ErrSupplierTemporary, log)
		b.suppliers = append(b.suppliers, sb)
		b.bySupplier[r.Supplier.Name()] = sb
	}
	b.gateway = newBreaker("payments", openFor, application.ErrUnavailable, log)
	b.mailer = newBreaker("mailer", openFor, application.ErrUnavailable, log)
	b.vault = newBreaker("keyvault", openFor, ports.ErrVaultUnavailable, log)
	return b
}

// breakerSupplier calls the supplier through its breaker (Name and Health
// pass straight: readiness must see the supplier itself).
type breakerSupplier struct {
	ports.Supplier
	b *breaker
}

func (s breakerSupplier) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	return call(ctx, s.b, func(ctx context.Context) (ports.ProductPage, error) { return s.Supplier.Products(ctx, q) })
}

func (s breakerSupplier) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	return call(ctx, s.b, func(ctx context.Context) (ports.SupplierProduct, error) { return s.Supplier.Product(ctx, id) })
}

func (s breakerSupplier) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	return call(ctx, s.b, func(ctx context.Context) (ports.SupplierOrder, error) { return s.Supplier.PlaceOrder(ctx, r) })
}

func (s breakerSupplier) FindOrder(ctx context.Context, externalID string) (ports.SupplierOrder, error) {
	return call(ctx, s.b, func(ctx context.Context) (ports.SupplierOrder, error) { return s.Supplier.FindOrder(ctx, externalID) })
}

func (s breakerSupplier) Order(ctx context.Context, id string) (ports.SupplierOrder, error) {
	return call(ctx, s.b, func(ctx context.Context) (ports.SupplierOrder, error) { return s.Supplier.Order(ctx, id) })
}

func (s breakerSupplier) Keys(ctx context.Context, id string) ([]ports.SupplierKey, error) {
	return call(ctx, s.b, func(ctx context.Context) ([]ports.SupplierKey, error) { return s.Supplier.Keys(ctx, id) })
}

type breakerGateway struct {
	ports.PaymentGateway
	b *breaker
}

func (g breakerGateway) CreatePayment(ctx context.Context, r ports.PaymentRequest) (domain.Payment, error) {
	return call(ctx, g.b, func(ctx context.Context) (domain.Payment, error) { return g.PaymentGateway.CreatePayment(ctx, r) })
}

func (g breakerGateway) GetPayment(ctx context.Context, id string) (ports.PaymentState, error) {
	return call(ctx, g.b, func(ctx context.Context) (ports.PaymentState, error) { return g.PaymentGateway.GetPayment(ctx, id) })
}

type breakerMailer struct {
	m ports.Mailer
	b *breaker
}

// MarkAudited forwards ports.AuditMarkingMailer to the mailer inside; one
// that keeps no marks reports every record as the first (written as
// before).
func (m breakerMailer) MarkAudited(ctx context.Context, idempotencyKey string) (bool, error) {
	return ports.MarkAudited(ctx, m.m, idempotencyKey)
}

func (m breakerMailer) Send(ctx context.Context, e ports.Email) (ports.Receipt, error) {
	var r ports.Receipt
	err := do(ctx, m.b, func(ctx context.Context) error {
		var err error
		r, err = m.m.Send(ctx, e)
		// Without the address before the breaker keeps the error for
		// /readyz.
		return application.WithoutRecipient(err, e.To)
	})
	return r, err
}

type breakerVault struct {
	ports.KeyVault
	b *breaker
}

func (v breakerVault) NewDataKey(ctx context.Context, orderID string) (ports.DataKey, error) {
	return call(ctx, v.b, func(ctx context.Context) (ports.DataKey, error) { return v.KeyVault.NewDataKey(ctx, orderID) })
}

func (v breakerVault) UnwrapDataKey(ctx context.Context, orderID string, k ports.WrappedKey) ([]byte, error) {
	return call(ctx, v.b, func(ctx context.Context) ([]byte, error) { return v.KeyVault.UnwrapDataKey(ctx, orderID, k) })
}

// breakerVaultFloor keeps the vault's KeyVersionFloor visible to key
// rotation.
type breakerVaultFloor struct {
	breakerVault
	floor ports.KeyVersionFloor
}

func (v breakerVaultFloor) SetMinDecryptionVersion(ctx context.Context, version int) error {
	return v.floor.SetMinDecryptionVersion(ctx, version)
}

// guardVault puts the key vault's breaker in front of v, keeping
// ports.KeyVersionFloor visible to key rotation when v has it.
func (b *breakers) guardVault(v ports.KeyVault) ports.KeyVault {
	if floor, ok := v.(ports.KeyVersionFloor); ok {
		return breakerVaultFloor{breakerVault{KeyVault: v, b: b.vault}, floor}
	}
	return breakerVault{KeyVault: v, b: b.vault}
}
