package codeswholesale

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// APIError is an error answer of CodesWholesale. It unwraps to
// ports.ErrSupplierTemporary, ports.ErrSupplierPermanent (as
// ports.ErrBalanceTooLow for a balance too low) or domain.ErrNotFound by
// its code and status.
type APIError struct {
	Status  int // HTTP status
	Code    int // CodesWholesale's error code; 0 when the body had none
	Message string
	class   error
	advice  string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%v: HTTP %d", e.class, e.Status)
	if e.Code != 0 {
		msg += fmt.Sprintf(" code %d", e.Code)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.advice != "" {
		msg += "; " + e.advice
	}
	return msg
}

func (e *APIError) Unwrap() error { return e.class }

// Error codes keyward acts on (the reference's table; v3 kept them as far
// as is known).
const (
	CodeBalanceTooLow   = 10002
	CodeProductNotFound = 20001 // not (any more) in the price list
	CodeStockTooLow     = 310003
	CodeQuantityTooLow  = 40002
	CodeCodeNotFound    = 50002
)

// errorBody is CodesWholesale's error document, or OAuth's.
type errorBody struct {
	Status           int    `json:"status"`
	Code             int    `json:"code"`
	Message          string `json:"message"`
	DeveloperMessage string `json:"developerMessage"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

type rule struct {
	class  error
	advice string
}

// codes classifies the known error codes.
var codes = map[int]rule{
	CodeBalanceTooLow:   {ports.ErrBalanceTooLow, "the CodesWholesale balance is too low: top up the account, then retry the order's fulfilment"},
	CodeStockTooLow:     {ports.ErrSupplierPermanent, "CodesWholesale has too few keys now (its listed stock is not reserved): sync the catalog, then retry or refund"},
	CodeProductNotFound: {ports.ErrSupplierPermanent, "the product is no longer in CodesWholesale's price list: sync the catalog, then refund"},
	CodeQuantityTooLow:  {ports.ErrSupplierPermanent, "the request was refused as invalid"},
	CodeCodeNotFound:    {domain.ErrNotFound, ""},
	30018:               {domain.ErrNotFound, ""}, // order not found
	50022:               {domain.ErrNotFound, ""}, // product not in order
	60017:               {domain.ErrNotFound, ""}, // codes not found
}

// parseError classifies a non-2xx answer: 429, 408 and 5xx are temporary;
// otherwise a known code decides; otherwise 404 is not found, 401/403 a
// credentials problem, and any other 4xx final. The message is taken from
// message, else error_description, else error.
func parseError(status int, raw []byte) *APIError {
	var b errorBody
	_ = json.Unmarshal(raw, &b) // a body that is not JSON classifies by status
	msg := strings.TrimSpace(b.Message)
	if msg == "" {
		msg = strings.TrimSpace(b.ErrorDescription)
	}
	if msg == "" {
		msg = strings.TrimSpace(b.Error)
	}
	e := &APIError{Status: status, Code: b.Code, Message: supplierhttp.Truncate(msg, 300)}
	r, known := codes[b.Code]
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		e.class = ports.ErrSupplierTemporary
	case known:
		e.class, e.advice = r.class, r.advice
	case status == http.StatusNotFound:
		e.class = domain.ErrNotFound
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		e.class, e.advice = ports.ErrSupplierPermanent, "check KEYWARD_CODESWHOLESALE_CLIENT_ID and KEYWARD_CODESWHOLESALE_CLIENT_SECRET"
	default:
		e.class = ports.ErrSupplierPermanent
	}
	return e
}
