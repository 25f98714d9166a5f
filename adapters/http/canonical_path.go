package http

import (
	"net/http"
	"path"
	"strings"
)

// canonicalPath answers 404 for a path that is not in its clean form
// (doubled slashes, dot segments). Go's ServeMux would redirect it to the
// clean path, and for /deliver/TOKEN and /v1/deliveries/TOKEN that
// redirect puts the token in a Location header that caches and logs keep.
// The answer never repeats the path and is never stored. The path is
// judged as sent (escaped), as ServeMux judges it: an escaped slash inside
// a segment (an id that holds "%2F%2F") is no empty segment, and reaches
// the handler that refuses it as it should (an unknown id, a failed
// authentication).
func canonicalPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p != cleanPath(p) {
			w.Header().Set("Cache-Control", "no-store")
			writeProblem(w, http.StatusNotFound, "not found: the path has empty or dot segments; use its canonical form")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// cleanPath is the path ServeMux would redirect p to: rooted, without
// empty or dot segments, keeping a trailing slash.
func cleanPath(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	np := path.Clean(p)
	if strings.HasSuffix(p, "/") && np != "/" {
		np += "/"
	}
	return np
}
