// Package nowpaymentstest is a fake NOWPayments payment API for tests: an
// httptest server that speaks the documented wire contract (POST
// /v1/payment, GET /v1/payment/{id}, GET /v1/status, x-api-key, the
// documented error bodies), answering with the reference payloads in
// testdata/ adapted to each request, and that can be told to fail the way
// the real service does (5xx, 429, timeouts, malformed JSON).
package nowpaymentstest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

//go:embed testdata/*.json
var testdata embed.FS

// Payload returns a reference payload from testdata by file name.
func Payload(name string) []byte {
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		panic("nowpaymentstest: " + err.Error())
	}
	return b
}

// Fault is how the server answers the next request instead of serving it.
type Fault struct {
	Status     int           // the status code; 0 with Hang
	Body       string        // the body; the documented error body when empty
	RetryAfter string        // a Retry-After header, for 429
	Hang       time.Duration // wait this long (or until the client gives up) first
}

// Request is one request the server received.
type Request struct {
	Method, Path, APIKey string
	Body                 map[string]any // decoded with json.Number
}

// Payment is a payment the server issued.
type Payment struct {
	ID, OrderID, Status, PayAddress, PayCurrency, PriceCurrency, CallbackURL, Description string
	PriceAmount, PayAmount, ActuallyPaid                                                  decimal.Decimal
}

// Server is the fake API. Its methods are safe for concurrent use.
type Server struct {
	*httptest.Server
	APIKey string
	// Rate is pay-coin units per unit of the price currency.
	Rate decimal.Decimal

	mu       sync.Mutex
	nextID   int64
	payments map[string]*Payment // by payment id
	faults   []Fault
	down     bool
	requests []Request
}

// New starts a server accepting apiKey and closes it when the test ends.
func New(t testing.TB, apiKey string) *Server {
	s := &Server{APIKey: apiKey, Rate: decimal.RequireFromString("0.0000251"), nextID: 5745459419, payments: map[string]*Payment{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payment", s.guard(s.createPayment))
	mux.HandleFunc("GET /v1/payment/{id}", s.guard(s.getPayment))
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		if s.fault(w, r) {
			return
		}
		writeJSON(w, http.StatusOK, Payload("status-response.json"))
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// FailNext makes the next requests answer with the faults, one each.
func (s *Server) FailNext(f ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f...)
}

// SetDown makes every request answer 503 (down) or be served (up).
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

// SetStatus changes what GET /v1/payment/{id} reports for a payment.
func (s *Server) SetStatus(paymentID, status string, actuallyPaid decimal.Decimal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.payments[paymentID]; p != nil {
		p.Status, p.ActuallyPaid = status, actuallyPaid
	}
}

// Payments returns the payments issued for an order, oldest first.
func (s *Server) Payments(orderID string) []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Payment
	for id := int64(5745459420); id <= s.nextID; id++ {
		if p := s.payments[strconv.FormatInt(id, 10)]; p != nil && p.OrderID == orderID {
			out = append(out, *p)
		}
	}
	return out
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// fault answers r with the next fault, or 503 while down; it reports
// whether it did.
func (s *Server) fault(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	var f *Fault
	if len(s.faults) > 0 {
		f = &s.faults[0]
		s.faults = s.faults[1:]
	} else if s.down {
		f = &Fault{Status: http.StatusServiceUnavailable}
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.Hang > 0 {
		select {
		case <-time.After(f.Hang):
		case <-r.Context().Done():
			return true
		}
	}
	if f.Status == 0 {
		f.Status = http.StatusGatewayTimeout
	}
	body := []byte(f.Body)
	if f.Body == "" {
		body = errorBody(f.Status, strings.ReplaceAll(strings.ToUpper(http.StatusText(f.Status)), " ", "_"), http.StatusText(f.Status))
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	writeJSON(w, f.Status, body)
	return true
}

// guard records the request, serves faults, and checks the API key.
func (s *Server) guard(next func(http.ResponseWriter, *http.Request, map[string]any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if r.Body != nil && r.Method == http.MethodPost {
			dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				writeJSON(w, http.StatusBadRequest, errorBody(http.StatusBadRequest, "BAD_REQUEST", "body is not JSON"))
				return
			}
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, APIKey: r.Header.Get("x-api-key"), Body: body})
		s.mu.Unlock()
		if s.fault(w, r) {
			return
		}
		if r.Header.Get("x-api-key") != s.APIKey {
			writeJSON(w, http.StatusForbidden, Payload("error-invalid-api-key.json"))
			return
		}
		next(w, r, body)
	}
}

func (s *Server) createPayment(w http.ResponseWriter, _ *http.Request, in map[string]any) {
	price, ok := in["price_amount"].(json.Number)
	amount, err := decimal.NewFromString(string(price))
	str := func(k string) string { v, _ := in[k].(string); return v }
	switch {
	case !ok || err != nil || str("price_currency") == "" || str("pay_currency") == "":
		writeJSON(w, http.StatusBadRequest, errorBody(http.StatusBadRequest, "INVALID_REQUEST_PARAMS",
			"price_amount (number), price_currency and pay_currency are required"))
		return
	case amount.LessThan(decimal.RequireFromString("0.5")):
		writeJSON(w, http.StatusBadRequest, Payload("error-bad-request.json"))
		return
	}
	s.mu.Lock()
	s.nextID++
	p := &Payment{
		ID: strconv.FormatInt(s.nextID, 10), OrderID: str("order_id"), Status: "waiting",
		PayAddress: fmt.Sprintf("bc1qkeyward%010d", s.nextID), PayCurrency: str("pay_currency"), PriceCurrency: str("price_currency"),
		CallbackURL: str("ipn_callback_url"), Description: str("order_description"),
		PriceAmount: amount, PayAmount: amount.Mul(s.Rate).Round(8),
	}
	s.payments[p.ID] = p
	s.mu.Unlock()
	// Created: the id is a string here, as documented.
	writeJSON(w, http.StatusCreated, fill(Payload("create-payment-response.json"), map[string]any{
		"payment_id": p.ID, "payment_status": p.Status, "pay_address": p.PayAddress,
		"price_amount": json.Number(p.PriceAmount.String()), "price_currency": p.PriceCurrency,
		"pay_amount": json.Number(p.PayAmount.String()), "pay_currency": p.PayCurrency,
		"order_id": p.OrderID, "order_description": p.Description, "ipn_callback_url": p.CallbackURL,
		"purchase_id": strconv.FormatInt(s.nextID+1_000_000, 10),
	}))
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request, _ map[string]any) {
	s.mu.Lock()
	p := s.payments[r.PathValue("id")]
	var cp Payment
	if p != nil {
		cp = *p
	}
	s.mu.Unlock()
	if p == nil {
		writeJSON(w, http.StatusNotFound, Payload("error-not-found.json"))
		return
	}
	writeJSON(w, http.StatusOK, fill(Payload("get-payment-response.json"), cp.fields()))
}

// fields are the payment's values as the status body writes them: the id
// is a number there, as documented.
func (p Payment) fields() map[string]any {
	return map[string]any{
		"payment_id": json.Number(p.ID), "payment_status": p.Status, "pay_address": p.PayAddress,
		"price_amount": json.Number(p.PriceAmount.String()), "price_currency": p.PriceCurrency,
		"pay_amount": json.Number(p.PayAmount.String()), "actually_paid": json.Number(p.ActuallyPaid.String()),
		"pay_currency": p.PayCurrency, "order_id": p.OrderID, "order_description": p.Description,
		"outcome_currency": p.PayCurrency, "outcome_amount": json.Number(p.ActuallyPaid.Mul(decimal.RequireFromString("0.995")).Round(8).String()),
	}
}

// IPN returns the body NOWPayments would post for the payment reaching
// status with actuallyPaid received: the documented IPN shape, with the
// nested fee object, pretty-printed. parentID, when not empty, makes it a
// repeat deposit of that payment under a new payment id.
func (s *Server) IPN(paymentID, status string, actuallyPaid decimal.Decimal, parentID string) []byte {
	s.mu.Lock()
	p, ok := s.payments[paymentID]
	var cp Payment
	if ok {
		cp = *p
	}
	s.mu.Unlock()
	if !ok {
		panic("nowpaymentstest: no payment " + paymentID)
	}
	cp.Status, cp.ActuallyPaid = status, actuallyPaid
	f := cp.fields()
	f["parent_payment_id"] = nil
	if parentID != "" {
		s.mu.Lock()
		s.nextID++
		f["payment_id"] = json.Number(strconv.FormatInt(s.nextID, 10))
		s.mu.Unlock()
		f["parent_payment_id"] = json.Number(parentID)
	}
	f["invoice_id"], f["payin_extra_id"], f["payment_extra_ids"] = nil, nil, nil
	f["purchase_id"] = "4944856743"
	f["actually_paid_at_fiat"] = json.Number("0")
	f["fee"] = map[string]any{"currency": cp.PayCurrency, "depositFee": json.Number("0"), "withdrawalFee": json.Number("0"), "serviceFee": json.Number("0")}
	f["created_at"], f["updated_at"] = "2026-11-27T12:00:00.000Z", time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		panic("nowpaymentstest: " + err.Error())
	}
	return buf.Bytes()
}

// fill overwrites fields of a reference payload.
func fill(payload []byte, fields map[string]any) []byte {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		panic("nowpaymentstest: reference payload: " + err.Error())
	}
	for k, v := range fields {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic("nowpaymentstest: " + err.Error())
	}
	return b
}

// errorBody is the documented error shape.
func errorBody(status int, code, message string) []byte {
	b, _ := json.Marshal(map[string]any{"status": false, "statusCode": status, "code": code, "message": message})
	return b
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
