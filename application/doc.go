// Package application holds keyward's use cases, one per file. They depend
// on the domain and on ports only; adapters are chosen in bootstrap.
package application

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Application errors the driving adapters map to responses.
var (
	// ErrUnavailable means a dependency is down: try again later.
	ErrUnavailable = errors.New("temporarily unavailable")
	// ErrRateLimited means the caller asked too often: RetryAfter says how
	// long to wait.
	ErrRateLimited = errors.New("too many requests")
)

// limitError is an ErrRateLimited with the time to wait.
type limitError struct {
	wait time.Duration
	msg  string
}

func (e limitError) Error() string        { return e.msg }
func (e limitError) Is(target error) bool { return target == ErrRateLimited }

func rateLimited(wait time.Duration, msg string) error {
	return limitError{wait: max(wait, time.Second), msg: msg}
}

// RetryAfter returns how long a rate-limited caller should wait before
// asking again, and false when err is not a rate limit.
func RetryAfter(err error) (time.Duration, bool) {
	var le limitError
	if errors.As(err, &le) {
		return le.wait, true
	}
	return 0, false
}

// newToken returns a 256-bit random token, base64url without padding.
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// require panics when a use case is built without one of its dependencies,
// given as name, value pairs: a wiring mistake stops the program at start-up
// with the name of what is missing, not at the first request.
func require(useCase string, deps ...any) {
	for i := 0; i+1 < len(deps); i += 2 {
		v := deps[i+1]
		if v == nil {
			panic(fmt.Sprintf("application.New%s: %v is nil", useCase, deps[i]))
		}
		if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Func || rv.Kind() == reflect.Map) && rv.IsNil() {
			panic(fmt.Sprintf("application.New%s: %v is nil", useCase, deps[i]))
		}
	}
}
