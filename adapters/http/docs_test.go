package http

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDocsAssetsMatchRecordedHashes: the embedded docs UI is exactly what
// scripts/vendor-docs.sh recorded in docs/SHA256SUMS, file for file.
func TestDocsAssetsMatchRecordedHashes(t *testing.T) {
	t.Parallel()
	sums, err := docsAssets.ReadFile("docs/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(sums))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("SHA256SUMS line %q is not `<sha256>  <file>`", line)
		}
		recorded[name] = sum
	}
	if len(recorded) == 0 {
		t.Fatal("SHA256SUMS records no file")
	}
	embedded, err := fs.ReadDir(docsAssets, "docs")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range embedded {
		if e.Name() == "SHA256SUMS" {
			continue
		}
		want, ok := recorded[e.Name()]
		if !ok {
			t.Errorf("docs/%s is embedded but not recorded in SHA256SUMS", e.Name())
			continue
		}
		delete(recorded, e.Name())
		b, err := docsAssets.ReadFile("docs/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != want {
			t.Errorf("docs/%s has sha256 %x, SHA256SUMS records %s: re-run scripts/vendor-docs.sh", e.Name(), got, want)
		}
	}
	for name := range recorded {
		t.Errorf("SHA256SUMS records %s, which is not embedded", name)
	}
}

// TestDocsServedFromTheBinary: /docs references only this server's assets,
// under a policy without inline or remote scripts, and the assets answer
// with their types; Huma's CDN page is gone.
func TestDocsServedFromTheBinary(t *testing.T) {
	t.Parallel()
	_, _, app := newTestAPI(t)
	h, _ := NewHandler(app, Options{PageSecret: []byte("page-secret"), RateLimits: &RateLimits{}}, slog.New(slog.DiscardHandler))
	get := func(path string) *httptest.ResponseRecorder {
		resp := httptest.NewRecorder()
		h.ServeHTTP(resp, httptest.NewRequest(http.MethodGet, path, nil))
		return resp
	}

	page := get("/docs")
	body := page.Body.String()
	if page.Code != http.StatusOK || strings.Contains(body, "https://") || !strings.Contains(body, `src="/docs/assets/web-components.min.js"`) {
		t.Fatalf("/docs: %d\n%s", page.Code, body)
	}
	csp := page.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	scripts, _, _ := strings.Cut(strings.SplitN(csp, "script-src", 2)[1], ";")
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(scripts, "unsafe-inline") {
		t.Errorf("CSP %q lets inline or eval'd scripts run", csp)
	}
	if page.Header().Get("X-Content-Type-Options") != "nosniff" || page.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("/docs headers: %v", page.Header())
	}

	for path, ctype := range map[string]string{
		"/docs/assets/web-components.min.js": "text/javascript",
		"/docs/assets/styles.min.css":        "text/css",
		"/docs/assets/LICENSE":               "text/plain",
	} {
		resp := get(path)
		want, _ := docsAssets.ReadFile("docs/" + strings.TrimPrefix(path, "/docs/assets/"))
		if resp.Code != http.StatusOK || !strings.HasPrefix(resp.Header().Get("Content-Type"), ctype) || !bytes.Equal(resp.Body.Bytes(), want) {
			t.Errorf("%s: %d %q, %d bytes", path, resp.Code, resp.Header().Get("Content-Type"), resp.Body.Len())
		}
	}
	for _, path := range []string{"/docs/assets/missing.js", "/docs/assets/..%2Fdocs.go", "/docs/assets/"} {
		if resp := get(path); resp.Code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.Code)
		}
	}
}
