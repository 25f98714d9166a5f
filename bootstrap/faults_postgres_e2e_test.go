package bootstrap_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// TestFaultPostgresTerminated terminates every keyward connection to
// Postgres again and again while orders are paid and go through the
// pipeline (on the SQL queue): each is delivered with one purchase and its
// keys.
func TestFaultPostgresTerminated(t *testing.T) {
	t.Parallel()
	url, admin := pgtest.NewDatabase(t)
	supplier := sandbox.NewSupplier(sandbox.SupplierConfig{})
	shared := fx.Decorate(func(*sandbox.Supplier) *sandbox.Supplier { return supplier })
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url; resumeQuickly(c) }, shared)
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	var dbname string
	if err := admin.Get(&dbname, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	const n = 4
	orders := make([]orderResp, n)
	for i := range orders {
		orders[i] = h.placeOrder(buyer(i), line(sku, 1))
	}

	// Every 100 ms, end every connection keyward holds; count the rounds
	// that found some.
	var rounds atomic.Int32
	stop, done := make(chan struct{}), make(chan struct{})
	var stopOnce sync.Once
	endStorm := func() { stopOnce.Do(func() { close(stop) }); <-done }
	t.Cleanup(endStorm) // also when the test fails during the terminations
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ended int
				if err := admin.Get(&ended, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbname); err == nil && ended > 0 {
					rounds.Add(1)
				}
			}
		}
	}()
	// The gateway posts each IPN during the terminations, again and again
	// as long as they last: on a loaded machine a request may not outlive
	// 100 ms, so whether one is taken during them is luck, and so is how
	// long it takes (a gateway gives up on a slow answer and posts again).
	// Once they end, every IPN must be taken (a repeat is a duplicate,
	// answered 200).
	deadline := time.Now().Add(30 * time.Second)
	for stormy := true; stormy; {
		for _, o := range orders {
			body, sig := h.ipn(o.ID, "finished", "")
			h.postIPNDuringFaults(body, sig)
		}
		stormy = rounds.Load() < 10
		if stormy && time.Now().After(deadline) {
			t.Fatalf("only %d rounds of terminated connections in 30 s", rounds.Load())
		}
	}
	endStorm()
	for _, o := range orders {
		payUntilTaken(t, h, o)
	}
	// The pool may still hold connections ended by the last round: until
	// keyward retries on a lost connection, such a request answers 500,
	// so the wait tolerates errors.
	for _, o := range orders {
		testkit.Eventually(t, 45*time.Second, "order "+o.ID+" delivered", func() bool {
			var got orderResp
			code, _, _ := h.do("GET", "/v1/orders/"+o.ID, nil, map[string]string{"Authorization": "Bearer " + o.AccessToken}, &got)
			return code == http.StatusOK && got.Status == "delivered"
		})
	}
	for i, o := range orders {
		checkDelivered(t, h, supplier, o, buyer(i), h.logs)
	}
}

// payUntilTaken posts the order's IPN until keyward answers 200, as the
// gateway repeats a notification that was not acknowledged.
func payUntilTaken(t *testing.T, h *harness, o orderResp) {
	t.Helper()
	body, sig := h.ipn(o.ID, "finished", "")
	testkit.Eventually(t, 30*time.Second, "the IPN of "+o.ID+" taken", func() bool {
		code, _ := h.postIPN(body, sig)
		return code == http.StatusOK
	})
}
