package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/internal/sandboxpay"
)

// loadSpec is one load run against a keyward server.
type loadSpec struct {
	base      string // keyward base URL
	mailDir   string // where its maildir mailer writes
	ipnSecret string
	orders    int
	clients   int
	rate      float64 // orders started per second; 0: as fast as the clients go
	tag       string  // makes the customer addresses of this run unique
	progress  Progress
}

// loadResult is what the clients saw.
type loadResult struct {
	orders, done int
	elapsed      time.Duration
	create, ipn  []time.Duration
	delivered    []time.Duration // IPN accepted → delivery email written
	reveal       []time.Duration
	errors       map[string]int
	firstErr     map[string]string
}

func (r *loadResult) ordersPerSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.done) / r.elapsed.Seconds()
}

// recorder collects latencies and errors from many goroutines.
type recorder struct {
	mu       sync.Mutex
	res      loadResult
	progress Progress
}

func (r *recorder) add(stage string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch stage {
	case "create":
		r.res.create = append(r.res.create, d)
	case "ipn":
		r.res.ipn = append(r.res.ipn, d)
	case "delivered":
		r.res.delivered = append(r.res.delivered, d)
	case "reveal":
		r.res.reveal = append(r.res.reveal, d)
		r.res.done++
		if r.progress != nil {
			r.progress(r.res.done, r.res.orders, "")
		}
	}
}

func (r *recorder) fail(stage string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.res.errors[stage]++
	if _, ok := r.res.firstErr[stage]; !ok {
		r.res.firstErr[stage] = err.Error()
	}
}

// runLoad pushes spec.orders orders through the HTTP API: clients place
// and pay them (a signed IPN of the sandbox payment); a watcher of the
// maildir sees each delivery email, and the order's keys are revealed
// with its token. The clock runs from the first order to the last reveal.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: spec.clients * 2}}
	skus, err := inStockSKUs(ctx, client, spec.base)
	if err != nil {
		return loadResult{}, err
	}
	rec := &recorder{res: loadResult{orders: spec.orders, errors: map[string]int{}, firstErr: map[string]string{}}, progress: spec.progress}
	w := newMailWatcher(spec.mailDir, spec.base+"/deliver/")
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go w.run(watchCtx)

	var next atomic.Int64
	var pending sync.WaitGroup
	var clients sync.WaitGroup
	began := time.Now()
	for range spec.clients {
		clients.Add(1)
		go func() {
			defer clients.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(spec.orders) || ctx.Err() != nil {
					return
				}
				if spec.rate > 0 { // open loop: order i starts at i/rate
					at := began.Add(time.Duration(float64(i) / spec.rate * float64(time.Second)))
					select {
					case <-time.After(time.Until(at)):
					case <-ctx.Done():
						return
					}
				}
				email := fmt.Sprintf("bench-%s-%d@example.com", spec.tag, i)
				paidAt, ok := placeAndPay(ctx, client, spec, rec, email, skus[int(i)%len(skus)])
				if !ok {
					continue
				}
				delivered := w.expect(email)
				pending.Add(1)
				go func() {
					defer pending.Done()
					awaitAndReveal(ctx, client, spec.base, rec, delivered, paidAt)
				}()
			}
		}()
	}
	clients.Wait()
	pending.Wait()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.res.elapsed = time.Since(began)
	return rec.res, nil
}

func placeAndPay(ctx context.Context, client *http.Client, spec loadSpec, rec *recorder, email, sku string) (time.Time, bool) {
	var o struct {
		ID string `json:"id"`
	}
	t0 := time.Now()
	body, _ := json.Marshal(map[string]any{"email": email, "items": []map[string]any{{"sku": sku, "quantity": 1}}})
	if err := doJSON(ctx, client, http.MethodPost, spec.base+"/v1/orders", body, nil, http.StatusCreated, &o); err != nil {
		rec.fail("create", err)
		return time.Time{}, false
	}
	rec.add("create", time.Since(t0))

	p, err := sandboxpay.Payment(ctx, client, spec.base, o.ID)
	if err != nil {
		rec.fail("ipn", err)
		return time.Time{}, false
	}
	t1 := time.Now()
	if _, err := sandboxpay.Notify(ctx, client, spec.base, spec.ipnSecret, p, "finished", p.PayAmount); err != nil {
		rec.fail("ipn", err)
		return time.Time{}, false
	}
	paidAt := time.Now()
	rec.add("ipn", paidAt.Sub(t1))
	return paidAt, true
}

// deliveryWait bounds how long an order may take from payment to email.
const deliveryWait = 2 * time.Minute

func awaitAndReveal(ctx context.Context, client *http.Client, base string, rec *recorder, delivered <-chan mailSeen, paidAt time.Time) {
	var seen mailSeen
	select {
	case seen = <-delivered:
	case <-time.After(deliveryWait):
		rec.fail("delivered", fmt.Errorf("no delivery email within %s", deliveryWait))
		return
	case <-ctx.Done():
		return
	}
	rec.add("delivered", seen.at.Sub(paidAt))
	t0 := time.Now()
	if err := doJSON(ctx, client, http.MethodPost, base+"/v1/deliveries/"+seen.token+"/reveal", nil, nil, http.StatusOK, nil); err != nil {
		rec.fail("reveal", err)
		return
	}
	rec.add("reveal", time.Since(t0))
}

// inStockSKUs lists the products the load buys: in stock, and delivered
// at once (no pre-order).
func inStockSKUs(ctx context.Context, client *http.Client, base string) ([]string, error) {
	var page struct {
		Items []struct {
			SKU      string `json:"sku"`
			InStock  bool   `json:"in_stock"`
			Preorder bool   `json:"preorder"`
		} `json:"items"`
	}
	if err := doJSON(ctx, client, http.MethodGet, base+"/v1/products?limit=100", nil, nil, http.StatusOK, &page); err != nil {
		return nil, err
	}
	var skus []string
	for _, p := range page.Items {
		if p.InStock && !p.Preorder { // a pre-order is delivered on its release day, not within a run
			skus = append(skus, p.SKU)
		}
	}
	if len(skus) == 0 {
		return nil, fmt.Errorf("no product in stock at %s", base)
	}
	return skus, nil
}

func doJSON(ctx context.Context, client *http.Client, method, u string, body []byte, headers map[string]string, want int, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, shownPath(req.URL.Path), err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s %s", method, shownPath(req.URL.Path), resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// shownPath is a request path for an error the bench prints: a delivery
// token is the key to a customer's keys (with --server, a real one), so it
// is left out.
func shownPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/v1/deliveries/")
	if !ok {
		return p
	}
	if _, after, found := strings.Cut(rest, "/"); found {
		return "/v1/deliveries/{token}/" + after
	}
	return "/v1/deliveries/{token}"
}

// mailSeen is a delivery email as the watcher found it.
type mailSeen struct {
	token string
	at    time.Time
}

// mailWatcher lists the maildir every few milliseconds, reads each new
// delivery email once and hands its token to whoever expects mail for the
// recipient. Its resolution is the listing interval.
type mailWatcher struct {
	dir, prefix string
	mu          sync.Mutex
	waiting     map[string]chan mailSeen
	early       map[string]mailSeen // seen before anyone expected it
}

// mailScanInterval is the watcher's resolution on paid → delivered.
const mailScanInterval = 5 * time.Millisecond

func newMailWatcher(dir, linkPrefix string) *mailWatcher {
	return &mailWatcher{dir: dir, prefix: linkPrefix, waiting: map[string]chan mailSeen{}, early: map[string]mailSeen{}}
}

func (w *mailWatcher) expect(email string) <-chan mailSeen {
	ch := make(chan mailSeen, 1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.early[email]; ok {
		delete(w.early, email)
		ch <- s
		return ch
	}
	w.waiting[email] = ch
	return ch
}

func (w *mailWatcher) run(ctx context.Context) {
	seen := map[string]bool{}
	t := time.NewTicker(mailScanInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		entries, err := os.ReadDir(w.dir)
		if err != nil {
			continue // not created yet
		}
		now := time.Now()
		for _, e := range entries {
			name := e.Name()
			if seen[name] || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".eml") {
				continue
			}
			seen[name] = true
			m, err := maildir.ReadFile(filepath.Join(w.dir, name))
			if err != nil || m.Subject != "Your keys are ready" {
				continue
			}
			w.deliver(m, now)
		}
	}
}

func (w *mailWatcher) deliver(m maildir.Message, at time.Time) {
	addr, err := mail.ParseAddress(m.To)
	if err != nil {
		return
	}
	i := strings.Index(m.Text, w.prefix)
	if i < 0 {
		return
	}
	tok := m.Text[i+len(w.prefix):]
	if j := strings.IndexAny(tok, " \r\n"); j >= 0 {
		tok = tok[:j]
	}
	s := mailSeen{token: tok, at: at}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.waiting[addr.Address]; ok {
		delete(w.waiting, addr.Address)
		ch <- s
		return
	}
	w.early[addr.Address] = s
}

// percentiles returns p50, p95, p99 and max of ds (zeros when empty).
func percentiles(ds []time.Duration) [4]time.Duration {
	if len(ds) == 0 {
		return [4]time.Duration{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return [4]time.Duration{at(0.50), at(0.95), at(0.99), s[len(s)-1]}
}
