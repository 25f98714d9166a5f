package http

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"path"
	"strings"
	"time"
)

// docsAssets is the API docs UI, Stoplight Elements' web-components build,
// vendored by scripts/vendor-docs.sh (version and hashes in
// docs/SHA256SUMS): /docs works without internet.
//
//go:embed docs
var docsAssets embed.FS

// docsCSP is the docs page's policy. Scripts and styles come only from this
// server; styles also allow 'unsafe-inline' because Elements (React with
// CSS-in-JS) writes <style> elements and style attributes at run time that
// no nonce can cover. The relaxation is scoped to /docs: a page that shows
// the public API description, holds no secret and takes no form; the reveal
// page keeps its nonce-only policy. connect-src 'self' lets it load the
// OpenAPI document and "try it" against this server.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
	"connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="stylesheet" href="/docs/assets/styles.min.css">
<script src="/docs/assets/web-components.min.js"></script>
<style>html,body{height:100%;margin:0}</style>
</head>
<body>
<elements-api apiDescriptionUrl="{{.SpecURL}}" router="hash" layout="sidebar" tryItCredentialsPolicy="same-origin"></elements-api>
</body>
</html>
`))

// registerDocs serves the API docs page at /docs and its embedded assets
// under /docs/assets/; specURL is the OpenAPI document the page renders.
func (s *Server) registerDocs(mux *http.ServeMux, title, specURL string) {
	var page bytes.Buffer
	if err := docsPage.Execute(&page, struct{ Title, SpecURL string }{title, specURL}); err != nil {
		panic("docs page template: " + err.Error()) // a constant template and strings: a programmer error
	}
	mux.HandleFunc("GET /docs", func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Frame-Options", "DENY")
		_, _ = w.Write(page.Bytes())
	})
	mux.HandleFunc("GET /docs/assets/{name}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		b, err := docsAssets.ReadFile(path.Join("docs", name))
		if err != nil || strings.HasPrefix(name, ".") {
			writeProblem(w, http.StatusNotFound, "not found")
			return
		}
		if !strings.Contains(name, ".") || strings.HasSuffix(name, ".txt") {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8") // LICENSE, SHA256SUMS
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	})
}
