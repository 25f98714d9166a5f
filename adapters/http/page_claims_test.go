package http

import (
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestClaimFormOnTheRevealPage: the page shows the claim form only with
// the keys; the form opens a claim once, bound to its link by its own
// csrf (the reveal form's does not stand for it).
func TestClaimFormOnTheRevealPage(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	opts := Options{PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}}
	page, _ := NewHandler(app, opts, slog.New(slog.DiscardHandler))
	s := newServer(app, opts, slog.New(slog.DiscardHandler))
	post := func(path string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := httptest.NewRecorder()
		page.ServeHTTP(resp, req)
		return resp
	}
	_, token := deliveredOrder(t, api, w, app)
	get := httptest.NewRecorder()
	page.ServeHTTP(get, httptest.NewRequest(http.MethodGet, "/deliver/"+token, nil))
	if strings.Contains(get.Body.String(), "doesn&#39;t work") || strings.Contains(get.Body.String(), "/claims") {
		t.Fatal("the claim form is shown before the keys")
	}
	shown := post("/deliver/"+token, url.Values{"csrf": {s.csrf(token)}})
	body := shown.Body.String()
	m := regexp.MustCompile(`name="item_id" value="([^"]+)"`).FindStringSubmatch(body)
	if shown.Code != http.StatusOK || !strings.Contains(html.UnescapeString(body), "This key doesn't work") || m == nil ||
		!strings.Contains(body, `value="`+s.claimCSRF(token)+`"`) {
		t.Fatalf("the page with the keys has no claim form: %d\n%s", shown.Code, body)
	}
	claim := url.Values{"item_id": {m[1]}, "reason": {"already_used"}, "message": {"Steam: already activated"}}
	forged := url.Values{"csrf": {s.csrf(token)}}
	for k, v := range claim {
		forged[k] = v
	}
	if resp := post("/deliver/"+token+"/claims", forged); resp.Code != http.StatusForbidden {
		t.Fatalf("a claim with the reveal form's csrf: %d", resp.Code)
	}
	claim.Set("csrf", s.claimCSRF(token))
	resp := post("/deliver/"+token+"/claims", claim)
	if resp.Code != http.StatusCreated || !strings.Contains(resp.Body.String(), "we received your report") {
		t.Fatalf("claim from the page: %d\n%s", resp.Code, resp.Body)
	}
	if csp := resp.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Fatalf("the answer's CSP %q", csp)
	}
	if resp := post("/deliver/"+token+"/claims", claim); resp.Code != http.StatusConflict {
		t.Fatalf("a second claim on the item: %d", resp.Code)
	}
	if list := api.Get("/v1/admin/claims?status=open", adminAuth); !strings.Contains(list.Body.String(), "Steam: already activated") {
		t.Fatalf("the page's claim is not listed: %s", list.Body)
	}
}
