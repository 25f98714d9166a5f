package kinguin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// APIError is an error answer of Kinguin. It unwraps to
// ports.ErrSupplierTemporary, ports.ErrSupplierPermanent (as
// ports.ErrBalanceTooLow for a balance too low) or domain.ErrNotFound by
// its kind and status, as the reference's error table says (kinds).
type APIError struct {
	Status int    // HTTP status
	Kind   string // Kinguin's error kind, "" when the body had none
	Detail string
	Trace  string
	// ReleaseDate is the releaseDate context field of ProcessingPreorder,
	// zero when the answer had none (or none that parses).
	ReleaseDate time.Time
	class       error
	advice      string
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
// real answers. Of the context fields only releaseDate is read (a
// pre-order's, with ProcessingPreorder); its format is not documented.
type errorBody struct {
	Kind        string          `json:"kind"`
	Status      int             `json:"status"`
	Title       string          `json:"title"`
	Type        string          `json:"type"`
	Detail      string          `json:"detail"`
	Trace       string          `json:"trace"`
	ReleaseDate json.RawMessage `json:"releaseDate"`
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
	"InsufficientBalance":   {ports.ErrBalanceTooLow, "the Kinguin balance is too low: top up the account, then retry the order's fulfilment"},
	"BalanceRequired":       {ports.ErrBalanceTooLow, "the Kinguin balance is too low: top up the account, then retry the order's fulfilment"},
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

// parseError classifies a non-2xx answer: a kind that retries, or a 429,
// 408 or 5xx, is temporary; otherwise a known kind decides; otherwise 404
// is not found and any other 4xx final.
func parseError(status int, raw []byte) *APIError {
	var b errorBody
	_ = json.Unmarshal(raw, &b) // a body that is not Kinguin's JSON classifies by status
	e := &APIError{Status: status, Kind: strings.TrimSpace(b.Kind), Detail: supplierhttp.Truncate(strings.TrimSpace(b.Detail), 300), Trace: b.Trace}
	r, known := kinds[e.Kind]
	switch {
	case known && r.class == ports.ErrSupplierTemporary,
		status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		e.class = ports.ErrSupplierTemporary
	case known:
		e.class, e.advice = r.class, r.advice
	case status == http.StatusNotFound:
		e.class = domain.ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.class, e.advice = ports.ErrSupplierPermanent, kinds["Authorization"].advice
	default:
		e.class = ports.ErrSupplierPermanent
	}
	if e.Kind == "ProcessingPreorder" {
		// "Wait until then", not a failure: the keys come after the
		// release. A date that is missing or does not parse still makes
		// it a pre-order's wait, its date unknown.
		e.ReleaseDate = parseDate(b.ReleaseDate)
		e.class = &ports.ReleasePendingError{ReleaseDate: e.ReleaseDate, Detail: "Kinguin ProcessingPreorder"}
	}
	return e
}

// dateLayouts are the forms a Kinguin date is read in: releaseDate is
// documented as Y-m-d; the others are the time formats Kinguin uses
// elsewhere, accepted in case.
var dateLayouts = []string{"2006-01-02", time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04:05.000Z07:00"}

// parseDate reads a JSON date value (a string in one of dateLayouts) as
// the calendar day written in it, at midnight UTC: an offset does not move
// the day ("2027-03-01T00:00:00+02:00" is 1 March). The zero time for
// null, another type or another format.
func parseDate(raw json.RawMessage) time.Time {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil {
		return time.Time{}
	}
	s = strings.TrimSpace(s)
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return writtenDay(t)
		}
	}
	if len(s) >= 10 {
		if t, err := time.Parse(dateLayouts[0], s[:10]); err == nil {
			return writtenDay(t)
		}
	}
	return time.Time{}
}

// writtenDay is t's day in the offset it was written with: unlike
// domain.ReleaseDay, which takes the day in UTC, a date Kinguin wrote as
// midnight in its own offset stays that calendar day.
func writtenDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
