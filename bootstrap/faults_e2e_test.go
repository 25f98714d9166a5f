package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// freezer stops a process for good at a step: the first goroutine to
// reach it signals crashed and never continues, the state a kill -9 leaves.
type freezer struct {
	once    sync.Once
	crashed chan struct{}
	frozen  chan struct{}
}

func newFreezer(t *testing.T) *freezer {
	f := &freezer{crashed: make(chan struct{}), frozen: make(chan struct{})}
	t.Cleanup(func() { close(f.frozen) })
	return f
}

func (f *freezer) hit() {
	f.once.Do(func() { close(f.crashed) })
	<-f.frozen
}

type freezeOrders struct {
	ports.OrderRepository
	f    *freezer
	when func(*domain.Order) bool
}

// Update freezes before the change that follows a committed state when
// reaches: the step is durable and nothing after it is. (Freezing after
// the inner Update would stop inside its unit of work, before the commit.)
func (r freezeOrders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	if o, err := r.Get(ctx, id); err == nil && r.when(o) {
		r.f.hit()
	}
	return r.OrderRepository.Update(ctx, id, fn)
}

// purchaseBegun reports whether an item of o is purchasing: its purchase
// is begun, and the supplier may have taken it. The change that follows
// is the one after the supplier call, which records the purchase with the
// sealed keys (or alone, while the supplier has yet to deliver them).
func purchaseBegun(o *domain.Order) bool {
	return slices.ContainsFunc(o.Items(), func(it *domain.OrderItem) bool { return it.Status() == domain.ItemPurchasing })
}

type freezeSupplier struct {
	ports.Supplier
	f               *freezer
	atPlace, atKeys bool
}

func (s freezeSupplier) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	o, err := s.Supplier.PlaceOrder(ctx, r)
	if err == nil && s.atPlace {
		s.f.hit()
	}
	return o, err
}

func (s freezeSupplier) Keys(ctx context.Context, id string) ([]ports.SupplierKey, error) {
	k, err := s.Supplier.Keys(ctx, id)
	if err == nil && len(k) > 0 && s.atKeys {
		s.f.hit()
	}
	return k, err
}

type freezeBlobs struct {
	ports.BlobStore
	f *freezer
}

func (b freezeBlobs) Put(ctx context.Context, ref string, data []byte) error {
	err := b.BlobStore.Put(ctx, ref, data)
	if err == nil {
		b.f.hit()
	}
	return err
}

// freezeLinks freezes once a delivery link is written, inside the unit of
// work that claims the delivery, before it commits.
type freezeLinks struct {
	ports.DeliveryLinkRepository
	f *freezer
}

func (l freezeLinks) Create(ctx context.Context, link *domain.DeliveryLink) error {
	err := l.DeliveryLinkRepository.Create(ctx, link)
	if err == nil {
		l.f.hit()
	}
	return err
}

// freezeMailer freezes at the delivery email: before sending it (its link
// is issued: the link commits with the delivery claim, in a unit of work
// that a freeze inside would roll back), or once it is sent.
type freezeMailer struct {
	ports.Mailer
	f      *freezer
	before bool
}

func (m freezeMailer) Send(ctx context.Context, e ports.Email) (ports.Receipt, error) {
	delivery := strings.Contains(e.Text, "/deliver/")
	if delivery && m.before {
		m.f.hit()
	}
	r, err := m.Mailer.Send(ctx, e)
	if err == nil && delivery && !m.before {
		m.f.hit()
	}
	return r, err
}

// TestFaultKillAtEachStep freezes a process right after each step of the
// pipeline, kills it (its connections terminated, its goroutines never
// resumed) and starts a fresh one on the same database and supplier: every
// paid order is delivered, nothing is bought twice, the revealed keys are
// the ones the supplier issued, and no key reached the logs.
func TestFaultKillAtEachStep(t *testing.T) {
	t.Parallel()
	for _, step := range []struct {
		name   string
		freeze func(*freezer) fx.Option
	}{
		{"after payment recorded", func(f *freezer) fx.Option {
			return fx.Decorate(func(r ports.OrderRepository) ports.OrderRepository {
				return freezeOrders{r, f, func(o *domain.Order) bool { return o.Status() == domain.StatusPaid }}
			})
		}},
		{"after purchase placed", func(f *freezer) fx.Option {
			return decorateSuppliers(func(s ports.Supplier) ports.Supplier { return freezeSupplier{Supplier: s, f: f, atPlace: true} })
		}},
		{"after keys fetched", func(f *freezer) fx.Option {
			return decorateSuppliers(func(s ports.Supplier) ports.Supplier { return freezeSupplier{Supplier: s, f: f, atKeys: true} })
		}},
		{"after sealing", func(f *freezer) fx.Option {
			return fx.Decorate(func(b ports.BlobStore) ports.BlobStore { return freezeBlobs{b, f} })
		}},
		{"before purchase recorded", func(f *freezer) fx.Option {
			// Bought, keys fetched, sealed and stored: all but the commit.
			return fx.Decorate(func(r ports.OrderRepository) ports.OrderRepository { return freezeOrders{r, f, purchaseBegun} })
		}},
		{"after fulfilment recorded", func(f *freezer) fx.Option {
			return fx.Decorate(func(r ports.OrderRepository) ports.OrderRepository {
				return freezeOrders{r, f, func(o *domain.Order) bool { return o.Status() == domain.StatusFulfilled }}
			})
		}},
		{"after sealing, before the delivery committed", func(f *freezer) fx.Option {
			// Fulfilled, in the handler run that delivers it: the claim and
			// its link are written but not committed (the kill rolls them
			// back). No message carries the fulfilled order on: the
			// reconciler delivers it.
			return fx.Decorate(func(l ports.DeliveryLinkRepository) ports.DeliveryLinkRepository { return freezeLinks{l, f} })
		}},
		{"after link issued", func(f *freezer) fx.Option {
			return fx.Decorate(func(m ports.Mailer) ports.Mailer { return freezeMailer{m, f, true} })
		}},
		{"after email sent", func(f *freezer) fx.Option {
			return fx.Decorate(func(m ports.Mailer) ports.Mailer { return freezeMailer{m, f, false} })
		}},
	} {
		t.Run(step.name, func(t *testing.T) {
			t.Parallel()
			killAndResume(t, step.freeze)
		})
	}
}

func killAndResume(t *testing.T, freeze func(*freezer) fx.Option) {
	url, admin := pgtest.NewDatabase(t)
	supplier := sandbox.NewSupplier(sandbox.SupplierConfig{}) // the supplier outlives our crash
	shared := fx.Decorate(func(*sandbox.Supplier) *sandbox.Supplier { return supplier })
	f := newFreezer(t)
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) { c.DatabaseURL = url; c.KeyringFile = keyring }
	var db1 *sqlx.DB
	h1 := start(t, mod, shared, freeze(f), fx.Populate(&db1))
	sku := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	const n = 3
	orders := make([]orderResp, n)
	for i := range orders {
		orders[i] = h1.placeOrder(buyer(i), line(sku, 2))
	}
	ipns := make([][2]string, n)
	for i, o := range orders {
		body, sig := payAsync(h1, o) // the IPN's own request may be the one that freezes
		ipns[i] = [2]string{string(body), sig}
	}
	select {
	case <-f.crashed:
	case <-time.After(40 * time.Second):
		t.Fatal("the pipeline never reached the crash point")
	}
	kill(t, h1, db1, admin)

	h2 := start(t, func(c *bootstrap.Config) { mod(c); c.MailDir = h1.cfg.MailDir; resumeQuickly(c) }, shared)
	// A delivery claim the killed process held lapses after its lease
	// (two minutes): the fresh process lives past it.
	h2.clock.Advance(3 * time.Minute)
	for _, ipn := range ipns {
		// The gateway repeats a notification the killed process did not
		// answer.
		if code, raw := h2.postIPN([]byte(ipn[0]), ipn[1]); code != http.StatusOK {
			t.Fatalf("repeated IPN: %d %s", code, raw)
		}
	}
	for i, o := range orders {
		checkDelivered(t, h2, supplier, o, buyer(i), h1.logs, h2.logs)
	}
}

func buyer(i int) string { return "buyer-" + string(rune('a'+i)) + "@example.com" }

// payAsync posts the order's "finished" IPN without waiting for the
// answer (the process may freeze while handling it); it returns the
// signed notification.
func payAsync(h *harness, o orderResp) ([]byte, string) {
	body, sig := h.ipn(o.ID, "finished", "")
	req, err := http.NewRequest(http.MethodPost, h.base+"/v1/webhooks/nowpayments", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(nowpayments.SignatureHeader, sig)
	go func() {
		if resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	return body, sig
}

// checkDelivered asserts the fault suite's invariants for one order: it is
// delivered (held orders would be reported), each item was bought once,
// the newest link reveals exactly the keys the supplier issued, and none
// of them appears in any of logs.
func checkDelivered(t *testing.T, h *harness, supplier *sandbox.Supplier, o orderResp, email string, logs ...*syncBuffer) {
	t.Helper()
	got := h.waitStatus(o, "delivered", 45*time.Second)
	var issued []ports.SupplierKey
	for _, it := range got.Items {
		if n := supplier.PurchaseCount(it.ID); n != 1 {
			t.Errorf("order %s item %s: %d purchases, want 1", o.ID, it.ID, n)
		}
		issued = append(issued, supplier.IssuedKeys(it.ID)...)
	}
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	token := latestToken(t, h, email)
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != http.StatusOK {
		t.Fatalf("reveal %s: %d %s", o.ID, code, raw)
	}
	var revealed []string
	for _, it := range rv.Items {
		for _, k := range it.Keys {
			revealed = append(revealed, k.Value)
		}
	}
	if len(issued) == 0 || len(revealed) != len(issued) {
		t.Fatalf("order %s: %d keys revealed, %d issued", o.ID, len(revealed), len(issued))
	}
	for i, k := range issued {
		if revealed[i] != string(k.Data) {
			t.Errorf("order %s: revealed key %d differs from the issued one", o.ID, i)
		}
		for _, l := range logs {
			s := l.String()
			for _, form := range []string{string(k.Data), hex.EncodeToString(k.Data), base64.StdEncoding.EncodeToString(k.Data)} {
				if strings.Contains(s, form) {
					t.Errorf("order %s: a plaintext key is in the logs", o.ID)
				}
			}
		}
	}
}

// latestToken is the link token of the newest delivery email to addr (a
// crash after sending may lead to a second one).
func latestToken(t *testing.T, h *harness, addr string) string {
	t.Helper()
	mails := h.mailsTo(addr)
	const prefix = "/deliver/" // the link may come from the killed process, on another port
	for i := len(mails) - 1; i >= 0; i-- {
		if j := strings.Index(mails[i].Text, prefix); j >= 0 {
			tok := mails[i].Text[j+len(prefix):]
			if k := strings.IndexAny(tok, " \r\n"); k >= 0 {
				tok = tok[:k]
			}
			return tok
		}
	}
	t.Fatalf("no delivery email to %s", addr)
	return ""
}

// resumeQuickly makes the reconciler pick up, within seconds, what a
// killed process left: the messages it held come back only after
// messaging.AckDeadline.
func resumeQuickly(c *bootstrap.Config) {
	c.ReconcileInterval, c.ReconcileAfter = 250*time.Millisecond, 2*time.Second
}

// decorateSuppliers wraps every supplier the application buys from.
func decorateSuppliers(wrap func(ports.Supplier) ports.Supplier) fx.Option {
	return fx.Decorate(func(s ports.Suppliers) ports.Suppliers { return s.Wrap(wrap) })
}
