package bootstrap

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
)

// PayRequest is a simulated customer payment of a sandbox order.
type PayRequest struct {
	Server       string // keyward base URL; empty: LocalBaseURL of the configuration, as serve listens
	OrderID      string
	Status       string // the payment_status to send; default finished
	ActuallyPaid string // default: the full pay_amount, half of it for partially_paid
}

// Pay simulates the customer paying a sandbox order: it reads the payment
// the sandbox gateway issued, writes the IPN NOWPayments would send, signs
// it with the IPN secret of cfg (the one the server verifies with) and posts
// it to the webhook. It returns the webhook's status line and body, and an
// error when the webhook did not accept it.
func Pay(ctx context.Context, cfg Config, req PayRequest) (string, error) {
	if req.OrderID == "" {
		return "", fmt.Errorf("an order id is required")
	}
	if req.Status == "" {
		req.Status = "finished"
	}
	client := &http.Client{Timeout: 10 * time.Second}
	base := req.Server
	if base == "" {
		base = LocalBaseURL(cfg)
	}
	base = strings.TrimRight(base, "/")

	var p sandbox.SandboxPaymentBody
	if err := getJSON(ctx, client, base+"/v1/sandbox/payments/"+url.PathEscape(req.OrderID), &p); err != nil {
		return "", err
	}
	sp, err := toSandboxPayment(p)
	if err != nil {
		return "", err
	}
	actually := sp.PayAmount
	if req.Status == "partially_paid" {
		actually = sp.PayAmount.Div(decimal.NewFromInt(2)).Round(6)
	}
	if req.ActuallyPaid != "" {
		if actually, err = decimal.NewFromString(req.ActuallyPaid); err != nil {
			return "", fmt.Errorf("actually paid: %w", err)
		}
	}
	body := sandbox.IPNBody(sp, req.Status, actually, time.Now())
	sig, err := nowpayments.Sign(cfg.IPNSecret, body)
	if err != nil {
		return "", err
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/webhooks/nowpayments", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set(nowpayments.SignatureHeader, sig)
	resp, err := client.Do(hreq)
	if err != nil {
		return "", fmt.Errorf("post IPN: %w", err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	answer := resp.Status + "\n" + string(bytes.TrimSpace(respBody))
	if resp.StatusCode >= 300 {
		return answer, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return answer, nil
}

func toSandboxPayment(p sandbox.SandboxPaymentBody) (sandbox.SandboxPayment, error) {
	price, err := decimal.NewFromString(p.PriceAmount)
	if err != nil {
		return sandbox.SandboxPayment{}, fmt.Errorf("price_amount: %w", err)
	}
	amount, err := decimal.NewFromString(p.PayAmount)
	if err != nil {
		return sandbox.SandboxPayment{}, fmt.Errorf("pay_amount: %w", err)
	}
	return sandbox.SandboxPayment{
		OrderID: p.OrderID, PaymentID: p.PaymentID, PayAddress: p.PayAddress, PriceAmount: price,
		PriceCurrency: p.PriceCurrency, PayAmount: amount, PayCurrency: p.PayCurrency,
		OrderDescription: "keyward order " + p.OrderID, PurchaseID: p.PaymentID, CreatedAt: time.Now().Add(-time.Minute),
	}, nil
}

func getJSON(ctx context.Context, c *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return json.Unmarshal(b, v)
}
