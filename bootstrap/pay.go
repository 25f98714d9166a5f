package bootstrap

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/internal/sandboxpay"
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
	p, err := sandboxpay.Payment(ctx, client, base, req.OrderID)
	if err != nil {
		return "", err
	}
	actually := p.PayAmount
	if req.Status == "partially_paid" {
		actually = p.PayAmount.Div(decimal.NewFromInt(2)).Round(6)
	}
	if req.ActuallyPaid != "" {
		if actually, err = decimal.NewFromString(req.ActuallyPaid); err != nil {
			return "", fmt.Errorf("actually paid: %w", err)
		}
	}
	return sandboxpay.Notify(ctx, client, base, cfg.IPNSecret, p, req.Status, actually)
}
