// Package sandboxpay pays a sandbox order as its customer's payment would
// be notified: it reads over HTTP the payment keyward's sandbox gateway
// issued, writes the IPN NOWPayments would send for it, signs it with the
// IPN secret and posts it to keyward's webhook. `keyward pay` and the load
// of `keyward bench` pay with it, so both drive keyward only as a client
// and NOWPayments do.
package sandboxpay

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

// WebhookPath is where keyward takes NOWPayments' IPNs.
const WebhookPath = "/v1/webhooks/nowpayments"

// Payment reads the sandbox payment of order orderID from keyward at base.
func Payment(ctx context.Context, client *http.Client, base, orderID string) (sandbox.SandboxPayment, error) {
	u := strings.TrimRight(base, "/") + "/v1/sandbox/payments/" + url.PathEscape(orderID)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return sandbox.SandboxPayment{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return sandbox.SandboxPayment{}, fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return sandbox.SandboxPayment{}, fmt.Errorf("GET %s: %s %s", u, resp.Status, bytes.TrimSpace(raw))
	}
	var p sandbox.SandboxPaymentBody
	if err := json.Unmarshal(raw, &p); err != nil {
		return sandbox.SandboxPayment{}, fmt.Errorf("GET %s: %w", u, err)
	}
	return fromBody(p)
}

func fromBody(p sandbox.SandboxPaymentBody) (sandbox.SandboxPayment, error) {
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

// Notify posts to keyward at base the IPN of payment p with status and
// the amount actually paid, signed with secret as NOWPayments signs. It
// returns the webhook's status line and body, and an error when the
// webhook did not accept it.
func Notify(ctx context.Context, client *http.Client, base, secret string, p sandbox.SandboxPayment, status string, actuallyPaid decimal.Decimal) (string, error) {
	body := sandbox.IPNBody(p, status, actuallyPaid, time.Now())
	sig, err := nowpayments.Sign(secret, body)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+WebhookPath, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(nowpayments.SignatureHeader, sig)
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("POST %s: %w", WebhookPath, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	answer := resp.Status + "\n" + string(bytes.TrimSpace(raw))
	if resp.StatusCode >= 300 {
		return answer, fmt.Errorf("POST %s: webhook answered %s %s", WebhookPath, resp.Status, bytes.TrimSpace(raw))
	}
	return answer, nil
}
