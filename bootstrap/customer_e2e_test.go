package bootstrap_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/internal/testkit"
)

// signInToken waits for a sign-in email to addr (the workers send it after
// the request has been answered) and extracts the token of the newest one.
func (h *harness) signInToken(addr string) string {
	h.t.Helper()
	var tok string
	testkit.Eventually(h.t, 30*time.Second, "a sign-in email to "+addr, func() bool {
		for _, m := range h.allMailsTo(addr) {
			if got := regexp.MustCompile(regexp.QuoteMeta(h.base) + `/account/([A-Za-z0-9_-]{43})`).FindStringSubmatch(m.Text); got != nil && m.Subject == "Your keyward orders" {
				tok = got[1]
			}
		}
		return tok != ""
	})
	return tok
}

// newestDeliveryToken extracts the token of the newest keys-ready email to
// addr.
func (h *harness) newestDeliveryToken(addr string) string {
	h.t.Helper()
	mails := h.mailsTo(addr)
	if len(mails) == 0 {
		h.t.Fatalf("no delivery email to %s", addr)
	}
	got := regexp.MustCompile(regexp.QuoteMeta(h.base) + `/deliver/([A-Za-z0-9_-]{43})`).FindStringSubmatch(mails[len(mails)-1].Text)
	if got == nil {
		h.t.Fatalf("no delivery link in %q", mails[len(mails)-1].Text)
	}
	return got[1]
}

// clickResponse clicks sel and returns the answer of the navigation the
// click makes; the tab has run before, so the deadline ends only this step.
func clickResponse(ctx context.Context, sel string) (*network.Response, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
}

// TestCustomerAccountEndToEndPostgres: on Postgres with the Kinguin
// contract server, a customer who lost the delivery email asks for a
// sign-in link, signs in, sees the order and has a new delivery link sent:
// the new link reveals the supplier's key, the old one answers 410, and
// the sign-in link works once.
func TestCustomerAccountEndToEndPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	kin := kinguintest.New(t, 3)
	h := startKinguin(t, kin, withPostgres(url))
	h.waitCatalog(4, 30*time.Second)

	const email = "lost.email@example.com"
	o := h.deliveredOrder(email, line(kinguintest.ProductID, 1))
	old := h.deliveryToken(email)

	var same []byte
	for _, addr := range []string{"nobody@example.com", "Lost.Email@example.com"} {
		code, _, raw := h.do("POST", "/v1/customer/access", map[string]any{"email": addr}, nil, nil)
		if code != http.StatusAccepted || (same != nil && string(raw) != string(same)) {
			t.Fatalf("access for %s: %d %s (the other address: %s)", addr, code, raw, same)
		}
		same = raw
	}
	token := h.signInToken(email)
	if n := len(h.allMailsTo("nobody@example.com")); n != 0 {
		t.Fatalf("%d emails to an address without orders", n)
	}

	var sess struct {
		AccessToken string `json:"access_token"`
	}
	if code, _, raw := h.do("POST", "/v1/customer/sessions", map[string]any{"token": token}, nil, &sess); code != http.StatusCreated {
		t.Fatalf("sign in: %d %s", code, raw)
	}
	if code, _, raw := h.do("POST", "/v1/customer/sessions", map[string]any{"token": token}, nil, nil); code != http.StatusGone {
		t.Fatalf("second sign-in with the link: %d %s, want 410", code, raw)
	}
	bearer := map[string]string{"Authorization": "Bearer " + sess.AccessToken}
	var orders struct {
		Items []struct {
			ID          string `json:"id"`
			Status      string `json:"status"`
			RevealsLeft int    `json:"reveals_left"`
		} `json:"items"`
	}
	if code, _, raw := h.do("GET", "/v1/customer/orders", nil, bearer, &orders); code != http.StatusOK || len(orders.Items) != 1 ||
		orders.Items[0].ID != o.ID || orders.Items[0].Status != "delivered" || orders.Items[0].RevealsLeft != h.cfg.LinkMaxReveals {
		t.Fatalf("orders: %d %s", code, raw)
	}
	if code, _, raw := h.do("POST", "/v1/customer/orders/"+o.ID+"/delivery-link", nil, bearer, nil); code != http.StatusAccepted {
		t.Fatalf("send the keys again: %d %s", code, raw)
	}
	fresh := h.newestDeliveryToken(email)
	if fresh == old {
		t.Fatal("no new delivery link emailed")
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+old+"/reveal", nil, nil, nil); code != http.StatusGone {
		t.Fatalf("the old link reveals: %d %s, want 410", code, raw)
	}
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+fresh+"/reveal", nil, nil, &rv); code != http.StatusOK || len(rv.Items) != 1 || len(rv.Items[0].Keys) != 1 {
		t.Fatalf("the new link: %d %s", code, raw)
	}
	issued := kin.IssuedKeys(h.getOrder(o).Items[0].ID)
	if len(issued) != 1 || rv.Items[0].Keys[0].Value != string(issued[0].Data) {
		t.Fatalf("the new link reveals %q, Kinguin issued %q", rv.Items[0].Keys[0].Value, issued)
	}
}

// TestBrowserAccountPage walks the account page in headless Chromium: the
// email form, the emailed link (opening it uses nothing), the orders, and
// "Send my keys again", which emails a link that works while the old one
// no longer does; every page carries the reveal page's security headers and
// the browser reports no CSP violation.
func TestBrowserAccountPage(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	artifacts := artifactDir(t, "browser-account")
	t.Logf("screenshots in %s", artifacts)
	h := start(t, nil)
	const email = "account.page@example.com"
	text := h.firstSKU(func(p product) bool { return p.InStock && !strings.Contains(strings.ToLower(p.Platform), "nintendo") })
	o := h.deliveredOrder(email, line(text.SKU, 1))
	old := h.deliveryToken(email)

	ctx := newBrowser(t, chromium)
	console := collectConsole(ctx)
	resp, err := step(ctx, chromedp.NavigateResponse(h.base+"/account"))
	if err != nil {
		t.Fatalf("open /account: %v", err)
	}
	checkPageHeaders(t, "GET /account", resp)
	run(t, ctx, "type the address", chromedp.SendKeys(chromedp.CSS(`[data-testid=email]`), email))
	if resp, err = clickResponse(ctx, `[data-testid=request]`); err != nil {
		t.Fatalf("ask for a link: %v", err)
	}
	checkPageHeaders(t, "POST /account", resp)
	if msg := value(t, ctx, "answer", chromedp.Text(chromedp.CSS(`[data-testid=message]`))); !strings.Contains(msg, "sign-in link is on its way") {
		t.Fatalf("the page says %q", msg)
	}
	screenshot(t, ctx, artifacts, "1-link-asked.png")

	token := h.signInToken(email)
	if resp, err = step(ctx, chromedp.NavigateResponse(h.base+"/account/"+token)); err != nil {
		t.Fatalf("open the sign-in link: %v", err)
	}
	checkPageHeaders(t, "GET /account/{token}", resp)
	run(t, ctx, "wait for the sign-in button", chromedp.WaitVisible(chromedp.CSS(`[data-testid=sign-in]`)))
	if resp, err = clickResponse(ctx, `[data-testid=sign-in]`); err != nil {
		t.Fatalf("sign in: %v", err)
	}
	checkPageHeaders(t, "POST /account/{token}", resp)
	if id := value(t, ctx, "order", chromedp.AttributeValue(chromedp.CSS(`[data-testid=order]`), "data-order-id")); id.Value != o.ID {
		t.Fatalf("the page lists order %q, want %s", id.Value, o.ID)
	}
	if st := value(t, ctx, "status", chromedp.Text(chromedp.CSS(`[data-testid=status]`))); st != "delivered" {
		t.Fatalf("the order shows as %q", st)
	}
	screenshot(t, ctx, artifacts, "2-orders.png")

	if resp, err = clickResponse(ctx, `[data-testid=resend]`); err != nil {
		t.Fatalf("send my keys again: %v", err)
	}
	checkPageHeaders(t, "POST /account/orders/{id}/delivery-link", resp)
	if msg := value(t, ctx, "answer", chromedp.Text(chromedp.CSS(`[data-testid=message]`))); !strings.Contains(msg, "A new link for order "+o.ID) {
		t.Fatalf("the page says %q", msg)
	}
	screenshot(t, ctx, artifacts, "3-link-sent.png")
	fresh := h.newestDeliveryToken(email)
	if fresh == old || h.revealsLeft(h.base+"/deliver/"+fresh) != h.cfg.LinkMaxReveals {
		t.Fatal("no working new delivery link")
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+old+"/reveal", nil, nil, nil); code != http.StatusGone {
		t.Fatalf("the old link reveals: %d %s", code, raw)
	}

	// The sign-in link worked once.
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	if _, err := chromedp.Run(tab, chromedp.Navigate(h.base+"/account/"+token)); err != nil {
		t.Fatal(err)
	}
	if resp, err = clickResponse(tab, `[data-testid=sign-in]`); err != nil || resp.Status != http.StatusGone {
		t.Fatalf("the used sign-in link: %v, %v", resp, err)
	}
	if strings.Contains(console(), "Content Security Policy") {
		t.Errorf("the browser reported CSP violations:\n%s", console())
	}
}
