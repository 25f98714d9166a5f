package bootstrap_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// TestConcurrentResendsOnPostgres: customers and support pressing "send
// again" at once, many times over, always leave exactly one working link;
// past the allowance a resend answers 429 with Retry-After.
func TestConcurrentResendsOnPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	const rounds, perRound = 4, 6
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url; c.ResendLimit = rounds * perRound })
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	o := h.deliveredOrder("resends@example.com", line(sku, 1))
	customer := map[string]string{"Authorization": "Bearer " + o.AccessToken}
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	sent := 0
	for round := range rounds {
		var wg sync.WaitGroup
		codes := make(chan int, perRound)
		for i := range perRound {
			wg.Go(func() {
				path, hdr := "/v1/orders/"+o.ID+"/delivery-link", customer
				if i%2 == 1 {
					path, hdr = "/v1/admin/orders/"+o.ID+"/resend-delivery", admin
				}
				code, _, _ := h.do("POST", path, nil, hdr, nil)
				codes <- code
			})
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			switch code {
			case http.StatusAccepted, http.StatusOK:
				sent++
			case http.StatusConflict: // another resend of the order was under way
			default:
				t.Fatalf("round %d: status %d", round, code)
			}
		}
		links, err := h.links.ListByOrder(t.Context(), o.ID)
		if err != nil {
			t.Fatal(err)
		}
		working := 0
		for _, l := range links {
			if l.CanReveal(h.clock.Now()) == nil {
				working++
			}
		}
		if working != 1 {
			t.Fatalf("round %d: %d working links, want exactly 1", round, working)
		}
	}
	if sent == 0 {
		t.Fatal("no resend went through")
	}
	// Use up the allowance, then one more.
	for range rounds*perRound - sent {
		if code, _, raw := h.do("POST", "/v1/orders/"+o.ID+"/delivery-link", nil, customer, nil); code != http.StatusAccepted {
			t.Fatalf("resend within the allowance: %d %s", code, raw)
		}
	}
	code, hdr, raw := h.do("POST", "/v1/orders/"+o.ID+"/delivery-link", nil, customer, nil)
	wait, _ := strconv.Atoi(hdr.Get("Retry-After"))
	if code != http.StatusTooManyRequests || time.Duration(wait)*time.Second > time.Hour || wait < 1 {
		t.Fatalf("resend past the allowance: %d (Retry-After %q) %s", code, hdr.Get("Retry-After"), raw)
	}
}
