package bootstrap_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// TestRevealPageForm: the page's form reveals with its CSRF token, shows
// text and image keys, and refuses a forged form.
func TestRevealPageForm(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	image := h.firstSKU(func(p product) bool { return p.InStock && strings.Contains(strings.ToLower(p.Platform), "nintendo") })
	text := h.firstSKU(func(p product) bool { return p.InStock && p.SKU != image.SKU })
	const email = "page@example.com"
	o := h.deliveredOrder(email, line(text.SKU, 1), line(image.SKU, 1))
	token := h.deliveryToken(email)

	_, _, page := h.do("GET", "/deliver/"+token, nil, nil, nil)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	post := func(csrf string) (int, http.Header, string) {
		form := []byte(url.Values{"csrf": {csrf}}.Encode())
		code, hdr, raw := h.do("POST", "/deliver/"+token, form, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, nil)
		return code, hdr, string(raw)
	}
	if code, _, raw := post("forged"); code != http.StatusForbidden || strings.Contains(raw, `data-testid="key"`) {
		t.Fatalf("forged form: %d", code)
	}
	code, hdr, raw := post(string(m[1]))
	if code != 200 || hdr.Get("Cache-Control") != "no-store" || !strings.Contains(hdr.Get("Content-Security-Policy"), "img-src data:") {
		t.Fatalf("form reveal: %d %v", code, hdr)
	}
	got := h.getOrder(o)
	for _, it := range got.Items {
		k := h.supplier.IssuedKeys(it.ID)[0]
		if strings.HasPrefix(k.ContentType, "image/") {
			if !strings.Contains(raw, `data-testid="key-image"`) || !strings.Contains(raw, "data:"+k.ContentType+";base64,") {
				t.Fatalf("image key not shown")
			}
		} else if !strings.Contains(raw, string(k.Data)) {
			t.Fatalf("text key not shown")
		}
	}
	var st struct {
		RevealsLeft int `json:"reveals_left"`
	}
	if h.do("GET", "/v1/deliveries/"+token, nil, nil, &st); st.RevealsLeft != h.cfg.LinkMaxReveals-1 {
		t.Fatalf("reveals left %d after one form reveal (the forged one must not count)", st.RevealsLeft)
	}
}

// TestResendDeliveryLink: the customer asks for a new link; it arrives by
// email, works, and the older link is revoked.
func TestResendDeliveryLink(t *testing.T) {
	t.Parallel()
	h := start(t, nil)
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "resend@example.com"
	o := h.placeOrder(email, line(sku, 1))
	if code, _, _ := h.do("POST", "/v1/orders/"+o.ID+"/delivery-link", nil, map[string]string{"Authorization": "Bearer " + o.AccessToken}, nil); code != http.StatusConflict {
		t.Fatalf("resend before delivery: %d", code)
	}
	h.pay(o)
	h.waitStatus(o, "delivered", 15*time.Second)
	old := h.deliveryToken(email)
	if code, _, _ := h.do("POST", "/v1/orders/"+o.ID+"/delivery-link", nil, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("resend without token: %d", code)
	}
	if code, _, raw := h.do("POST", "/v1/orders/"+o.ID+"/delivery-link", nil, map[string]string{"Authorization": "Bearer " + o.AccessToken}, nil); code != http.StatusAccepted {
		t.Fatalf("resend: %d %s", code, raw)
	}
	mails := h.mailsTo(email)
	if len(mails) != 2 {
		t.Fatalf("%d emails after resend, want 2", len(mails))
	}
	prefix := h.base + "/deliver/"
	text := mails[1].Text
	if strings.Contains(text, old) {
		text = mails[0].Text
	}
	i := strings.Index(text, prefix)
	fresh := strings.Fields(text[i+len(prefix):])[0]
	if code, _, raw := h.do("POST", "/v1/deliveries/"+old+"/reveal", nil, nil, nil); code != http.StatusGone || !strings.Contains(string(raw), "revoked") {
		t.Fatalf("old link after resend: %d %s", code, raw)
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+fresh+"/reveal", nil, nil, nil); code != 200 {
		t.Fatalf("new link: %d %s", code, raw)
	}
}

// TestDeliveryRateLimits: a client guessing or hammering delivery links is
// slowed down with 429 and Retry-After, per IP and per link.
func TestDeliveryRateLimits(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *bootstrap.Config) { c.DeliveryRateLimit = true })
	status := func(path string) (int, http.Header) {
		code, hdr, _ := h.do("GET", path, nil, nil, nil)
		return code, hdr
	}
	same := "/v1/deliveries/" + strings.Repeat("a", 43)
	for i := range 10 {
		if code, _ := status(same); code != http.StatusNotFound {
			t.Fatalf("request %d on one link: %d", i, code)
		}
	}
	if code, hdr := status(same); code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" {
		t.Fatalf("11th request on one link: %d %v", code, hdr)
	}
	for i := range 9 { // other links: the IP budget (20) is what remains
		if code, _ := status("/v1/deliveries/" + strings.Repeat(string(rune('b'+i)), 43)); code != http.StatusNotFound {
			t.Fatalf("request on link %d: %d", i, code)
		}
	}
	if code, _ := status("/deliver/" + strings.Repeat("z", 43)); code != http.StatusTooManyRequests {
		t.Fatalf("request beyond the IP budget: %d", code)
	}
	if code, _ := status("/v1/products"); code != http.StatusOK {
		t.Fatalf("the catalog is not rate limited: %d", code)
	}
}
