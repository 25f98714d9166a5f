package http

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestNonCanonicalTokenPathsAreNotRedirected: Go's ServeMux would answer a
// path with empty or dot segments with a redirect whose Location carries
// the delivery token; keyward answers 404 problem+json, not stored, and no
// header repeats the token.
func TestNonCanonicalTokenPathsAreNotRedirected(t *testing.T) {
	t.Parallel()
	const token = "tok3n-SECRET-0123456789"
	h := newTestHandler(t, RateLimits{}, &syncBuffer{})
	for _, target := range []string{
		"//v1/deliveries/" + token,
		"/v1//deliveries/" + token,
		"/deliver/../deliver/" + token,
		"//deliver/" + token,
		"/deliver/./" + token,
		"/v1/deliveries/" + token + "/../" + token,
	} {
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
				if rec.Code != http.StatusNotFound {
					t.Errorf("%s: status %d, want 404", method, rec.Code)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("%s: Content-Type %q, want problem+json", method, ct)
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("%s: Cache-Control %q, want no-store", method, cc)
				}
				for name, values := range rec.Header() {
					if strings.Contains(strings.Join(values, " "), token) {
						t.Errorf("%s: header %s carries the token: %q", method, name, values)
					}
				}
				if strings.Contains(rec.Body.String(), token) {
					t.Errorf("%s: the body repeats the token", method)
				}
			}
		})
	}
}

// TestCanonicalPathsStillServe: the check lets clean paths through,
// trailing slash included.
func TestCanonicalPathsStillServe(t *testing.T) {
	t.Parallel()
	h := newTestHandler(t, RateLimits{}, &syncBuffer{})
	for _, target := range []string{"/v1/products", "/healthz"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", target, rec.Code)
		}
	}
}
