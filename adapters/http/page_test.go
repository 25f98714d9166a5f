package http

import (
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestPageTakesStatusAndMessageFromTheErrorTable: the reveal page answers
// the status errorTable gives and shows the row's customer message.
func TestPageTakesStatusAndMessageFromTheErrorTable(t *testing.T) {
	t.Parallel()
	api, w, app := newTestAPI(t)
	opts := Options{PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}}
	page, _ := NewHandler(app, opts, slog.New(slog.DiscardHandler))
	s := newServer(app, opts, slog.New(slog.DiscardHandler))
	do := func(method, token string) *httptest.ResponseRecorder {
		var body *strings.Reader
		if method == http.MethodPost {
			body = strings.NewReader(url.Values{"csrf": {s.csrf(token)}}.Encode())
		} else {
			body = strings.NewReader("")
		}
		req := httptest.NewRequest(method, "/deliver/"+token, body)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp := httptest.NewRecorder()
		page.ServeHTTP(resp, req)
		return resp
	}
	want := func(t *testing.T, resp *httptest.ResponseRecorder, status int, message string) {
		t.Helper()
		if resp.Code != status {
			t.Fatalf("status %d, want %d", resp.Code, status)
		}
		if !strings.Contains(html.UnescapeString(resp.Body.String()), message) {
			t.Fatalf("page does not say %q:\n%s", message, resp.Body)
		}
	}
	unknown := strings.Repeat("a", 43)
	want(t, do(http.MethodGet, unknown), http.StatusNotFound, "This link is not valid. Check that you copied the whole link from your email.")
	want(t, do(http.MethodPost, unknown), http.StatusNotFound, "This link is not valid.")

	_, token := deliveredOrder(t, api, w, app)
	w.vault.down.Store(true)
	resp := do(http.MethodPost, token)
	want(t, resp, http.StatusServiceUnavailable, "cannot be opened right now")
	if got := resp.Header().Get("Retry-After"); got != "5" {
		t.Fatalf("Retry-After %q", got)
	}
	w.vault.down.Store(false)
	want(t, do(http.MethodPost, token), http.StatusOK, "Your keys")

	w.expire()
	want(t, do(http.MethodGet, token), http.StatusGone, "This link has expired.")
	want(t, do(http.MethodPost, token), http.StatusGone, "This link has expired.")
}
