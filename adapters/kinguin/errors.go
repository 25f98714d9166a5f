package kinguin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// APIError is an error answer of Kinguin. It unwraps to
// ports.ErrSupplierTemporary, ports.ErrSupplierPermanent or
// domain.ErrNotFound by its kind and status (kinds.go of the reference).
type APIError struct {
	Status int    // HTTP status
	Kind   string // Kinguin's error kind, "" when the body had none
	Detail string
	Trace  string
	class  error
	advice string
}

func (e *APIError) Error() string {
	kind := e.Kind
	if kind == "" {
		kind = http.StatusText(e.Status)
	}
	msg := fmt.Sprintf("%v: %s (HTTP %d)", e.class, kind, e.Status)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.advice != "" {
		msg += "; " + e.advice
	}
	if e.Trace != "" {
		msg += " [trace " + e.Trace + "]"
	}
	return msg
}

func (e *APIError) Unwrap() error { return e.class }

// errorBody is Kinguin's error document; `title` in the docs is `type` in
// real answers. Context fields are not needed to classify.
type errorBody struct {
	Kind   string `json:"kind"`
	Status int    `json:"status"`
	Title  string `json:"title"`
	Type   string `json:"type"`
	Detail string `json:"detail"`
	Trace  string `json:"trace"`
}

// rule is how a kind is treated; advice tells the operator what to do.
type rule struct {
	class  error
	advice string
}

// kinds classifies the documented and legacy error kinds. `retryable` in
// bodies is deprecated and ignored.
var kinds = map[string]rule{
	"ConstraintViolation":   {ports.ErrSupplierPermanent, "the request was refused as invalid"},
	"Authorization":         {ports.ErrSupplierPermanent, "check KEYWARD_KINGUIN_API_KEY and the store's IP whitelist, then retry the order"},
	"Http":                  {ports.ErrSupplierPermanent, ""},
	"InsufficientBalance":   {ports.ErrSupplierPermanent, "the Kinguin balance is too low: top up the account, then retry the order's fulfilment"},
	"BalanceRequired":       {ports.ErrSupplierPermanent, "the Kinguin balance is too low: top up the account, then retry the order's fulfilment"},
	"ProductUnavailable":    {ports.ErrSupplierPermanent, "the product is gone or no offer matches our price any more: sync the catalog, then retry or refund"},
	"Preorder":              {ports.ErrSupplierPermanent, ""},
	"OrderNotFound":         {domain.ErrNotFound, ""},
	"OrderNotSupported":     {ports.ErrSupplierPermanent, ""},
	"NoKeysToReturn":        {ports.ErrSupplierPermanent, ""},
	"OrderFailed":           {ports.ErrSupplierPermanent, "Kinguin could not place the order; a retry looks it up by our external id first"},
	"ResourceLock":          {ports.ErrSupplierTemporary, ""},
	"HttpClient":            {ports.ErrSupplierTemporary, ""},
	"Error":                 {ports.ErrSupplierTemporary, ""},
	"OrderNotDispatchedYet": {ports.ErrKeysPending, ""},
	"ProcessingPreorder":    {ports.ErrKeysPending, ""},
}

// parseError classifies a non-2xx answer: by its kind when known, else by
// its status (429, 408 and 5xx retry; 404 is not found; other 4xx final).
func parseError(status int, raw []byte) *APIError {
	var b errorBody
	_ = json.Unmarshal(raw, &b) // a body that is not Kinguin's JSON classifies by status
	e := &APIError{Status: status, Kind: strings.TrimSpace(b.Kind), Detail: truncate(strings.TrimSpace(b.Detail), 300), Trace: b.Trace}
	if r, ok := kinds[e.Kind]; ok && status != http.StatusTooManyRequests && status < 500 {
		e.class, e.advice = r.class, r.advice
		return e
	}
	if r, ok := kinds[e.Kind]; ok && r.class == ports.ErrSupplierTemporary {
		e.class = r.class
		return e
	}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		e.class = ports.ErrSupplierTemporary
	case status == http.StatusNotFound:
		e.class = domain.ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.class, e.advice = ports.ErrSupplierPermanent, kinds["Authorization"].advice
	default:
		e.class = ports.ErrSupplierPermanent
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
