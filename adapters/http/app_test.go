package http

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2/humatest"
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

const (
	testAdminKey  = "test-admin-key"
	testIPNSecret = "test-ipn-secret"
	testMaxReveal = 2
	testLinkTTL   = 15 * time.Minute
)

// testKinguinSecret is the Kinguin webhook secret.
const testKinguinSecret = "test-kinguin-webhook-secret"

// testWorld is what the tests steer behind the App: the clock, outages of
// the payment gateway and the vault, and the mail the customer receives.
type testWorld struct {
	clock   *testkit.Clock
	gateway *flakyGateway
	vault   *flakyVault
	mail    *mailbox
	// adminKeys holds the stored admin keys (the bootstrap key is in Options).
	adminKeys *memory.AdminKeys
	// deadLetters and requeue back the dead-letter operations.
	deadLetters *memory.DeadLetters
	requeue     *recordingRequeue
}

// recordingRequeue records requeued messages by topic.
type recordingRequeue struct {
	mu     sync.Mutex
	topics []string
}

func (r *recordingRequeue) Requeue(_ context.Context, topic string, _ []byte, _ map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.topics = append(r.topics, topic)
	return nil
}

func (r *recordingRequeue) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.topics)
}

// newTestApp builds the application on the memory adapters, the sandbox
// supplier and gateway and an in-memory keyring, with the catalog synced.
// It is the one place these tests assemble use cases.
func newTestApp(t *testing.T) (application.App, *testWorld) {
	t.Helper()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	w := &testWorld{
		clock:       testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)),
		gateway:     &flakyGateway{PaymentGateway: sandbox.NewGateway(sandbox.GatewayConfig{})},
		vault:       &flakyVault{KeyVault: kr},
		mail:        &mailbox{},
		adminKeys:   memory.NewAdminKeys(),
		deadLetters: memory.NewDeadLetters(),
		requeue:     &recordingRequeue{},
	}
	signIns := &signInWorker{}
	customerLinks := memory.NewCustomerLinks(signIns)
	catalog, orders := memory.NewCatalog(), memory.NewOrders(nil)
	app := application.NewApp(application.Deps{
		Orders: orders, ItemsBought: orders, Links: memory.NewLinks(), CustomerLinks: customerLinks, AccessRequests: customerLinks, Claims: memory.NewClaims(), Revelations: memory.NewRevelations(), Catalog: catalog, Stock: memory.NewStock(),
		Offers:        memory.NewOffers(catalog),
		Notifications: memory.NewNotifications(), DataKeys: memory.NewDataKeys(), Blobs: memory.NewBlobs(),
		Audit: memory.NewAuditLog(w.clock, application.NewAuditKey(kr, memory.NewDataKeys())), Locks: memory.NewLocks(), Tx: memory.Transactor{}, Vault: w.vault,
		Gateway: w.gateway, Verifier: nowpayments.NewVerifier(testIPNSecret), Mailer: w.mail, Clock: w.clock, IDs: &testIDs{},
		Log: slog.New(slog.DiscardHandler), Suppliers: ports.Suppliers{{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{}), Hooks: kinguin.NewWebhookVerifier(testKinguinSecret)}}, SupplierMarks: memory.NewSupplierEventMarks(),
		AdminKeys: w.adminKeys, SyncRuns: memory.NewSyncRuns(), PricingRules: memory.NewPricingRules(),
		IdempotencyKeys: memory.NewIdempotencyKeys(), DeadLetters: w.deadLetters, Requeue: w.requeue,
	}, application.Settings{
		Delivery:       application.DeliveryPolicy{TTL: testLinkTTL, MaxReveals: testMaxReveal, PublicBaseURL: "https://keys.example"},
		ReconcileAfter: time.Minute,
		CatalogMargin:  decimal.RequireFromString("0.1"),
		TokenSecret:    []byte("test-token-secret-0123456789"),
	})
	signIns.app = app
	if _, err := app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{}); err != nil {
		t.Fatal(err)
	}
	return app, w
}

// signInWorker answers access requests as the workers do when their event
// arrives, at once.
type signInWorker struct{ app application.App }

func (s *signInWorker) Publish(ctx context.Context, events ...domain.Event) error {
	for _, ev := range events {
		if oe, ok := ev.(domain.OrderEvent); ok {
			if err := s.app.Commands.SendCustomerSignIn.Handle(ctx, oe); err != nil {
				return err
			}
		}
	}
	return nil
}

// newTestAPI serves the test App's operations (not the page or the rate
// limits, which sit outside Huma) through humatest.
func newTestAPI(t *testing.T) (humatest.TestAPI, *testWorld, application.App) {
	t.Helper()
	app, w := newTestApp(t)
	opts := Options{Version: "test", AdminAPIKeys: []string{testAdminKey}, PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}}
	_, api := humatest.New(t, apiConfig(opts))
	newServer(app, opts, slog.New(slog.DiscardHandler)).register(api)
	return api, w, app
}

type testIDs struct{ n atomic.Int64 }

func (i *testIDs) NewID() string { return fmt.Sprintf("00000000-0000-7000-8000-%012d", i.n.Add(1)) }

// flakyGateway fails to create payments while down is set.
type flakyGateway struct {
	ports.PaymentGateway
	down atomic.Bool
}

func (g *flakyGateway) CreatePayment(ctx context.Context, r ports.PaymentRequest) (domain.Payment, error) {
	if g.down.Load() {
		return domain.Payment{}, fmt.Errorf("gateway: connection refused")
	}
	return g.PaymentGateway.CreatePayment(ctx, r)
}

// flakyVault answers ErrVaultUnavailable while down is set.
type flakyVault struct {
	ports.KeyVault
	down atomic.Bool
}

func (v *flakyVault) UnwrapDataKey(ctx context.Context, orderID string, k ports.WrappedKey) ([]byte, error) {
	if v.down.Load() {
		return nil, ports.ErrVaultUnavailable
	}
	return v.KeyVault.UnwrapDataKey(ctx, orderID, k)
}

// mailbox keeps the emails sent.
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

func (m *mailbox) last() (ports.Email, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.sent) == 0 {
		return ports.Email{}, false
	}
	return m.sent[len(m.sent)-1], true
}
