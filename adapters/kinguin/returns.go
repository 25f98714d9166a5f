package kinguin

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

var _ ports.SupplierReturns = (*Client)(nil)

// returnedKey is one key of Kinguin's answer to a return.
type returnedKey struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// ReturnKeys sends POST /v2/order/{orderId}/keys/return, one try: Kinguin
// takes a return once per order, so a lost answer is not asked again (a
// second return would be refused NoKeysToReturn). Keys it answers RETURNED
// (or REFUNDED) were taken back; the others were kept. Any refusal
// (NoKeysToReturn, an order it does not know, one it does not support)
// returns ports.ErrReturnRefused with Kinguin's kind and detail;
// NoKeysToReturn wraps ports.ErrNothingToReturn too.
func (c *Client) ReturnKeys(ctx context.Context, supplierOrderID string) (ports.KeyReturn, error) {
	if supplierOrderID == "" {
		return ports.KeyReturn{}, fmt.Errorf("kinguin return keys: %w: no order id", ports.ErrReturnRefused)
	}
	var keys []returnedKey
	err := c.call(ctx, supplierhttp.Request{Method: "POST", Path: "/v2/order/" + url.PathEscape(supplierOrderID) + "/keys/return", Once: true}, &keys)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && !errors.Is(err, ports.ErrSupplierTemporary) {
			if apiErr.Kind == "NoKeysToReturn" {
				return ports.KeyReturn{}, fmt.Errorf("kinguin return keys of %s: %w (%w): %s", supplierOrderID, ports.ErrReturnRefused, ports.ErrNothingToReturn, refusal(apiErr))
			}
			return ports.KeyReturn{}, fmt.Errorf("kinguin return keys of %s: %w: %s", supplierOrderID, ports.ErrReturnRefused, refusal(apiErr))
		}
		return ports.KeyReturn{}, fmt.Errorf("kinguin return keys of %s: %w", supplierOrderID, err)
	}
	var r ports.KeyReturn
	for _, k := range keys {
		switch strings.ToUpper(strings.TrimSpace(k.Status)) {
		case "RETURNED", "REFUNDED":
			r.Returned++
		default:
			r.Kept++
		}
	}
	return r, nil
}

// refusal is a refusal's kind and detail, bounded.
func refusal(e *APIError) string {
	s := e.Kind
	if s == "" {
		s = fmt.Sprintf("HTTP %d", e.Status)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return supplierhttp.Truncate(s, 200)
}
