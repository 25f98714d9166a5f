// Package application holds keyward's use cases, one per file. They depend
// on the domain and on ports only; adapters are chosen in bootstrap.
package application

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// Application errors the driving adapters map to responses.
var (
	// ErrUnavailable means a dependency is down: try again later.
	ErrUnavailable = errors.New("temporarily unavailable")
)

// newToken returns a 256-bit random token, base64url without padding.
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// zero overwrites key material that is no longer needed.
func zero(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
