package application_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// testWebhookSecret is the supplier webhook secret of the tests.
const testWebhookSecret = "test-kinguin-webhook-secret"

type ids struct{ n atomic.Int64 }

func (i *ids) NewID() string { return fmt.Sprintf("id-%06d", i.n.Add(1)) }

// flakyVault fails with ErrVaultUnavailable while down is set.
type flakyVault struct {
	ports.KeyVault
	down atomic.Bool
}

func (v *flakyVault) NewDataKey(ctx context.Context, orderID string) (ports.DataKey, error) {
	if v.down.Load() {
		return ports.DataKey{}, ports.ErrVaultUnavailable
	}
	return v.KeyVault.NewDataKey(ctx, orderID)
}

func (v *flakyVault) UnwrapDataKey(ctx context.Context, orderID string, k ports.WrappedKey) ([]byte, error) {
	if v.down.Load() {
		return nil, ports.ErrVaultUnavailable
	}
	return v.KeyVault.UnwrapDataKey(ctx, orderID, k)
}

func (v *flakyVault) SetMinDecryptionVersion(ctx context.Context, version int) error {
	return v.KeyVault.(ports.KeyVersionFloor).SetMinDecryptionVersion(ctx, version)
}

// recorder keeps published events.
type recorder struct {
	mu     sync.Mutex
	events []domain.Event
}

func (r *recorder) Publish(_ context.Context, ev ...domain.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev...)
	return nil
}

// world is the application wired to memory adapters and the sandbox.
type world struct {
	orders *memory.Orders
	links  *memory.Links
	// customerLinks keeps customers' sign-in links.
	customerLinks *memory.CustomerLinks
	claims        *memory.Claims
	revs          *memory.Revelations
	dataKeys      *memory.DataKeys
	blobs         *memory.Blobs
	catalog       *memory.Catalog
	offers        *memory.Offers
	stock         *memory.Stock
	supplier      *sandbox.Supplier
	vault         *flakyVault
	mail          *mailbox
	clock         *testkit.Clock
	ids           *ids
	events        *recorder
	audit         *memory.AuditLog
	locks         *memory.Locks
	marks         *memory.SupplierEventMarks
	syncRuns      *memory.SyncRuns
	rules         *memory.PricingRules
	log           *slog.Logger
	// idempotency, deadLetters and requeue serve the operations use cases.
	idempotency *memory.IdempotencyKeys
	deadLetters *memory.DeadLetters
	requeue     *requeueRecorder
}

type mailbox struct {
	mu   sync.Mutex
	sent []ports.Email
}

func (m *mailbox) Send(_ context.Context, e ports.Email) (ports.Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return ports.Receipt{ProviderID: fmt.Sprintf("mailbox-%d", len(m.sent))}, nil
}

func newWorld(t *testing.T) *world {
	t.Helper()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	w := &world{
		events: &recorder{}, links: memory.NewLinks(), claims: memory.NewClaims(), revs: memory.NewRevelations(), dataKeys: memory.NewDataKeys(),
		blobs: memory.NewBlobs(), catalog: memory.NewCatalog(), stock: memory.NewStock(), supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}),
		vault: &flakyVault{KeyVault: kr}, mail: &mailbox{}, clock: testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)),
		ids: &ids{}, log: slog.New(slog.DiscardHandler), locks: memory.NewLocks(), marks: memory.NewSupplierEventMarks(),
		syncRuns: memory.NewSyncRuns(), rules: memory.NewPricingRules(),
		idempotency: memory.NewIdempotencyKeys(), deadLetters: memory.NewDeadLetters(), requeue: &requeueRecorder{},
	}
	w.orders = memory.NewOrders(w.events)
	w.offers = memory.NewOffers(w.catalog)
	w.customerLinks = memory.NewCustomerLinks(w.events)
	// The audit key has data keys of its own here, so that what the tests
	// count among the orders' data keys stays theirs.
	w.audit = memory.NewAuditLog(w.clock, application.NewAuditKey(kr, memory.NewDataKeys()))
	if _, err := w.app().Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{}); err != nil {
		t.Fatal(err)
	}
	return w
}

// app builds the application on the world's adapters; change, when given,
// swaps some of them (a failing mailer, a crashing repository).
func (w *world) app(change ...func(*application.Deps, *application.Settings)) application.App {
	d := application.Deps{
		Orders: w.orders, Links: w.links, CustomerLinks: w.customerLinks, AccessRequests: w.customerLinks, Claims: w.claims, Revelations: w.revs, Catalog: w.catalog, Offers: w.offers, Stock: w.stock, Notifications: memory.NewNotifications(),
		DataKeys: w.dataKeys, Blobs: w.blobs, Audit: w.audit, Locks: w.locks, Tx: memory.Transactor{}, Vault: w.vault,
		Gateway: sandbox.NewGateway(sandbox.GatewayConfig{}), Verifier: nowpayments.NewVerifier("test-ipn-secret"), Mailer: w.mail,
		Clock: w.clock, IDs: w.ids, Log: w.log,
		Suppliers: ports.Suppliers{{Supplier: w.supplier, Hooks: kinguin.NewWebhookVerifier(testWebhookSecret)}}, SupplierMarks: w.marks, AdminKeys: memory.NewAdminKeys(),
		SyncRuns: w.syncRuns, PricingRules: w.rules,
		IdempotencyKeys: w.idempotency, DeadLetters: w.deadLetters, Requeue: w.requeue,
	}
	s := application.Settings{
		Delivery:       application.DeliveryPolicy{TTL: 15 * time.Minute, MaxReveals: 3, PublicBaseURL: "https://keys.example"},
		ReconcileAfter: time.Minute,
		CatalogMargin:  decimal.RequireFromString("0.1"),
		TokenSecret:    []byte("test-token-secret-0123456789"),
	}
	for _, c := range change {
		c(&d, &s)
	}
	return application.NewApp(d, s)
}

func (w *world) fulfil() application.FulfilOrder {
	return application.FulfilOnly(w.app().Commands.FulfilOrder)
}
func (w *world) reveal() application.RevealKeys    { return w.app().Commands.RevealKeys }
func (w *world) deliver() application.DeliverOrder { return w.app().Commands.DeliverOrder }

// fulfilledOrder is paidOrder for one unit of the first in-stock product,
// fulfilled (FulfilOnly: not delivered).
func (w *world) fulfilledOrder(t *testing.T) *domain.Order {
	t.Helper()
	o := w.paidOrder(t, 1)
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	return o
}

// paidOrder places an order for the first in-stock products and pays it.
func (w *world) paidOrder(t *testing.T, qty ...int) *domain.Order {
	t.Helper()
	products, err := w.catalog.List(t.Context(), "", 100)
	if err != nil {
		t.Fatal(err)
	}
	var lines []application.PlaceOrderLine
	for _, p := range products {
		if len(lines) == len(qty) {
			break
		}
		if p.InStock() && p.Stock() >= qty[len(lines)] {
			lines = append(lines, application.PlaceOrderLine{SKU: p.SKU(), Quantity: qty[len(lines)]})
		}
	}
	placed, err := w.app().Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "buyer@example.com", Lines: lines})
	if err != nil {
		t.Fatal(err)
	}
	o := placed.Order
	p := o.Payment()
	_, err = w.orders.Update(t.Context(), o.ID(), func(o *domain.Order) error {
		_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
			PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}, w.clock.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusPaid {
		t.Fatalf("order is %s", got.Status())
	}
	return got
}

func (w *world) status(t *testing.T, id string) domain.OrderStatus {
	t.Helper()
	o, err := w.orders.Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status()
}

var errCrash = errors.New("simulated crash")

// crashAfterPlaceOrder stops fulfilment (with a panic the test recovers)
// as soon as the supplier has taken a purchase: the moment a real process
// could die with a supplier order placed and nothing yet recorded of it.
type crashAfterPlaceOrder struct{ ports.Supplier }

func (s crashAfterPlaceOrder) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	so, err := s.Supplier.PlaceOrder(ctx, r)
	if err == nil {
		panic(errCrash)
	}
	return so, err
}

// crashBeforePurchaseCommit stops fulfilment (with a panic the test
// recovers) at the change that follows a committed purchasing item: the
// unit of work after the supplier call, with the purchase made and the
// keys fetched, sealed and stored, and none of it yet on the order.
type crashBeforePurchaseCommit struct{ ports.OrderRepository }

func (r crashBeforePurchaseCommit) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	if o, err := r.Get(ctx, id); err == nil && slices.ContainsFunc(o.Items(), func(it *domain.OrderItem) bool { return it.Status() == domain.ItemPurchasing }) {
		panic(errCrash)
	}
	return r.OrderRepository.Update(ctx, id, fn)
}

// countingOrders counts the order changes (units of work) made through it.
type countingOrders struct {
	ports.OrderRepository
	updates, gets atomic.Int32
}

func (r *countingOrders) Get(ctx context.Context, id string) (*domain.Order, error) {
	r.gets.Add(1)
	return r.OrderRepository.Get(ctx, id)
}

func (r *countingOrders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	r.updates.Add(1)
	return r.OrderRepository.Update(ctx, id, fn)
}

// unitCounter counts the transactions a use case commits against storage:
// each outermost unit of work (a nested one joins it), and each order or
// link repository call made outside one, which commits on its own.
type unitCounter struct{ n atomic.Int32 }

type inUnitKey struct{}

func (c *unitCounter) outside(ctx context.Context) {
	if ctx.Value(inUnitKey{}) == nil {
		c.n.Add(1)
	}
}

// Atomically counts a unit of work unless it is inside another.
func (c *unitCounter) Atomically(ctx context.Context, fn func(context.Context) error) error {
	if ctx.Value(inUnitKey{}) != nil {
		return fn(ctx)
	}
	c.n.Add(1)
	return memory.Transactor{}.Atomically(context.WithValue(ctx, inUnitKey{}, true), fn)
}

type unitOrders struct {
	ports.OrderRepository
	c *unitCounter
}

func (r unitOrders) Get(ctx context.Context, id string) (*domain.Order, error) {
	r.c.outside(ctx)
	return r.OrderRepository.Get(ctx, id)
}

func (r unitOrders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	r.c.outside(ctx)
	return r.OrderRepository.Update(ctx, id, fn)
}

type unitLinks struct {
	ports.DeliveryLinkRepository
	c *unitCounter
}

func (r unitLinks) Create(ctx context.Context, l *domain.DeliveryLink) error {
	r.c.outside(ctx)
	return r.DeliveryLinkRepository.Create(ctx, l)
}

func (r unitLinks) Update(ctx context.Context, id string, fn func(*domain.DeliveryLink) error) (*domain.DeliveryLink, error) {
	r.c.outside(ctx)
	return r.DeliveryLinkRepository.Update(ctx, id, fn)
}

func (r unitLinks) ListByOrder(ctx context.Context, orderID string) ([]*domain.DeliveryLink, error) {
	r.c.outside(ctx)
	return r.DeliveryLinkRepository.ListByOrder(ctx, orderID)
}

// newMemoryAuditLog returns an empty audit log in memory, MACed under a
// key of its own.
func newMemoryAuditLog(t testing.TB, clock ports.Clock) *memory.AuditLog {
	t.Helper()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	return memory.NewAuditLog(clock, application.NewAuditKey(kr, memory.NewDataKeys()))
}
