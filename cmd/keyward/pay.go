package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// payCmd simulates the customer paying a sandbox order (see bootstrap.Pay).
type payCmd struct {
	Order        string `required:"" placeholder:"ID" help:"The order's id."`
	Status       string `default:"finished" help:"The payment_status to send: waiting, confirming, partially_paid, finished, failed, expired..."`
	Server       string `placeholder:"URL" help:"keyward's base URL (default: KEYWARD_PUBLIC_BASE_URL, or http:// and KEYWARD_HTTP_ADDR, as serve listens)."`
	ActuallyPaid string `placeholder:"AMOUNT" help:"The amount actually paid (default: the full pay_amount, half of it for partially_paid)."`
}

func (payCmd) environment() string {
	return wholeConfig("KEYWARD_HTTP_ADDR", "KEYWARD_PUBLIC_BASE_URL", "KEYWARD_NOWPAYMENTS_IPN_SECRET")
}

func (c payCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answer, err := bootstrap.Pay(ctx, cfg, bootstrap.PayRequest{Server: c.Server, OrderID: c.Order, Status: c.Status, ActuallyPaid: c.ActuallyPaid})
	if answer != "" {
		fmt.Fprintf(e.stdout, "IPN %s for order %s → %s\n", c.Status, c.Order, answer)
	}
	return err
}
