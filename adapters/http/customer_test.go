package http

import (
	"encoding/json"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/ports"
)

var signInLink = regexp.MustCompile(`/account/([A-Za-z0-9_-]+)`)

// signInToken returns the token of the newest sign-in email.
func signInToken(t *testing.T, w *testWorld) string {
	t.Helper()
	m, ok := w.mail.last()
	if !ok || m.Template != "customer_sign_in" {
		t.Fatalf("newest email is %q, want a sign-in link", m.Template)
	}
	got := signInLink.FindStringSubmatch(m.Text)
	if got == nil {
		t.Fatalf("no sign-in link in %q", m.Text)
	}
	return got[1]
}

// TestCustomerAccessAPI: the access request answers alike for every
// address; the emailed link signs in once; the access token lists the
// address's orders without keys and sends a new delivery link that
// revokes the old one, for the address's orders only.
func TestCustomerAccessAPI(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, oldToken := deliveredOrder(t, api, w, app)

	sent := len(w.mail.sent)
	stranger := api.Post("/v1/customer/access", map[string]any{"email": "stranger@example.com"})
	if stranger.Code != http.StatusAccepted || len(w.mail.sent) != sent {
		t.Fatalf("unknown address: %d %s, %d emails sent", stranger.Code, stranger.Body, len(w.mail.sent)-sent)
	}
	known := api.Post("/v1/customer/access", map[string]any{"email": "Buyer@Example.com"})
	if known.Code != http.StatusAccepted || known.Body.String() != stranger.Body.String() {
		t.Fatalf("known address answers %d %s, unknown %s: they must be the same", known.Code, known.Body, stranger.Body)
	}
	wantProblem(t, api.Post("/v1/customer/access", map[string]any{"email": "not an address"}), http.StatusUnprocessableEntity, "")
	token := signInToken(t, w)

	resp := api.Post("/v1/customer/sessions", map[string]any{"token": token})
	if resp.Code != http.StatusCreated {
		t.Fatalf("sign in: %d %s", resp.Code, resp.Body)
	}
	var sess struct {
		AccessToken string    `json:"access_token"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal(resp.Body.Bytes(), &sess); err != nil || sess.AccessToken == "" || !sess.ExpiresAt.After(w.clock.Now()) {
		t.Fatalf("session %s (%v)", resp.Body, err)
	}
	wantProblem(t, api.Post("/v1/customer/sessions", map[string]any{"token": token}), http.StatusGone, "")
	wantProblem(t, api.Post("/v1/customer/sessions", map[string]any{"token": "unknown"}), http.StatusGone, "")

	bearer := "Authorization: Bearer " + sess.AccessToken
	wantProblem(t, api.Get("/v1/customer/orders"), http.StatusUnauthorized, "")
	wantProblem(t, api.Get("/v1/customer/orders", "Authorization: Bearer cs1.forged.token"), http.StatusUnauthorized, "")
	list := api.Get("/v1/customer/orders", bearer)
	if list.Code != http.StatusOK || strings.Contains(list.Body.String(), "EXAMP") || strings.Contains(list.Body.String(), "access_token") {
		t.Fatalf("orders: %d %s", list.Code, list.Body)
	}
	var orders struct {
		Items []struct {
			ID          string `json:"id"`
			Status      string `json:"status"`
			RevealsLeft int    `json:"reveals_left"`
			Items       []any  `json:"items"`
		} `json:"items"`
	}
	if err := json.Unmarshal(list.Body.Bytes(), &orders); err != nil || len(orders.Items) != 1 || orders.Items[0].ID != o.ID ||
		orders.Items[0].Status != "delivered" || orders.Items[0].RevealsLeft != testMaxReveal || len(orders.Items[0].Items) != 1 {
		t.Fatalf("orders %s (%v)", list.Body, err)
	}

	if r := api.Post("/v1/customer/orders/"+o.ID+"/delivery-link", bearer); r.Code != http.StatusAccepted {
		t.Fatalf("resend: %d %s", r.Code, r.Body)
	}
	wantProblem(t, api.Post("/v1/deliveries/"+oldToken+"/reveal"), http.StatusGone, "this delivery link has been revoked")
	newLink := regexp.MustCompile(`/deliver/([A-Za-z0-9_-]+)`).FindStringSubmatch(func() string { m, _ := w.mail.last(); return m.Text }())
	if newLink == nil || newLink[1] == oldToken {
		t.Fatal("no new delivery link emailed")
	}
	if r := api.Get("/v1/deliveries/" + newLink[1]); r.Code != http.StatusOK {
		t.Fatalf("new link: %d %s", r.Code, r.Body)
	}

	other := api.Post("/v1/orders", map[string]any{"email": "someone@example.com", "items": []any{map[string]any{"sku": "cyberpunk-2077-gog-global", "quantity": 1}}})
	var otherOrder placedOrder
	_ = json.Unmarshal(other.Body.Bytes(), &otherOrder)
	wantProblem(t, api.Post("/v1/customer/orders/"+otherOrder.ID+"/delivery-link", bearer), http.StatusNotFound, "not found")
}

// TestCustomerAccessIsLimited: sign-in links are limited per address
// asked for and per source, alike for addresses with and without orders.
func TestCustomerAccessIsLimited(t *testing.T) {
	t.Parallel()
	limits := RateLimits{CustomerAccessPerSource: ports.RateLimit{Every: time.Hour, Burst: 3}, CustomerAccessPerEmail: ports.RateLimit{Every: time.Hour, Burst: 2}}
	h, _ := newTestHandlerWorld(t, Options{RateLimits: &limits, Limiter: memory.NewRateLimiter()}, &syncBuffer{})
	ask := func(peer, email string) *httptest.ResponseRecorder {
		b, _ := json.Marshal(map[string]any{"email": email})
		return from(h, peer, "POST", "/v1/customer/access", b)
	}
	const one, two = "198.51.100.10:1", "198.51.100.66:1"
	steps := []struct {
		peer, email string
		status      int
	}{
		{one, "nobody@example.com", http.StatusAccepted},
		{one, "Nobody+x@example.com", http.StatusAccepted},
		{two, "nobody@example.com", http.StatusTooManyRequests}, // the address's budget, from anywhere
		{one, "a@example.com", http.StatusAccepted},
		{one, "b@example.com", http.StatusTooManyRequests}, // the source's budget: 3 spent
		{two, "b@example.com", http.StatusAccepted},
	}
	for i, st := range steps {
		w := ask(st.peer, st.email)
		if w.Code != st.status {
			t.Fatalf("step %d (%s, %s): %d %s, want %d", i, st.peer, st.email, w.Code, w.Body, st.status)
		}
		if st.status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Fatalf("step %d: 429 without Retry-After", i)
		}
	}
}

// TestAccountPage: the account page asks for a link, signs in only from
// its POSTed form, lists the orders and sends the keys again; every form
// is bound by csrf and every page carries the reveal page's CSP.
func TestAccountPage(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o, oldToken := deliveredOrder(t, api, w, app)
	opts := Options{PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}}
	page, _ := NewHandler(app, opts, slog.New(slog.DiscardHandler))
	s := newServer(app, opts, slog.New(slog.DiscardHandler))
	do := func(method, path string, form url.Values) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := httptest.NewRecorder()
		page.ServeHTTP(resp, req)
		if csp := resp.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self'") {
			t.Fatalf("%s %s: CSP %q", method, path, csp)
		}
		if resp.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s %s: cacheable", method, path)
		}
		return resp
	}
	want := func(resp *httptest.ResponseRecorder, status int, text string) string {
		t.Helper()
		body := html.UnescapeString(resp.Body.String())
		if resp.Code != status || !strings.Contains(body, text) {
			t.Fatalf("status %d, want %d with %q:\n%s", resp.Code, status, text, body)
		}
		return body
	}
	want(do("GET", "/account", nil), http.StatusOK, `name="email"`)
	want(do("POST", "/account", url.Values{"email": {"buyer@example.com"}, "csrf": {"forged"}}), http.StatusForbidden, "did not come from this page")
	want(do("POST", "/account", url.Values{"email": {"buyer@example.com"}, "csrf": {s.accountCSRF(accountCSRFLabel)}}), http.StatusOK, customerAccessAnswer)
	token := signInToken(t, w)

	// Opening the link uses nothing: a mail scanner may prefetch it.
	want(do("GET", "/account/"+token, nil), http.StatusOK, "Show my orders")
	want(do("GET", "/account/"+token, nil), http.StatusOK, "Show my orders")
	want(do("POST", "/account/"+token, url.Values{"csrf": {s.accountCSRF(accountCSRFLabel)}}), http.StatusForbidden, "did not come from this page")
	body := want(do("POST", "/account/"+token, url.Values{"csrf": {s.accountCSRF(accountCSRFLabel + "|" + token)}}), http.StatusOK, "Order "+o.ID)
	want(do("POST", "/account/"+token, url.Values{"csrf": {s.accountCSRF(accountCSRFLabel + "|" + token)}}), http.StatusGone, "already used")

	session := regexp.MustCompile(`name="session" value="([^"]+)"`).FindStringSubmatch(body)
	if session == nil {
		t.Fatalf("no session in the orders page:\n%s", body)
	}
	resend := "/account/orders/" + o.ID + "/delivery-link"
	want(do("POST", resend, url.Values{"session": {session[1]}, "csrf": {"forged"}}), http.StatusForbidden, "did not come from this page")
	want(do("POST", resend, url.Values{"session": {session[1]}, "csrf": {s.accountCSRF(accountSessionLabel + "|" + session[1])}}),
		http.StatusOK, "A new link for order "+o.ID+" is on its way")
	wantProblem(t, api.Post("/v1/deliveries/"+oldToken+"/reveal"), http.StatusGone, "this delivery link has been revoked")

	w.clock.Advance(time.Hour)
	want(do("POST", resend, url.Values{"session": {session[1]}, "csrf": {s.accountCSRF(accountSessionLabel + "|" + session[1])}}),
		http.StatusUnauthorized, "Your session has ended")
}

// TestAccountPageShowsAPreorder: an order waiting for a pre-order's
// release shows the item awaiting_release with its release_date in the
// order, and the day its keys come on the account page.
func TestAccountPageShowsAPreorder(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	o := paidOrder(t, api, w, app, sandbox.PreorderProductID)
	var got struct {
		Status string `json:"status"`
		Items  []struct {
			Status      string `json:"status"`
			ReleaseDate string `json:"release_date"`
		} `json:"items"`
	}
	resp := api.Get("/v1/orders/"+o.ID, "Authorization: Bearer "+o.AccessToken)
	if err := json.Unmarshal(resp.Body.Bytes(), &got); err != nil || got.Status != "fulfilling" || len(got.Items) != 1 ||
		got.Items[0].Status != "awaiting_release" || got.Items[0].ReleaseDate == "" {
		t.Fatalf("order: %d %s", resp.Code, resp.Body)
	}
	day := got.Items[0].ReleaseDate
	opts := Options{PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}}
	page, _ := NewHandler(app, opts, slog.New(slog.DiscardHandler))
	s := newServer(app, opts, slog.New(slog.DiscardHandler))
	post := func(path string, form url.Values) string {
		req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := httptest.NewRecorder()
		page.ServeHTTP(resp, req)
		if resp.Code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.Code, resp.Body)
		}
		return html.UnescapeString(resp.Body.String())
	}
	post("/account", url.Values{"email": {"buyer@example.com"}, "csrf": {s.accountCSRF(accountCSRFLabel)}})
	token := signInToken(t, w)
	body := post("/account/"+token, url.Values{"csrf": {s.accountCSRF(accountCSRFLabel + "|" + token)}})
	if !strings.Contains(body, "Starfall Odyssey (Pre-order) <span class=\"muted\" data-testid=\"release\">(pre-order: keys on "+day+")</span>") {
		t.Fatalf("the account page does not show the release:\n%s", body)
	}
}
