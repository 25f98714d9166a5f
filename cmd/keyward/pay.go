package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
)

// pay simulates the customer paying a sandbox order: it reads the payment
// the sandbox gateway issued, writes the IPN NOWPayments would send, signs
// it with the IPN secret and posts it to the webhook.
func pay(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pay", flag.ContinueOnError)
	orderID := fs.String("order", "", "order id (required)")
	status := fs.String("status", "finished", "payment_status to send: waiting, confirming, partially_paid, finished, failed, expired ...")
	server := fs.String("server", "http://127.0.0.1:8080", "keyward base URL")
	paid := fs.String("actually-paid", "", "amount actually paid (default: the full pay_amount, half of it for partially_paid)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *orderID == "" {
		return errors.New("--order is required")
	}
	secret := bootstrap.DevIPNSecret
	if s, ok := bootstrap.EnvLookup("KEYWARD_NOWPAYMENTS_IPN_SECRET"); ok && strings.TrimSpace(s) != "" {
		secret = s
	}
	client := &http.Client{Timeout: 10 * time.Second}
	base := strings.TrimRight(*server, "/")

	var p bootstrap.SandboxPaymentBody
	if err := getJSON(client, base+"/v1/sandbox/payments/"+url.PathEscape(*orderID), &p); err != nil {
		return err
	}
	sp, err := toSandboxPayment(p)
	if err != nil {
		return err
	}
	actually := sp.PayAmount
	if *status == "partially_paid" {
		actually = sp.PayAmount.Div(decimal.NewFromInt(2)).Round(6)
	}
	if *paid != "" {
		if actually, err = decimal.NewFromString(*paid); err != nil {
			return fmt.Errorf("--actually-paid: %w", err)
		}
	}
	body := sandbox.IPNBody(sp, *status, actually, time.Now())
	sig, err := nowpayments.Sign(secret, body)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/webhooks/nowpayments", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(nowpayments.SignatureHeader, sig)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post IPN: %w", err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	fmt.Fprintf(out, "IPN %s for order %s → %s\n%s\n", *status, *orderID, resp.Status, bytes.TrimSpace(respBody))
	if resp.StatusCode >= 300 {
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return nil
}

func toSandboxPayment(p bootstrap.SandboxPaymentBody) (sandbox.SandboxPayment, error) {
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

func getJSON(c *http.Client, u string, v any) error {
	resp, err := c.Get(u)
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
