package bootstrap_test

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/keyward/keyward/bootstrap"
)

// TestSecretStrength: beyond loopback, the secrets keyward signs with need
// 32 bytes of key material (hex and base64 counted decoded) and provider
// secrets 16 characters; everywhere, a repeated pattern or a README
// placeholder is refused, and the public dev IPN secret as any other
// secret; the public dev IPN secret as the IPN secret only beyond loopback.
// Each refusal names the variable and says what to do.
func TestSecretStrength(t *testing.T) {
	t.Parallel()
	const ipn = "an-ipn-secret-from-the-dashboard" // strong enough to pass beyond loopback
	public := []string{"KEYWARD_HTTP_ADDR", "0.0.0.0:8080", "KEYWARD_NOWPAYMENTS_IPN_SECRET", ipn}
	behindProxy := []string{"KEYWARD_PUBLIC_BASE_URL", "https://keys.example.com", "KEYWARD_NOWPAYMENTS_IPN_SECRET", ipn}
	loopback := []string{"KEYWARD_HTTP_ADDR", "127.0.0.1:8080"}
	kinguin := func(secret string) []string {
		return []string{"KEYWARD_SUPPLIER", "kinguin", "KEYWARD_KINGUIN_API_KEY", "k", "KEYWARD_KINGUIN_WEBHOOK_SECRET", secret}
	}
	codesWholesale := func(signature string) []string {
		return []string{"KEYWARD_SUPPLIERS", "codeswholesale", "KEYWARD_CODESWHOLESALE_CLIENT_ID", "id", "KEYWARD_CODESWHOLESALE_CLIENT_SECRET", "s",
			"KEYWARD_CODESWHOLESALE_CLIENT_SIGNATURE", signature}
	}
	raw32 := "Zq7!xP2#kM9$wR4%tY6^uI8&oL1*aS3("
	hex32 := hex.EncodeToString([]byte(raw32))
	b64of32 := base64.StdEncoding.EncodeToString([]byte(raw32))
	b64of24 := base64.RawURLEncoding.EncodeToString([]byte(raw32[:24])) // 32 characters, 24 bytes

	for _, c := range []struct {
		name string
		env  [][]string
		want string // the variable the error names; "" when accepted
		fix  string // what the error tells to do
	}{
		{"one-character page secret beyond loopback", [][]string{public, {"KEYWARD_PAGE_SECRET", "a"}}, "KEYWARD_PAGE_SECRET", "openssl rand"},
		{"one-character page secret behind a proxy", [][]string{behindProxy, {"KEYWARD_PAGE_SECRET", "a"}}, "KEYWARD_PAGE_SECRET", "openssl rand"},
		{"one-character page secret on loopback", [][]string{loopback, {"KEYWARD_PAGE_SECRET", "a"}}, "KEYWARD_PAGE_SECRET", "openssl rand"},
		{"short page secret on loopback", [][]string{loopback, {"KEYWARD_PAGE_SECRET", "dev-page"}}, "", ""},
		{"31 raw bytes beyond loopback", [][]string{public, {"KEYWARD_PAGE_SECRET", raw32[:31]}}, "KEYWARD_PAGE_SECRET", "key material"},
		{"32 raw bytes beyond loopback", [][]string{public, {"KEYWARD_PAGE_SECRET", raw32}}, "", ""},
		{"hex of 32 bytes", [][]string{public, {"KEYWARD_PAGE_SECRET", hex32}}, "", ""},
		{"hex of 31 bytes (62 characters)", [][]string{public, {"KEYWARD_PAGE_SECRET", hex32[:62]}}, "KEYWARD_PAGE_SECRET", "hex"},
		{"base64 of 32 bytes", [][]string{public, {"KEYWARD_PAGE_SECRET", b64of32}}, "", ""},
		{"base64 of 24 bytes, 32 characters", [][]string{public, {"KEYWARD_PAGE_SECRET", b64of24}}, "KEYWARD_PAGE_SECRET", "base64"},
		{"short token secret beyond loopback", [][]string{public, {"KEYWARD_PAGE_SECRET", hex32, "KEYWARD_TOKEN_SECRET", "sixteen-bytes-ok"}}, "KEYWARD_TOKEN_SECRET", "openssl rand"},
		{"token secret of 32 bytes", [][]string{public, {"KEYWARD_TOKEN_SECRET", b64of32}}, "", ""},
		{"short token secret on loopback", [][]string{loopback, {"KEYWARD_TOKEN_SECRET", "sixteen-bytes-ok"}}, "", ""},

		{"15-character IPN secret beyond loopback", [][]string{public, {"KEYWARD_NOWPAYMENTS_IPN_SECRET", "fifteen-chars!!"}}, "KEYWARD_NOWPAYMENTS_IPN_SECRET", "dashboard"},
		{"16-character IPN secret beyond loopback", [][]string{public, {"KEYWARD_NOWPAYMENTS_IPN_SECRET", "sixteen-chars!!!"}}, "", ""},
		{"dev IPN secret beyond loopback", [][]string{{"KEYWARD_HTTP_ADDR", "0.0.0.0:8080"}}, "KEYWARD_NOWPAYMENTS_IPN_SECRET", "dashboard"},
		{"dev IPN secret on loopback", [][]string{loopback}, "", ""},
		{"15-character Kinguin secret beyond loopback", [][]string{public, kinguin("fifteen-chars!!")}, "KEYWARD_KINGUIN_WEBHOOK_SECRET", "dashboard"},
		{"16-character Kinguin secret beyond loopback", [][]string{public, kinguin("sixteen-chars!!!")}, "", ""},
		{"short Kinguin secret on loopback", [][]string{loopback, kinguin("dev-hook")}, "", ""},

		{"repeated character on loopback", [][]string{loopback, {"KEYWARD_PAGE_SECRET", strings.Repeat("a", 64)}}, "KEYWARD_PAGE_SECRET", "openssl rand"},
		{"repeated pattern beyond loopback", [][]string{public, {"KEYWARD_PAGE_SECRET", strings.Repeat("ab12", 16)}}, "KEYWARD_PAGE_SECRET", "openssl rand"},
		{"repeated half beyond loopback", [][]string{public, {"KEYWARD_TOKEN_SECRET", strings.Repeat(raw32[:20], 2)}}, "KEYWARD_TOKEN_SECRET", "openssl rand"},
		{"repeated IPN secret on loopback", [][]string{loopback, {"KEYWARD_NOWPAYMENTS_IPN_SECRET", strings.Repeat("x", 20)}}, "KEYWARD_NOWPAYMENTS_IPN_SECRET", "openssl rand"},
		{"repeated Kinguin secret on loopback", [][]string{loopback, kinguin(strings.Repeat("secret", 4))}, "KEYWARD_KINGUIN_WEBHOOK_SECRET", "openssl rand"},
		{"repeated admin key on loopback", [][]string{loopback, {"KEYWARD_ADMIN_API_KEYS", "a-real-admin-key-0001," + strings.Repeat("k", 20)}}, "KEYWARD_ADMIN_API_KEYS", "openssl rand"},
		{"README placeholder on loopback", [][]string{loopback, {"KEYWARD_NOWPAYMENTS_IPN_SECRET", "<IPN secret, at least 16 characters>"}}, "KEYWARD_NOWPAYMENTS_IPN_SECRET", "openssl rand"},
		{"README placeholder for CodesWholesale", [][]string{loopback, codesWholesale("<client signature, for postbacks>")}, "KEYWARD_CODESWHOLESALE_CLIENT_SIGNATURE", "openssl rand"},
		{"short CodesWholesale signature beyond loopback", [][]string{public, codesWholesale("short-signature")}, "KEYWARD_CODESWHOLESALE_CLIENT_SIGNATURE", "dashboard"},
		{"CodesWholesale signature beyond loopback", [][]string{public, codesWholesale("00000000-0000-0000-0000-00000000519e")}, "", ""},
		{"dev IPN secret as the Kinguin secret beyond loopback", [][]string{public, kinguin(bootstrap.DevIPNSecret)}, "KEYWARD_KINGUIN_WEBHOOK_SECRET", "openssl rand"},
		{"dev IPN secret as the token secret on loopback", [][]string{loopback, {"KEYWARD_TOKEN_SECRET", bootstrap.DevIPNSecret}}, "KEYWARD_TOKEN_SECRET", "openssl rand"},
		{"dev IPN secret as an admin key on loopback", [][]string{loopback, {"KEYWARD_ADMIN_API_KEYS", bootstrap.DevIPNSecret}}, "KEYWARD_ADMIN_API_KEYS", "openssl rand"},
		{"15-character admin key beyond loopback", [][]string{public, {"KEYWARD_ADMIN_API_KEYS", "fifteen-chars!!"}}, "KEYWARD_ADMIN_API_KEYS", "openssl rand"},
		{"16-character admin key beyond loopback", [][]string{public, {"KEYWARD_ADMIN_API_KEYS", "sixteen-chars!!!"}}, "", ""},
		{"README placeholder for Kinguin", [][]string{loopback, kinguin("<the secret you set for the store's webhooks>")}, "KEYWARD_KINGUIN_WEBHOOK_SECRET", "openssl rand"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var kv []string
			for _, e := range c.env {
				kv = append(kv, e...)
			}
			_, err := bootstrap.LoadConfig(env(kv...))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("accepted, want an error naming %s", c.want)
			case c.want != "":
				msg := err.Error()
				if !strings.HasPrefix(msg, c.want) || !strings.Contains(msg, c.fix) || strings.Contains(msg, "\n") {
					t.Fatalf("error %q: want one line starting with %s and saying %q", msg, c.want, c.fix)
				}
			}
		})
	}
}
