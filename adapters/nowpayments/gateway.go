package nowpayments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// APIKeyHeader carries the API key on every call of the payment API.
const APIKeyHeader = "x-api-key"

// DefaultAPIURL is NOWPayments' production API; paths such as /v1/payment
// are appended to it.
const DefaultAPIURL = "https://api.nowpayments.io"

// GatewayConfig configures the NOWPayments payment gateway.
type GatewayConfig struct {
	// APIURL is the API's base, DefaultAPIURL when empty.
	APIURL string
	// APIKey is the dashboard's API key (required).
	APIKey string
	// PayCurrency is the coin customers pay in, such as "btc" (required).
	PayCurrency string
	// CallbackURL is where NOWPayments posts the IPNs of the payments it
	// issues (required): keyward's /v1/webhooks/nowpayments.
	CallbackURL string
	// Timeout bounds one call; default 15s.
	Timeout time.Duration
	// Client sends the requests; default a client with Timeout.
	Client *http.Client
}

// Gateway creates NOWPayments payments and reads their status. It
// implements ports.PaymentGateway and is safe for concurrent use.
type Gateway struct {
	base        string
	apiKey      string
	payCurrency string
	callbackURL string
	client      *http.Client
}

var _ ports.PaymentGateway = (*Gateway)(nil)

// NewGateway returns a gateway; it returns an error naming the missing or
// invalid setting.
func NewGateway(cfg GatewayConfig) (*Gateway, error) {
	if cfg.APIURL == "" {
		cfg.APIURL = DefaultAPIURL
	}
	if u, err := url.Parse(cfg.APIURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("nowpayments: API URL %q is not an http(s) URL", cfg.APIURL)
	}
	switch {
	case cfg.APIKey == "":
		return nil, errors.New("nowpayments: an API key is required")
	case cfg.PayCurrency == "":
		return nil, errors.New("nowpayments: a pay currency is required")
	case cfg.CallbackURL == "":
		return nil, errors.New("nowpayments: an IPN callback URL is required")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	return &Gateway{
		base: strings.TrimRight(cfg.APIURL, "/"), apiKey: cfg.APIKey, payCurrency: strings.ToLower(cfg.PayCurrency),
		callbackURL: cfg.CallbackURL, client: cfg.Client,
	}, nil
}

// createPaymentRequest is the body of POST /v1/payment. price_amount is a
// JSON number written from the decimal's own digits.
type createPaymentRequest struct {
	PriceAmount      json.Number `json:"price_amount"`
	PriceCurrency    string      `json:"price_currency"`
	PayCurrency      string      `json:"pay_currency"`
	IPNCallbackURL   string      `json:"ipn_callback_url"`
	OrderID          string      `json:"order_id"`
	OrderDescription string      `json:"order_description,omitempty"`
}

// paymentBody is the part of a payment keyward reads, from POST /v1/payment
// (201) or GET /v1/payment/{id}. Ids and amounts arrive as strings on one
// endpoint and numbers on the other: flex keeps either as exact text.
type paymentBody struct {
	PaymentID       flex   `json:"payment_id"`
	ParentPaymentID flex   `json:"parent_payment_id"`
	PaymentStatus   string `json:"payment_status"`
	PayAddress      string `json:"pay_address"`
	PayinExtraID    flex   `json:"payin_extra_id"`
	PriceAmount     flex   `json:"price_amount"`
	PriceCurrency   string `json:"price_currency"`
	PayAmount       flex   `json:"pay_amount"`
	ActuallyPaid    flex   `json:"actually_paid"`
	PayCurrency     string `json:"pay_currency"`
	OrderID         flex   `json:"order_id"`
}

// CreatePayment asks NOWPayments for a payment of r.Price in the configured
// coin, with our order id and the IPN callback URL. It returns
// ports.ErrPaymentRefused (wrapped, with NOWPayments' message) when the
// request is refused as asked (400, 422 and other 4xx but 401, 403, 404,
// 408, 429), ports.ErrGatewayUnavailable for anything else that fails:
// network, timeout, 401/403 (the API key), 429, 5xx, or an answer without
// a payment id, address or amount.
func (g *Gateway) CreatePayment(ctx context.Context, r ports.PaymentRequest) (domain.Payment, error) {
	if r.OrderID == "" || !r.Price.Amount().IsPositive() {
		return domain.Payment{}, fmt.Errorf("nowpayments create payment: %w: needs an order id and a positive price", ports.ErrPaymentRefused)
	}
	body, err := json.Marshal(createPaymentRequest{
		PriceAmount: json.Number(r.Price.Amount().String()), PriceCurrency: strings.ToLower(r.Price.Currency().String()),
		PayCurrency: g.payCurrency, IPNCallbackURL: g.callbackURL, OrderID: r.OrderID, OrderDescription: r.Description,
	})
	if err != nil {
		return domain.Payment{}, fmt.Errorf("nowpayments create payment: encode: %w", err)
	}
	var p paymentBody
	if err := g.call(ctx, http.MethodPost, "/v1/payment", body, &p); err != nil {
		return domain.Payment{}, fmt.Errorf("nowpayments create payment for order %s: %w", r.OrderID, err)
	}
	payAmount, err := p.PayAmount.decimal()
	if err != nil || !payAmount.IsPositive() || p.PaymentID == "" || p.PayAddress == "" {
		return domain.Payment{}, fmt.Errorf("nowpayments create payment for order %s: %w: answer without payment_id, pay_address or a positive pay_amount",
			r.OrderID, ports.ErrGatewayUnavailable)
	}
	if p.OrderID != "" && string(p.OrderID) != r.OrderID {
		return domain.Payment{}, fmt.Errorf("nowpayments create payment for order %s: %w: answer is for order %.64q", r.OrderID, ports.ErrGatewayUnavailable, p.OrderID)
	}
	status, _ := domain.ParsePaymentStatus(p.PaymentStatus)
	return domain.Payment{
		Provider: Provider, PaymentID: string(p.PaymentID), PayAddress: p.PayAddress, PayAmount: payAmount,
		PayCurrency: strings.ToLower(p.PayCurrency), PayinExtraID: string(p.PayinExtraID), Status: status,
	}, nil
}

// GetPayment reads GET /v1/payment/{id}. It returns domain.ErrNotFound
// (wrapped) when NOWPayments does not know the id, and
// ports.ErrGatewayUnavailable for every other failure, a refused request
// included, or an answer about another payment.
func (g *Gateway) GetPayment(ctx context.Context, paymentID string) (ports.PaymentState, error) {
	if paymentID == "" {
		return ports.PaymentState{}, fmt.Errorf("nowpayments get payment: %w: empty payment id", domain.ErrNotFound)
	}
	var p paymentBody
	if err := g.call(ctx, http.MethodGet, "/v1/payment/"+url.PathEscape(paymentID), nil, &p); err != nil {
		if errors.Is(err, ports.ErrPaymentRefused) {
			err = fmt.Errorf("%w: %v", ports.ErrGatewayUnavailable, err)
		}
		return ports.PaymentState{}, fmt.Errorf("nowpayments get payment %s: %w", paymentID, err)
	}
	if string(p.PaymentID) != paymentID {
		return ports.PaymentState{}, fmt.Errorf("nowpayments get payment %s: %w: answer is about payment %.64q", paymentID, ports.ErrGatewayUnavailable, p.PaymentID)
	}
	u := domain.PaymentUpdate{
		PaymentID: string(p.PaymentID), ParentPaymentID: string(p.ParentPaymentID),
		PriceCurrency: strings.ToUpper(p.PriceCurrency), PayCurrency: strings.ToLower(p.PayCurrency),
	}
	var errs []error
	for _, f := range []struct {
		name string
		in   flex
		out  *decimal.Decimal
	}{{"price_amount", p.PriceAmount, &u.PriceAmount}, {"pay_amount", p.PayAmount, &u.PayAmount}, {"actually_paid", p.ActuallyPaid, &u.ActuallyPaid}} {
		d, err := f.in.decimal()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.name, err))
		}
		*f.out = d
	}
	if err := errors.Join(errs...); err != nil {
		return ports.PaymentState{}, fmt.Errorf("nowpayments get payment %s: %w: %v", paymentID, ports.ErrGatewayUnavailable, err)
	}
	u.Status, _ = domain.ParsePaymentStatus(p.PaymentStatus)
	return ports.PaymentState{OrderID: string(p.OrderID), Status: p.PaymentStatus, Update: u}, nil
}

// Health asks GET /v1/status, which needs no key; it returns nil on 200.
func (g *Gateway) Health(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.base+"/v1/status", nil)
	if err != nil {
		return fmt.Errorf("nowpayments status: %w", err)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		return fmt.Errorf("nowpayments status: %w: %v", ports.ErrGatewayUnavailable, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswerBytes))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nowpayments status: %w: answered %s", ports.ErrGatewayUnavailable, resp.Status)
	}
	return nil
}

// maxAnswerBytes bounds what is read of an answer.
const maxAnswerBytes = 1 << 20

// apiError is NOWPayments' error body:
// {"status":false,"statusCode":400,"code":"BAD_REQUEST","message":"…"}.
type apiError struct {
	StatusCode flex   `json:"statusCode"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

// call sends one request with the API key and decodes a 2xx answer into
// out. See CreatePayment for how failures are classified.
func (g *Gateway) call(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set(APIKeyHeader, g.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.client.Do(req)
	if err != nil {
		// The URL holds no secret; the key travels in a header.
		return fmt.Errorf("%w: %s %s: %v", ports.ErrGatewayUnavailable, method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return fmt.Errorf("%w: read answer: %v", ports.ErrGatewayUnavailable, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(out); err != nil {
			return fmt.Errorf("%w: %s answered %s with a body that is not the documented JSON: %v", ports.ErrGatewayUnavailable, path, resp.Status, err)
		}
		return nil
	}
	return classify(resp, data)
}

// classify turns a non-2xx answer into an error wrapping the port's kind.
func classify(resp *http.Response, data []byte) error {
	var e apiError
	detail := resp.Status
	if json.Unmarshal(data, &e) == nil && (e.Code != "" || e.Message != "") {
		detail = fmt.Sprintf("%s %s: %.200s", resp.Status, e.Code, e.Message)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound:
		return fmt.Errorf("%w: %s", domain.ErrNotFound, detail)
	case code == http.StatusTooManyRequests:
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			detail += " (retry after " + ra + ")"
		}
		return fmt.Errorf("%w: rate limited: %s", ports.ErrGatewayUnavailable, detail)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%w: the API key was refused (check KEYWARD_NOWPAYMENTS_API_KEY): %s", ports.ErrGatewayUnavailable, detail)
	case code == http.StatusRequestTimeout || code >= 500 || code < 400:
		return fmt.Errorf("%w: %s", ports.ErrGatewayUnavailable, detail)
	default:
		return fmt.Errorf("%w: %s", ports.ErrPaymentRefused, detail)
	}
}

// flex is an id or amount NOWPayments sends as a JSON string on one
// endpoint and a number on another. It keeps the value's exact text; null
// is "". Amounts are read with decimal(), never through float64.
type flex string

// maxFlexLen bounds an id's or amount's text.
const maxFlexLen = 128

// UnmarshalJSON accepts a string, a number or null.
func (f *flex) UnmarshalJSON(b []byte) error {
	if len(b) > maxFlexLen+2 {
		return fmt.Errorf("value longer than %d characters", maxFlexLen)
	}
	switch {
	case string(b) == "null":
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flex(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a string or a number, got %.40s", b)
		}
		*f = flex(n)
	}
	return nil
}

// decimal returns the exact decimal of the text; "" is zero.
func (f flex) decimal() (decimal.Decimal, error) {
	if f == "" {
		return decimal.Zero, nil
	}
	if strings.ContainsAny(string(f), "eE") {
		// Exponents are valid JSON; bound them before the decimal expands.
		if _, exp, _ := strings.Cut(strings.ToLower(string(f)), "e"); len(strings.TrimLeft(exp, "+-0")) > 2 {
			return decimal.Zero, fmt.Errorf("amount %.40q is out of range", string(f))
		}
	}
	d, err := decimal.NewFromString(string(f))
	if err != nil {
		return decimal.Zero, fmt.Errorf("amount %.40q is not a decimal number", string(f))
	}
	return d, nil
}
