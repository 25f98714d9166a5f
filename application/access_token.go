package application

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// accessTokens derives an order's access token from the order id under a
// server secret: HMAC-SHA256(secret, "order-access-token\x00" + id). The
// token is never stored (the order keeps its hash), yet a replayed
// POST /v1/orders can return it again.
type accessTokens struct{ secret []byte }

func (a accessTokens) forOrder(orderID string) string {
	m := hmac.New(sha256.New, a.secret)
	m.Write([]byte("order-access-token\x00"))
	m.Write([]byte(orderID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requestFingerprint identifies what an order asked for, so an
// Idempotency-Key reused for another order is told apart from a retry.
func requestFingerprint(cmd PlaceOrderCommand) string {
	h := sha256.New()
	h.Write([]byte(strings.ToLower(strings.TrimSpace(cmd.Email))))
	for _, l := range cmd.Lines {
		h.Write([]byte{0})
		h.Write([]byte(l.SKU))
		h.Write([]byte("\x00" + strconv.Itoa(l.Quantity)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idempotencyKeyHash is how a client's key is stored.
func idempotencyKeyHash(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}
