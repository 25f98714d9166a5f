package bootstrap_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// withVault uses the test Vault (through addr when set, e.g. a proxy) with
// a fresh transit key.
func withVault(t *testing.T, addr string) func(*bootstrap.Config) {
	vaultAddr, token := vaulttest.Config(t)
	if addr == "" {
		addr = vaultAddr
	}
	key := vaulttest.KeyName()
	return func(c *bootstrap.Config) {
		c.KeyVault = "vault"
		c.Vault.Addr, c.Vault.Token, c.Vault.Key = addr, token, key
	}
}

func both(mods ...func(*bootstrap.Config)) func(*bootstrap.Config) {
	return func(c *bootstrap.Config) {
		for _, m := range mods {
			m(c)
		}
	}
}

// TestEndToEndPostgresVault: the whole flow with Postgres and Vault transit;
// the stored data key is a Vault ciphertext and the database holds no
// plaintext key or data key.
func TestEndToEndPostgresVault(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, both(withPostgres(url), withVault(t, "")))
	orderID, secrets := walkFlow(t, h)
	wk, err := h.dataKeys.Get(t.Context(), orderID)
	if err != nil || !strings.HasPrefix(wk.Ciphertext, "vault:v1:") {
		t.Fatalf("stored data key %q (%v), want a vault:v1 ciphertext", wk.Ciphertext, err)
	}
	assertDumpClean(t, h, url, orderID, secrets)
}

// TestRotationDuringOrders rotates the key twice while 100 orders are
// being paid and fulfilled; afterwards every order reveals.
func TestRotationDuringOrders(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, both(withPostgres(url), withVault(t, "")))
	skus := inStockSKUs(h)
	const n = 100
	orders := make([]orderResp, n)
	var wg sync.WaitGroup
	for i := range n {
		orders[i] = h.placeOrder(fmt.Sprintf("rot%03d@example.com", i), line(skus[i%len(skus)], 1))
	}
	type rotation struct {
		KeyVersion int `json:"key_version"`
		Rewrapped  int `json:"rewrapped"`
	}
	rotations := make(chan rotation, 2)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, sig := h.ipn(orders[i].ID, "finished", "")
			if code, raw := h.postIPN(body, sig); code != 200 {
				t.Errorf("IPN %d: %d %s", i, code, raw)
			}
		}()
		if i == n/3 || i == 2*n/3 { // rotate while earlier orders are in flight
			var r rotation
			code, _, raw := h.do("POST", "/v1/admin/keys/rotate", nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, &r)
			if code != 200 {
				t.Errorf("rotate: %d %s", code, raw)
			}
			rotations <- r
		}
	}
	wg.Wait()
	close(rotations)
	versions := map[int]bool{}
	for r := range rotations {
		versions[r.KeyVersion] = true
	}
	if !versions[2] || !versions[3] {
		t.Fatalf("rotations reported versions %v, want 2 and 3", versions)
	}
	for _, o := range orders {
		h.waitStatus(o, "delivered", 60*time.Second)
	}
	// A final rotation rewraps whatever was made under older versions.
	var last rotation
	if code, _, raw := h.do("POST", "/v1/admin/keys/rotate", nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, &last); code != 200 || last.KeyVersion != 4 {
		t.Fatalf("final rotate: %d %s", code, raw)
	}
	for i, o := range orders {
		wk, err := h.dataKeys.Get(t.Context(), o.ID)
		if err != nil || wk.Version != 4 {
			t.Fatalf("order %d data key version %d (%v), want 4", i, wk.Version, err)
		}
		token := h.deliveryToken(fmt.Sprintf("rot%03d@example.com", i))
		if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != 200 {
			t.Fatalf("order %d does not reveal after rotation: %d %s", i, code, raw)
		}
	}
	var audit struct {
		Items []struct {
			Action  string            `json:"action"`
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	h.do("GET", "/v1/admin/audit?limit=1000&type=keys.rotated", nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, &audit)
	var rotated []string
	for _, r := range audit.Items {
		if r.Action == "keys.rotated" {
			rotated = append(rotated, r.Details["key_version"])
		}
	}
	if strings.Join(rotated, ",") != "2,3,4" {
		t.Fatalf("audited rotations %v, want versions 2,3,4", rotated)
	}
	if code, _, _ := h.do("POST", "/v1/admin/keys/rotate", nil, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("rotate without admin key: %d", code)
	}
}

func inStockSKUs(h *harness) []string {
	var page struct {
		Items []product `json:"items"`
	}
	h.do("GET", "/v1/products?limit=100", nil, nil, &page)
	var skus []string
	for _, p := range page.Items {
		if p.InStock && !p.Preorder { // a pre-order waits for its release
			skus = append(skus, p.SKU)
		}
	}
	return skus
}

// TestVaultOutage: with Vault unreachable, fulfilment waits and retries and
// reveal answers 503 with Retry-After; both complete once Vault is back,
// and no order fails. The outage outlasts the message's retry budget, so
// the message goes to the dead letters and the reconciler finishes the
// order.
func TestVaultOutage(t *testing.T) {
	t.Parallel()
	addr, _ := vaulttest.Config(t)
	proxy := newProxy(t, strings.TrimPrefix(addr, "http://"))
	url, db := pgtest.NewDatabase(t)
	h := start(t, both(withPostgres(url), withVault(t, "http://"+proxy.addr()), func(c *bootstrap.Config) {
		c.ReconcileInterval, c.ReconcileAfter = 300*time.Millisecond, time.Second
	}))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU

	// A delivered order, to reveal during the outage.
	h.deliveredOrder("before@example.com", line(sku, 1))
	token := h.deliveryToken("before@example.com")

	proxy.setDown(true)
	during := h.placeOrder("during@example.com", line(sku, 1))
	h.pay(during)
	code, hdr, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("reveal during outage: %d %v %s", code, hdr, raw)
	}
	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code != http.StatusServiceUnavailable || !strings.Contains(string(raw), `"name":"keyvault","status":"down"`) {
		t.Fatalf("readyz during outage: %d %s", code, raw)
	}
	if got := h.getOrder(during); got.Status != "fulfilling" && got.Status != "paid" {
		t.Fatalf("during the outage the order is %s", got.Status)
	}

	// The outage outlasts the message's retry budget: it is dead-lettered.
	var deadErr error
	testkit.EventuallyWith(t, 20*time.Second, func() string { return fmt.Sprintf("no dead letter after the retry budget (%v)", deadErr) }, func() bool {
		var dead int
		deadErr = db.Get(&dead, `SELECT count(*) FROM dead_letters`)
		return deadErr == nil && dead > 0
	})
	proxy.setDown(false)
	h.waitStatus(during, "delivered", 30*time.Second)
	// The vault's breaker may still be open from the outage's failures
	// (a customer would be told to try again shortly): the reveal that
	// counts is made once /readyz says the vault is back.
	testkit.Eventually(t, 30*time.Second, "the key vault ready again", func() bool {
		code, _, _ := h.do("GET", "/readyz", nil, nil, nil)
		return code == http.StatusOK
	})
	var rv struct {
		RevealsLeft int `json:"reveals_left"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != 200 || rv.RevealsLeft != h.cfg.LinkMaxReveals-1 {
		t.Fatalf("reveal after outage: %d %s (the failed reveal must not count)", code, raw)
	}
}

// proxy forwards TCP to Vault and can play dead: while down it drops
// every connection, as an unreachable Vault would.
type proxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]bool
}

func newProxy(t *testing.T, target string) *proxy {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{l: l, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() { l.Close(); p.setDown(true) })
	go p.serve()
	return p
}

func (p *proxy) addr() string { return p.l.Addr().String() }

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			c.Close()
		}
	}
}

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *proxy) serve() {
	for {
		in, err := p.l.Accept()
		if err != nil {
			return
		}
		if !p.track(in) {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil || !p.track(out) {
			in.Close()
			continue
		}
		go func() { _, _ = io.Copy(out, in); out.Close() }()
		go func() { _, _ = io.Copy(in, out); in.Close() }()
	}
}
