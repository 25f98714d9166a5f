package bootstrap_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// cutProxy is a TCP proxy the test owns between keyward and a server: it
// can sever every connection and refuse new ones until restored, the way
// a network partition looks to a client.
type cutProxy struct {
	l      net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { _ = l.Close(); p.sever() })
	go p.serve()
	return p
}

func (p *cutProxy) addr() string { return p.l.Addr().String() }

func (p *cutProxy) serve() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refused := p.cut
		p.mu.Unlock()
		if refused {
			_ = c.Close()
			continue
		}
		go p.pipe(c)
	}
}

func (p *cutProxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	if !p.track(c, up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	_ = c.Close()
	_ = up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// track registers a connection pair, or closes it when the proxy was cut
// meanwhile.
func (p *cutProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

// sever closes every proxied connection and refuses new ones.
func (p *cutProxy) sever() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// restore accepts connections again.
func (p *cutProxy) restore() {
	p.mu.Lock()
	p.cut = false
	p.mu.Unlock()
}

// TestFaultBrokerCutNATS cuts keyward's NATS connections mid-run: the
// orders paid meanwhile wait in the outbox and are delivered, once each,
// when the connection comes back.
func TestFaultBrokerCutNATS(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	target := envOr("KEYWARD_TEST_NATS_URL", "nats://127.0.0.1:4222")
	n, err := messaging.NewNATS(messaging.NATSConfig{URL: target, Prefix: prefix}, discard())
	if err != nil {
		t.Fatalf("NATS at KEYWARD_TEST_NATS_URL must run for this test: %v", err)
	}
	t.Cleanup(func() { removeTopics(t, n.Remove); _ = n.Close() })
	p := newCutProxy(t, hostPort(t, target))
	brokerCut(t, p, bootstrap.BrokerNATS, func(c *bootstrap.Config) {
		c.Messaging.Broker, c.Messaging.Prefix, c.Messaging.NATSURL = bootstrap.BrokerNATS, prefix, "nats://"+p.addr()
	})
}

// TestFaultBrokerCutAMQP is TestFaultBrokerCutNATS on RabbitMQ.
func TestFaultBrokerCutAMQP(t *testing.T) {
	t.Parallel()
	prefix := testPrefix(t)
	target := envOr("KEYWARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
	a, err := messaging.NewAMQP(messaging.AMQPConfig{URL: target, Prefix: prefix}, discard())
	if err != nil {
		t.Fatalf("RabbitMQ at KEYWARD_TEST_AMQP_URL must run for this test: %v", err)
	}
	t.Cleanup(func() { removeTopics(t, a.Remove); _ = a.Close() })
	p := newCutProxy(t, hostPort(t, target))
	brokerCut(t, p, bootstrap.BrokerAMQP, func(c *bootstrap.Config) {
		c.Messaging.Broker, c.Messaging.Prefix, c.Messaging.AMQPURL = bootstrap.BrokerAMQP, prefix, "amqp://guest:guest@"+p.addr()+"/"
	})
}

func brokerCut(t *testing.T, p *cutProxy, broker string, mod func(*bootstrap.Config)) {
	dbURL, _ := pgtest.NewDatabase(t)
	supplier := sandbox.NewSupplier(sandbox.SupplierConfig{})
	shared := fx.Decorate(func(*sandbox.Supplier) *sandbox.Supplier { return supplier })
	// No reconciler: it would fulfil the paid orders through Postgres,
	// around the cut broker, and hide an outbox that does not carry them.
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = dbURL; mod(c); c.ReconcileInterval = 0 }, shared)
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU

	before := h.deliveredOrder(buyer(0), line(sku, 1))
	p.sever()
	if broker == bootstrap.BrokerNATS {
		// Not on RabbitMQ: watermill-amqp's IsConnected reads its state
		// without a lock while it reconnects (a data race under -race).
		waitReady(t, h, broker, false)
	}
	var during []orderResp
	for i := 1; i <= 3; i++ {
		o := h.placeOrder(buyer(i), line(sku, 1))
		h.pay(o)
		during = append(during, o)
	}
	// Without the broker the events wait in the outbox: nothing moves.
	for _, o := range during {
		if got := h.getOrder(o).Status; got != "paid" {
			t.Fatalf("order %s is %s while the broker is cut, want paid (is the proxy in the way?)", o.ID, got)
		}
	}
	p.restore()
	checkDelivered(t, h, supplier, before, buyer(0), h.logs)
	for i, o := range during {
		checkDelivered(t, h, supplier, o, buyer(i+1), h.logs)
	}
}

// waitReady waits until /readyz reports the component ok (or not).
func waitReady(t *testing.T, h *harness, component string, ok bool) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, fmt.Sprintf("/readyz to report %s ok=%v", component, ok), func() bool {
		return componentOK(t, h, component) == ok
	})
}

func componentOK(t *testing.T, h *harness, component string) bool {
	resp, err := h.client.Get(h.base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ready struct {
		Components []struct{ Name, Status string } `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ready); err != nil {
		t.Fatal(err)
	}
	for _, c := range ready.Components {
		if c.Name == component {
			return c.Status == "ok"
		}
	}
	t.Fatalf("/readyz has no component %s", component)
	return false
}

// hostPort is the host:port of a broker URL.
func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("broker URL %q: %v", raw, err)
	}
	return u.Host
}
