package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// pay simulates the customer paying a sandbox order (see bootstrap.Pay).
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
		return fmt.Errorf("--order is required")
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	answer, err := bootstrap.Pay(ctx, cfg, bootstrap.PayRequest{Server: *server, OrderID: *orderID, Status: *status, ActuallyPaid: *paid})
	if answer != "" {
		fmt.Fprintf(out, "IPN %s for order %s → %s\n", *status, *orderID, answer)
	}
	return err
}
