package codeswholesale

import (
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/supplierhttp"
)

// noteUnknown logs once, at info, the fields of a JSON object of the given
// kind that the reference does not name: what the live API sends beyond
// it. Only names are logged, never values (a code's field could hold a
// key).
func (c *Client) noteUnknown(ctx context.Context, kind string, raw json.RawMessage, known []string) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return
	}
	for name := range obj {
		if slices.Contains(known, name) {
			continue
		}
		if _, seen := c.unknown.LoadOrStore(kind+"."+name, true); !seen {
			c.log.InfoContext(ctx, "codeswholesale sent a field keyward does not know", "object", kind, "field", name)
		}
	}
}

// noteValue logs once, at info, a value of a field keyward does not know
// (an order status, a code type): the value is one of CodesWholesale's
// names, never a key.
func (c *Client) noteValue(ctx context.Context, field, value string) {
	value = supplierhttp.Truncate(strings.TrimSpace(value), 64)
	if _, seen := c.unknown.LoadOrStore(field+"="+value, true); !seen {
		c.log.InfoContext(ctx, "codeswholesale sent a value keyward does not know", "field", field, "value", value)
	}
}

// Fields the reference names, by object.
var (
	productFields = []string{"productId", "identifier", "name", "platform", "quantity", "images", "regions", "languages", "prices",
		"releaseDate", "links", "badges", "regionDescription"}
	orderFields = []string{"orderId", "clientOrderId", "identifier", "totalPrice", "createdOn", "status", "products", "links"}
	codeFields  = []string{"codeId", "codeType", "status", "code", "filename", "links"}
)
