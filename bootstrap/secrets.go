package bootstrap

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Secret strength. Beyond loopback (the listener or the public base URL
// is not a loopback address, see Validate) a secret keyward signs with
// needs minSigningKeyBytes of key material and a secret a provider's
// dashboard issues (and keyward only compares) minSecretLen characters.
// Everywhere, loopback included, a secret may not be one character or a
// short pattern repeated, nor a placeholder copied from the README: such
// a value is never what anyone meant to deploy, and refusing it on a
// developer's machine catches it before it is copied to a server. The
// public dev IPN secret (DevIPNSecret) is such a value: it is refused as
// every secret, loopback included, except as the NOWPayments IPN secret
// itself on loopback (or on a worker, which receives no IPNs), where it is
// the default that makes the sandbox work out of the box and a loopback
// listener takes no payment notification from anyone else.
const (
	// minSigningKeyBytes is 256 bits: the HMAC-SHA256 key size.
	minSigningKeyBytes = 32
	// minSecretLen is the shortest admin key or provider secret accepted
	// beyond loopback.
	minSecretLen = 16
)

// keyMaterial is how many bytes of key a secret holds: a value written in
// hex (an even number of hex digits) or base64 (standard or URL alphabet,
// padded or not) counts decoded, as `openssl rand -hex 32` and
// `openssl rand -base64 32` write 32 bytes; any other value counts raw.
// Counting decoded is the cautious reading: text that happens to look
// like base64 counts as fewer bytes than it has characters.
func keyMaterial(v []byte) int {
	s := string(v)
	if len(s)%2 == 0 && hexDigits.MatchString(s) {
		return hex.DecodedLen(len(s))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return len(b)
		}
	}
	return len(v)
}

var hexDigits = regexp.MustCompile(`^[0-9A-Fa-f]+$`)

// weakness says why a secret is low-entropy wherever keyward runs, or ""
// when it is not: one character, a pattern of up to half its length
// repeated, a README placeholder (<...>), or the public dev IPN secret
// (DevIPNSecret, a documented default: only the IPN secret itself may be
// it, and only on loopback, which validateSecrets decides).
func weakness(v string) string {
	switch {
	case v == DevIPNSecret:
		return "is keyward's public dev IPN secret, printed in the README"
	case strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">"):
		return "is a placeholder from the documentation"
	case repeated(v):
		return "is one character or a short pattern repeated"
	}
	return ""
}

// repeated reports whether v is one character (the shortest repetition,
// as in KEYWARD_PAGE_SECRET=a) or a shorter unit repeated twice or more.
func repeated(v string) bool {
	if utf8.RuneCountInString(v) == 1 {
		return true
	}
	for n := 1; n <= len(v)/2; n++ {
		if len(v)%n == 0 && strings.Repeat(v[:n], len(v)/n) == v {
			return true
		}
	}
	return false
}

// validateSecrets checks the strength of every secret keyward verifies or
// signs with; local says keyward is reachable from this machine only.
func (c Config) validateSecrets(local bool) error {
	const fix = "set a random value, such as the output of `openssl rand -hex 32`"
	for _, s := range []struct {
		name    string
		value   string
		signing bool // keyward signs with it; else a provider issues it
	}{
		{"KEYWARD_PAGE_SECRET", string(c.PageSecret), true},
		{"KEYWARD_TOKEN_SECRET", string(c.Operations.TokenSecret), true},
		{"KEYWARD_NOWPAYMENTS_IPN_SECRET", c.IPNSecret, false},
		{"KEYWARD_KINGUIN_WEBHOOK_SECRET", c.Supplier.KinguinWebhookSecret, false},
		{"KEYWARD_CODESWHOLESALE_CLIENT_SIGNATURE", c.Supplier.CodesWholesale.CodesWholesaleClientSignature, false},
	} {
		if s.value == "" {
			continue // unset: random (page), the page secret (token), or refused where needed
		}
		if s.name == "KEYWARD_NOWPAYMENTS_IPN_SECRET" && c.Messaging.Role == RoleWorker {
			continue // a worker receives no IPNs: the API verifies them
		}
		if why := weakness(s.value); why != "" && (s.name != "KEYWARD_NOWPAYMENTS_IPN_SECRET" || s.value != DevIPNSecret) {
			return fmt.Errorf("%s %s: anyone could guess it; %s", s.name, why, fix)
		}
		if local {
			continue
		}
		if s.signing && keyMaterial([]byte(s.value)) < minSigningKeyBytes {
			return fmt.Errorf("%s holds %d bytes of key material, under the %d needed beyond loopback (hex and base64 count decoded): %s",
				s.name, keyMaterial([]byte(s.value)), minSigningKeyBytes, fix)
		}
		if !s.signing && len(s.value) < minSecretLen {
			return fmt.Errorf("%s is shorter than %d characters, too easy to guess beyond loopback: set the long random secret the provider's dashboard generates",
				s.name, minSecretLen)
		}
	}
	if c.IPNSecret == DevIPNSecret && !local && c.Messaging.Role != RoleWorker {
		return fmt.Errorf("KEYWARD_NOWPAYMENTS_IPN_SECRET is the public dev default, so anyone could sign payments beyond loopback (%s, %s): set the IPN secret from the NOWPayments dashboard",
			c.HTTPAddr, c.PublicBaseURL)
	}
	for i, k := range c.AdminAPIKeys {
		if why := weakness(k); why != "" {
			return fmt.Errorf("KEYWARD_ADMIN_API_KEYS: key %d %s: anyone could guess it; %s", i+1, why, fix)
		}
		if !local && len(k) < minSecretLen {
			return fmt.Errorf("KEYWARD_ADMIN_API_KEYS: key %d is shorter than %d characters, too easy to guess beyond loopback: %s", i+1, minSecretLen, fix)
		}
	}
	return nil
}
