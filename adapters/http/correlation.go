package http

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"

	"github.com/keyward/keyward/ports"
)

// RequestIDHeader carries the correlation id in requests and responses.
const RequestIDHeader = "X-Request-ID"

// correlate gives each request a correlation id: the client's X-Request-ID
// when it is well-formed, a new one otherwise. It is echoed in the answer
// and travels in the request's context to the messages and log lines the
// request causes.
func correlate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !wellFormedRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(ports.WithCorrelationID(r.Context(), id)))
	})
}

// wellFormedRequestID accepts 8 to 128 characters of letters, digits and
// "-_.:": what tracing systems and load balancers send, and nothing that
// could forge a log line or a header.
func wellFormedRequestID(id string) bool {
	if len(id) < 8 || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
