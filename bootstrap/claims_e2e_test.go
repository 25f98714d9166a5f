package bootstrap_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// replacementToken extracts the token of the newest replacement email to
// addr.
func (h *harness) replacementToken(addr string) string {
	h.t.Helper()
	var tok string
	for _, m := range h.allMailsTo(addr) {
		if got := regexp.MustCompile(regexp.QuoteMeta(h.base) + `/deliver/([A-Za-z0-9_-]{43})`).FindStringSubmatch(m.Text); got != nil && m.Subject == "Your replacement key is ready" {
			tok = got[1]
		}
	}
	if tok == "" {
		h.t.Fatalf("no replacement email to %s", addr)
	}
	return tok
}

// TestClaimEndToEndPostgres: on Postgres with the Kinguin contract server,
// a customer reveals the key Kinguin issued and reports it from the reveal
// page in headless Chromium ("This key doesn't work"); support finds the
// claim; an approval with an empty stock is refused and decides nothing;
// once the stock has a key the approval replaces it: the emailed link
// reveals the replacement, the old link no longer shows the bad key, and
// the bad key, uploaded again in another spelling, is refused.
func TestClaimEndToEndPostgres(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	artifacts := artifactDir(t, "browser-claim")
	t.Logf("screenshots in %s", artifacts)
	url, _ := pgtest.NewDatabase(t)
	kin := kinguintest.New(t, 3)
	h := startKinguin(t, kin, withPostgres(url))
	h.waitCatalog(4, 30*time.Second)
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}

	const email = "bad.key@example.com"
	o := h.deliveredOrder(email, line(kinguintest.ProductID, 1))
	link := h.base + "/deliver/" + h.deliveryToken(email)
	issued := kin.IssuedKeys(h.getOrder(o).Items[0].ID)
	if len(issued) != 1 {
		t.Fatalf("Kinguin issued %d keys, want 1", len(issued))
	}
	bad := string(issued[0].Data)

	// The customer reveals the key and reports it from the page.
	ctx := newBrowser(t, chromium)
	console := collectConsole(ctx)
	if _, err := step(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open the link: %v", err)
	}
	run(t, ctx, "wait for the reveal button", chromedp.WaitVisible(chromedp.CSS(`[data-testid=reveal]`)))
	if n := value(t, ctx, "claim forms before the reveal", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=claim]").length`)); n != 0 {
		t.Fatalf("%d claim forms before the key is shown", n)
	}
	resp, err := clickResponse(ctx, `[data-testid=reveal]`)
	if err != nil {
		t.Fatalf("reveal: %v", err)
	}
	checkPageHeaders(t, "POST /deliver/{token}", resp)
	if got := value(t, ctx, "key", chromedp.Text(chromedp.CSS(`[data-testid=key]`))); got != bad {
		t.Fatalf("the page shows %q, Kinguin issued %q", got, bad)
	}
	run(t, ctx, "open the claim form", chromedp.Click(chromedp.CSS(`[data-testid=claim] summary`)))
	run(t, ctx, "choose a reason", chromedp.SetValue(chromedp.CSS(`[data-testid=claim-reason]`), "already_used"))
	run(t, ctx, "describe it", chromedp.SendKeys(chromedp.CSS(`[data-testid=claim-message]`), "Steam says: already activated <script>"))
	screenshot(t, ctx, artifacts, "1-claim-form.png")
	resp, err = clickResponse(ctx, `[data-testid=claim-submit]`)
	if err != nil {
		t.Fatalf("send the claim: %v", err)
	}
	checkPageHeaders(t, "POST /deliver/{token}/claims", resp)
	if resp.Status != http.StatusCreated {
		t.Fatalf("the claim form answers %d, want 201", resp.Status)
	}
	if msg := value(t, ctx, "answer", chromedp.Text(chromedp.CSS(`[role=alert]`))); !strings.Contains(msg, "we received your report") {
		t.Fatalf("the page says %q", msg)
	}
	screenshot(t, ctx, artifacts, "2-claim-received.png")
	if msgs := console(); strings.Contains(msgs, "Content Security Policy") {
		t.Errorf("the browser reported CSP violations:\n%s", msgs)
	}

	// Support finds the claim.
	var list struct {
		Items []struct {
			ID, OrderID, ItemID, Status, Reason, Message string
		} `json:"items"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/claims?status=open&order_id="+o.ID, nil, admin, &list); code != http.StatusOK || len(list.Items) != 1 ||
		list.Items[0].Reason != "already_used" || list.Items[0].Message != "Steam says: already activated <script>" {
		t.Fatalf("open claims: %d %s", code, raw)
	}
	claim := list.Items[0].ID
	if code, _, raw := h.do("GET", "/v1/admin/claims/"+claim, nil, admin, nil); code != http.StatusOK || strings.Contains(string(raw), bad) ||
		!strings.Contains(string(raw), `"bought_from":"kinguin"`) {
		t.Fatalf("claim detail: %d %s", code, raw)
	}

	// Approved from the stock: refused while it is empty, then replaced.
	approve := map[string]any{"source": "stock", "note": "Kinguin batch reported"}
	if code, _, raw := h.do("POST", "/v1/admin/claims/"+claim+"/approve", approve, admin, nil); code != http.StatusConflict {
		t.Fatalf("approval with an empty stock: %d %s, want 409", code, raw)
	}
	upload := func(keys ...string) (added, dups int) {
		t.Helper()
		var up struct{ Added, Duplicates int }
		if code, _, raw := h.do("POST", "/v1/admin/products/"+kinguintest.ProductID+"/stock", map[string]any{"keys": keys}, admin, &up); code != http.StatusOK {
			t.Fatalf("upload: %d %s", code, raw)
		}
		return up.Added, up.Duplicates
	}
	if added, _ := upload("OWN-REPLACEMENT-0001"); added != 1 {
		t.Fatal("the replacement key was not stocked")
	}
	var approved struct {
		Emailed     bool `json:"emailed"`
		BlockedKeys int  `json:"blocked_keys"`
	}
	if code, _, raw := h.do("POST", "/v1/admin/claims/"+claim+"/approve", approve, admin, &approved); code != http.StatusOK || !approved.Emailed || approved.BlockedKeys != 1 {
		t.Fatalf("approve: %d %s", code, raw)
	}

	// The emailed link reveals the replacement; the bad key is shown no more.
	if _, err := step(ctx, chromedp.Navigate(h.base+"/deliver/"+h.replacementToken(email))); err != nil {
		t.Fatalf("open the replacement link: %v", err)
	}
	if _, err := clickResponse(ctx, `[data-testid=reveal]`); err != nil {
		t.Fatalf("reveal the replacement: %v", err)
	}
	if got := value(t, ctx, "replacement", chromedp.Text(chromedp.CSS(`[data-testid=key]`))); got != "OWN-REPLACEMENT-0001" {
		t.Fatalf("the replacement link shows %q", got)
	}
	screenshot(t, ctx, artifacts, "3-replacement-revealed.png")
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+h.deliveryToken(email)+"/reveal", nil, nil, &rv); code != http.StatusOK ||
		len(rv.Items[0].Keys) != 1 || rv.Items[0].Keys[0].Value != "OWN-REPLACEMENT-0001" {
		t.Fatalf("the first link after the replacement: %d %s", code, raw)
	}

	// The bad key never goes back into the stock, however it is spelt.
	if added, dups := upload(" " + strings.ToLower(strings.ReplaceAll(bad, "-", " ")) + " "); added != 0 || dups != 1 {
		t.Fatalf("upload of the bad key respelt: %d added, %d duplicates; want it refused", added, dups)
	}
	var levels struct {
		Available int `json:"available"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/products/"+kinguintest.ProductID+"/stock", nil, admin, &levels); code != http.StatusOK || levels.Available != 0 {
		t.Fatalf("stock after the replacement: %d %s", code, raw)
	}
	code, hdr, raw := h.do("GET", "/v1/admin/claims/export?format=csv", nil, admin, nil)
	if code != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.Contains(string(raw), "kinguin,") ||
		!strings.Contains(string(raw), ","+claim+",already_used,1,") || strings.Contains(string(raw), bad) {
		t.Fatalf("export: %d %s", code, raw)
	}
}
