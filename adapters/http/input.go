package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
)

// plainText refuses, before any handler, a request whose path or query
// holds bytes no identifier, cursor or filter of keyward can: a NUL or
// other control character, or invalid UTF-8. They would reach the database
// (which refuses them with an error) or a log line. A bad path answers 404,
// since no resource has such a name; a bad query parameter answers 422
// naming it.
func plainText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isPlain(r.URL.Path) {
			writeProblem(w, http.StatusNotFound, "not found")
			return
		}
		for name, values := range r.URL.Query() {
			for _, v := range append([]string{name}, values...) {
				if !isPlain(v) {
					writeProblem(w, http.StatusUnprocessableEntity,
						fmt.Sprintf("query parameter %.40q holds control characters or invalid UTF-8", strings.ToValidUTF8(name, "?")))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isPlain reports whether s is valid UTF-8 without control characters.
func isPlain(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}

// writeProblem answers a problem+json outside Huma (middleware).
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(huma.ErrorModel{Title: http.StatusText(status), Status: status, Detail: detail})
}

// Bounds on what a problem repeats of the request: enough to find the
// mistake, never the whole input back.
const (
	maxProblemErrors = 10
	maxProblemValue  = 64
)

// boundProblem is a Huma transformer: a validation problem lists at most
// maxProblemErrors errors, and repeats a value of the input only when it is
// a short scalar (strings cut to maxProblemValue bytes; arrays and objects
// are left out).
func boundProblem(_ huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		return v, nil
	}
	if len(em.Errors) > maxProblemErrors {
		em.Errors = em.Errors[:maxProblemErrors]
	}
	for _, d := range em.Errors {
		switch val := d.Value.(type) {
		case string:
			if len(val) > maxProblemValue {
				d.Value = strings.ToValidUTF8(val[:maxProblemValue], "") + "…"
			}
		case nil, bool, int, int64, float64, json.Number:
		default:
			d.Value = nil
		}
	}
	if len(em.Detail) > 512 {
		em.Detail = strings.ToValidUTF8(em.Detail[:512], "") + "…"
	}
	return em, nil
}
