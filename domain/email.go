package domain

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Email is a syntactically valid, bare e-mail address (no display name).
type Email struct{ addr string }

// ParseEmail validates an address. It returns ErrInvalidEmail when the input
// is not a single bare address, is not valid UTF-8, or holds a control or
// format character (such as U+202E, which turns text around where it is
// shown): an address is written into mail headers and shown to admins.
// Other non-ASCII characters are allowed (RFC 6532).
func ParseEmail(s string) (Email, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return unicode.In(r, unicode.Cc, unicode.Cf) }) {
		return Email{}, fmt.Errorf("%w: control or format characters are not allowed", ErrInvalidEmail)
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return Email{}, fmt.Errorf("%w: %q", ErrInvalidEmail, s)
	}
	return Email{addr: s}, nil
}

// String returns the address, "" for the zero value.
func (e Email) String() string { return e.addr }
