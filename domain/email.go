package domain

import (
	"fmt"
	"net/mail"
	"strings"
)

// Email is a syntactically valid, bare e-mail address (no display name).
type Email struct{ addr string }

// ParseEmail validates an address. It returns ErrInvalidEmail when the input
// is not a single bare address.
func ParseEmail(s string) (Email, error) {
	s = strings.TrimSpace(s)
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return Email{}, fmt.Errorf("%w: %q", ErrInvalidEmail, s)
	}
	return Email{addr: s}, nil
}

// String returns the address, "" for the zero value.
func (e Email) String() string { return e.addr }
