package bootstrap_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEndToEnd walks the whole flow through the real fx app over HTTP:
// catalog → order → forged IPN refused → signed IPN → delivered → email →
// page (nothing consumed) → reveal → the keys the supplier issued →
// revelation recorded. Then the expired link gives 410.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	walkFlow(t, h)
}

// walkFlow returns the order id and the text keys it revealed.
func walkFlow(t *testing.T, h *harness) (string, []string) {
	t.Helper()
	var ready struct {
		Status     string `json:"status"`
		Components []struct {
			Name   string `json:"name"`
			Status string `json:"status"`
		} `json:"components"`
	}
	if code, _, raw := h.do("GET", "/readyz", nil, nil, &ready); code != 200 || ready.Status != "ok" || len(ready.Components) < 4 {
		t.Fatalf("readyz: %d %s", code, raw)
	}
	for _, c := range ready.Components {
		if c.Status != "ok" {
			t.Fatalf("component %s is %s", c.Name, c.Status)
		}
	}
	text := h.firstSKU(func(p product) bool { return p.InStock && !strings.Contains(strings.ToLower(p.Platform), "nintendo") })
	image := h.firstSKU(func(p product) bool { return p.InStock && strings.Contains(strings.ToLower(p.Platform), "nintendo") })
	const email = "walk@example.com"
	o := h.placeOrder(email, line(text.SKU, 2), line(image.SKU, 1))
	if o.Status != "pending_payment" || o.AccessToken == "" || o.Payment.PaymentID == "" || o.Payment.PayAddress == "" || o.Total.Currency != "EUR" {
		t.Fatalf("placed order: %+v", o)
	}

	// A forged notification changes nothing.
	body, sig := h.ipn(o.ID, "finished", "")
	if code, raw := h.postIPN([]byte(strings.Replace(string(body), o.Payment.PayAddress, "TXattackerAddress", 1)), sig); code != http.StatusUnauthorized {
		t.Fatalf("tampered IPN: %d %s", code, raw)
	}
	if code, raw := h.postIPN(body, ""); code != http.StatusUnauthorized {
		t.Fatalf("unsigned IPN: %d %s", code, raw)
	}
	if code, raw := h.postIPN(body, strings.Repeat("ab", 64)); code != http.StatusUnauthorized {
		t.Fatalf("wrongly signed IPN: %d %s", code, raw)
	}
	if got := h.getOrder(o); got.Status != "pending_payment" {
		t.Fatalf("forged IPNs moved the order to %s", got.Status)
	}

	if code, raw := h.postIPN(body, sig); code != http.StatusOK {
		t.Fatalf("signed IPN: %d %s", code, raw)
	}
	got := h.waitStatus(o, "delivered", 15*time.Second)

	// Access control on the order.
	if code, _, _ := h.do("GET", "/v1/orders/"+o.ID, nil, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("order without token: %d", code)
	}
	other := h.placeOrder("other@example.com", line(text.SKU, 1))
	if code, _, _ := h.do("GET", "/v1/orders/"+o.ID, nil, map[string]string{"Authorization": "Bearer " + other.AccessToken}, nil); code != http.StatusNotFound {
		t.Fatalf("order with another order's token: %d", code)
	}

	token := h.deliveryToken(email)
	// The page reveals and consumes nothing.
	code, hdr, page := h.do("GET", "/deliver/"+token, nil, nil, nil)
	if code != 200 || !strings.Contains(string(page), "Reveal my keys") || hdr.Get("Cache-Control") != "no-store" || !strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("page: %d %v\n%s", code, hdr, page)
	}
	var st struct {
		OrderID     string `json:"order_id"`
		RevealsLeft int    `json:"reveals_left"`
		Revealable  bool   `json:"revealable"`
		Reason      string `json:"reason"`
	}
	for i := 0; i < 2; i++ {
		if code, _, raw := h.do("GET", "/v1/deliveries/"+token, nil, nil, &st); code != 200 || st.OrderID != o.ID || st.RevealsLeft != h.cfg.LinkMaxReveals || !st.Revealable {
			t.Fatalf("delivery status: %d %s", code, raw)
		}
	}

	var rv struct {
		OrderID string `json:"order_id"`
		Items   []struct {
			SKU  string `json:"sku"`
			Keys []struct {
				Type        string `json:"type"`
				Value       string `json:"value"`
				ContentType string `json:"content_type"`
				DataBase64  string `json:"data_base64"`
			} `json:"keys"`
		} `json:"items"`
		RevealsLeft int `json:"reveals_left"`
	}
	code, hdr, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, map[string]string{"User-Agent": "keyward-e2e/1.0"}, &rv)
	if code != 200 || rv.OrderID != o.ID || rv.RevealsLeft != h.cfg.LinkMaxReveals-1 || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	var secrets []string
	for i, item := range got.Items {
		issued := h.supplier.IssuedKeys(item.ID)
		if len(issued) != item.Quantity || len(rv.Items[i].Keys) != item.Quantity || rv.Items[i].SKU != item.SKU {
			t.Fatalf("item %s: issued %d, revealed %d, want %d", item.SKU, len(issued), len(rv.Items[i].Keys), item.Quantity)
		}
		for slot, k := range rv.Items[i].Keys {
			want := issued[slot]
			var data []byte
			switch k.Type {
			case "text":
				data = []byte(k.Value)
			case "image":
				if k.ContentType != want.ContentType {
					t.Fatalf("image key content type %q, want %q", k.ContentType, want.ContentType)
				}
				var err error
				if data, err = base64.StdEncoding.DecodeString(k.DataBase64); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatalf("key type %q", k.Type)
			}
			if string(data) != string(want.Data) {
				t.Fatalf("item %s slot %d: revealed key differs from the one the supplier issued", item.SKU, slot)
			}
			if k.Type == "text" {
				secrets = append(secrets, k.Value)
			}
		}
	}
	if rv.Items[1].Keys[0].Type != "image" {
		t.Fatalf("the %s key should be an image", image.SKU)
	}

	revs, err := h.revs.ListByOrder(t.Context(), o.ID)
	if err != nil || len(revs) != len(got.Items) {
		t.Fatalf("revelations: %v %v", revs, err)
	}
	for _, r := range revs {
		if a := r.Access(); a.IP != "127.0.0.1" || a.UserAgent != "keyward-e2e/1.0" || !r.First() || r.At().IsZero() || r.Email().String() != email {
			t.Fatalf("revelation %+v", r)
		}
	}

	// No plaintext key in any log line or email.
	for _, s := range secrets {
		if strings.Contains(h.logs.String(), s) {
			t.Fatalf("a plaintext key appears in the logs")
		}
		for _, m := range h.mailsTo(email) {
			if strings.Contains(m.Text+m.HTML, s) {
				t.Fatalf("a plaintext key appears in the email")
			}
		}
	}

	// The link expires.
	h.clock.Advance(h.cfg.LinkTTL + time.Second)
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != http.StatusGone || !strings.Contains(string(raw), "expired") {
		t.Fatalf("expired reveal: %d %s", code, raw)
	}
	if code, _, _ := h.do("GET", "/v1/deliveries/"+token, nil, nil, &st); code != 200 || st.Revealable || st.Reason != "expired" {
		t.Fatalf("expired status: %+v", st)
	}
	if code, _, _ := h.do("GET", "/deliver/"+token, nil, nil, nil); code != http.StatusGone {
		t.Fatalf("expired page: %d", code)
	}
	if code, _, _ := h.do("POST", "/v1/deliveries/"+strings.Repeat("x", 43)+"/reveal", nil, nil, nil); code != http.StatusNotFound {
		t.Fatalf("unknown token: %d", code)
	}
	return o.ID, secrets
}

// TestDuplicateIPNs sends the same signed notification 20 times at once:
// one purchase per item, one link, one email.
func TestDuplicateIPNs(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	duplicateIPNs(t, h, 20)
}

func duplicateIPNs(t *testing.T, h *harness, n int) {
	t.Helper()
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "dupes@example.com"
	o := h.placeOrder(email, line(sku, 1))
	body, sig := h.ipn(o.ID, "finished", "")
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = h.postIPN(body, sig)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusOK {
			t.Fatalf("IPN %d answered %d", i, c)
		}
	}
	got := h.waitStatus(o, "delivered", 15*time.Second)
	h.waitPipelineIdle(15 * time.Second) // any duplicate work has been done by now
	if n := h.supplier.PurchaseCount(got.Items[0].ID); n != 1 {
		t.Fatalf("%d supplier purchases, want 1", n)
	}
	links, err := h.links.ListByOrder(t.Context(), o.ID)
	if err != nil || len(links) != 1 {
		t.Fatalf("%d links (%v), want 1", len(links), err)
	}
	if m := h.mailsTo(email); len(m) != 1 {
		t.Fatalf("%d emails, want 1", len(m))
	}
	paid := 0
	for _, e := range h.getOrder(o).Timeline {
		if e.Type == "payment_confirmed" {
			paid++
		}
	}
	if paid != 1 {
		t.Fatalf("%d paid transitions in the timeline, want 1", paid)
	}
}
