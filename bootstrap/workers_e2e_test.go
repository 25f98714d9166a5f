package bootstrap_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
)

// TestWorkersNATS: three worker processes on NATS JetStream and one API
// process share a database; every paid order is bought, linked and
// emailed exactly once.
func TestWorkersNATS(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	n, err := messaging.NewNATS(messaging.NATSConfig{URL: envOr("KEYWARD_TEST_NATS_URL", "nats://127.0.0.1:4222"), Prefix: prefix}, discard())
	if err != nil {
		t.Fatalf("NATS at KEYWARD_TEST_NATS_URL must run for this test: %v", err)
	}
	t.Cleanup(func() { removeTopics(t, n.Remove); _ = n.Close() })
	competingWorkers(t, bootstrap.BrokerNATS, prefix)
}

// TestWorkersAMQP is TestWorkersNATS on RabbitMQ.
func TestWorkersAMQP(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	a, err := messaging.NewAMQP(messaging.AMQPConfig{URL: envOr("KEYWARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"), Prefix: prefix}, discard())
	if err != nil {
		t.Fatalf("RabbitMQ at KEYWARD_TEST_AMQP_URL must run for this test: %v", err)
	}
	t.Cleanup(func() { removeTopics(t, a.Remove); _ = a.Close() })
	competingWorkers(t, bootstrap.BrokerAMQP, prefix)
}

func competingWorkers(t *testing.T, broker, prefix string) {
	url, _ := pgtest.NewDatabase(t)
	supplier := sandbox.NewSupplier(sandbox.SupplierConfig{}) // one supplier, as in production
	shared := fx.Decorate(func(*sandbox.Supplier) *sandbox.Supplier { return supplier })
	dir := t.TempDir()
	common := func(c *bootstrap.Config) {
		c.DatabaseURL, c.Messaging.Broker, c.Messaging.Prefix = url, broker, prefix
		c.KeyringFile, c.MailDir = filepath.Join(dir, "keyring.json"), filepath.Join(dir, "mail")
	}
	api := start(t, func(c *bootstrap.Config) { common(c); c.Messaging.Role = bootstrap.RoleAPI }, shared)
	var workers []*harness
	var ops *bootstrap.Listener
	for range 3 {
		workers = append(workers, start(t, func(c *bootstrap.Config) {
			common(c)
			c.Messaging.Role, c.PublicBaseURL = bootstrap.RoleWorker, api.base
		}, shared, fx.Populate(&ops)))
	}
	assertOpsOnly(t, "http://"+ops.Addr().String(), broker)

	sku := api.firstSKU(func(p product) bool { return p.InStock }).SKU
	orders := burstOrders
	placed := make([]orderResp, orders)
	for i := range placed {
		placed[i] = api.placeOrder(fmt.Sprintf("buyer-%d@example.com", i), line(sku, 1))
		api.pay(placed[i])
	}
	logs := []*syncBuffer{api.logs}
	for _, w := range workers {
		logs = append(logs, w.logs)
	}
	for i, o := range placed {
		// Delivered, bought once, the issued keys revealed, none logged.
		checkDelivered(t, api, supplier, o, fmt.Sprintf("buyer-%d@example.com", i), logs...)
		links, err := api.links.ListByOrder(t.Context(), o.ID)
		if err != nil || len(links) != 1 {
			t.Errorf("order %d: %d links (%v), want 1", i, len(links), err)
		}
	}
	// Stopping the workers finishes what they hold; nothing may add a
	// second email after that.
	for _, w := range workers {
		w.stop()
	}
	for i := range placed {
		if n := len(api.mailsTo(fmt.Sprintf("buyer-%d@example.com", i))); n != 1 {
			t.Errorf("order %d: %d emails, want 1", i, n)
		}
	}
	// The broker handed each message to one worker: the competing workers
	// are one consumer group, not subscribers each getting everything.
	handledBy := map[string]int{}
	busy := 0
	for _, w := range workers {
		w.pipeline.mu.Lock()
		for id := range w.pipeline.acked {
			handledBy[id]++
		}
		if len(w.pipeline.acked) > 0 {
			busy++
		}
		w.pipeline.mu.Unlock()
	}
	// order.paid of each (order.placed is queued only for an order whose
	// payment was not set up at placement, and the run that fulfils an
	// order delivers it: no consumer of order.fulfilled).
	if len(handledBy) < orders {
		t.Errorf("the workers acknowledged %d messages, want at least %d", len(handledBy), orders)
	}
	for id, n := range handledBy {
		if n != 1 {
			t.Errorf("message %s was handled by %d workers", id, n)
		}
	}
	t.Logf("%s: %d of %d workers handled messages", broker, busy, len(workers))
}

// assertOpsOnly checks that a worker serves readiness, with the broker's
// connection, and no API.
func assertOpsOnly(t *testing.T, base, broker string) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Status     string `json:"status"`
		Components []struct {
			Name, Status string
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil || resp.StatusCode != 200 {
		t.Fatalf("worker /readyz: %d %v", resp.StatusCode, err)
	}
	found := false
	for _, c := range ready.Components {
		found = found || (c.Name == broker && c.Status == "ok")
	}
	if !found {
		t.Fatalf("worker /readyz does not report the %s connection: %+v", broker, ready)
	}
	m, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m.Body.Close()
	if m.StatusCode != http.StatusOK {
		t.Errorf("worker /metrics: %d", m.StatusCode)
	}
	for _, path := range []string{"/v1/products", "/openapi.json"} {
		r, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("a worker serves %s: %d", path, r.StatusCode)
		}
	}
}

// testPrefix names this test's streams, exchanges and queues apart from
// any other run on the same broker.
func testPrefix(t *testing.T) string {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	return "test-" + hex.EncodeToString(r[:]) + "."
}

// removeTopics deletes every topic keyward may have used on the broker.
func removeTopics(t *testing.T, remove func(context.Context, string) error) {
	for _, name := range domain.OrderEventNames {
		for _, topic := range messaging.PartitionTopics(name, bootstrap.Defaults().QueuePartitions) {
			if err := remove(context.Background(), topic); err != nil {
				t.Errorf("remove %s: %v", topic, err)
			}
		}
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// burstOrders is how many orders the competing workers share: a burst
// that keeps the test under a minute on a small machine (300, the figure
// of a big sale, takes some two and a half minutes on two cores, with both
// brokers' tests in parallel).
const burstOrders = 30
