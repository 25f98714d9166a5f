package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

func TestCreatePaymentIDsAreUnique(t *testing.T) {
	t.Parallel()
	g := NewGateway(GatewayConfig{})
	tenDigits := regexp.MustCompile(`^[1-9][0-9]{9}$`)
	tron := regexp.MustCompile(`^T[1-9A-HJ-NP-Za-km-z]{33}$`)

	var mu sync.Mutex
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for range 10 {
		wg.Go(func() {
			for range 100 {
				p, err := g.CreatePayment(context.Background(), ports.PaymentRequest{OrderID: "ord-1", Price: domain.MustMoney("9.99", "EUR")})
				if err != nil {
					t.Error(err)
					return
				}
				if !tenDigits.MatchString(p.PaymentID) || !tron.MatchString(p.PayAddress) {
					t.Errorf("payment id %q or address %q malformed", p.PaymentID, p.PayAddress)
				}
				mu.Lock()
				if seen[p.PaymentID] {
					t.Errorf("payment id %s issued twice", p.PaymentID)
				}
				seen[p.PaymentID] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 1000 {
		t.Errorf("%d distinct ids, want 1000", len(seen))
	}
}

func TestCreatePaymentAmounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		price, rate, want string
	}{
		{"17.49", "", "18.97665"}, // default rate 1.0850
		{"0.01", "1.23456789", "0.012346"},
		{"33.33", "0.00001715", "0.000572"},
		{"100.00", "1", "100"},
	}
	for _, tt := range tests {
		t.Run(tt.price+"x"+tt.rate, func(t *testing.T) {
			t.Parallel()
			cfg := GatewayConfig{PayCurrency: "btc"}
			if tt.rate != "" {
				cfg.Rate = decimal.RequireFromString(tt.rate)
			}
			g := NewGateway(cfg)
			p, err := g.CreatePayment(context.Background(), ports.PaymentRequest{OrderID: "ord-1", Price: domain.MustMoney(tt.price, "EUR")})
			if err != nil {
				t.Fatal(err)
			}
			if !p.PayAmount.Equal(decimal.RequireFromString(tt.want)) || p.Status != domain.PaymentWaiting || p.Provider != "sandbox" {
				t.Errorf("payment = %s %s %s, want %s btc waiting", p.PayAmount, p.PayCurrency, p.Status, tt.want)
			}
			kept, ok := g.Payment("ord-1")
			if !ok || kept.PaymentID != p.PaymentID || kept.PriceCurrency != "eur" || !kept.PayAmount.Equal(p.PayAmount) {
				t.Errorf("Payment(ord-1) = %+v, %v", kept, ok)
			}
		})
	}
}

func TestCreatePaymentRejectsInvalidRequests(t *testing.T) {
	t.Parallel()
	g := NewGateway(GatewayConfig{})
	for _, r := range []ports.PaymentRequest{
		{OrderID: "", Price: domain.MustMoney("1.00", "EUR")},
		{OrderID: "ord-1", Price: domain.MustMoney("0", "EUR")},
	} {
		if _, err := g.CreatePayment(context.Background(), r); !errors.Is(err, ports.ErrPaymentRefused) {
			t.Errorf("CreatePayment(%+v) = %v, want ErrPaymentRefused", r, err)
		}
	}
	if _, ok := g.Payment("ord-1"); ok {
		t.Error("a rejected payment was kept")
	}
}

func TestIPNBodyKeepsDecimalsExact(t *testing.T) {
	t.Parallel()
	created := time.Date(2025, 3, 14, 10, 15, 22, 742_000_000, time.UTC)
	g := NewGateway(GatewayConfig{Clock: func() time.Time { return created }})
	if _, err := g.CreatePayment(context.Background(), ports.PaymentRequest{OrderID: "ord-1", Price: domain.MustMoney("4.99", "EUR"), Description: "Order ord-1"}); err != nil {
		t.Fatal(err)
	}
	p, _ := g.Payment("ord-1")
	body := IPNBody(p, "finished", decimal.RequireFromString("5.41415"), created.Add(26*time.Minute))

	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var got map[string]any
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	numbers := map[string]string{
		"payment_id": p.PaymentID, "price_amount": "4.99", "pay_amount": "5.41415", // 4.99 × 1.0850
		"actually_paid": "5.41415", "actually_paid_at_fiat": "4.99", "outcome_amount": "5.387079",
	}
	for field, want := range numbers {
		n, ok := got[field].(json.Number)
		if !ok || n.String() != want {
			t.Errorf("%s = %#v, want the JSON number %s", field, got[field], want)
		}
	}
	texts := map[string]string{
		"payment_status": "finished", "price_currency": "eur", "pay_currency": "usdttrc20", "order_id": "ord-1",
		"order_description": "Order ord-1", "purchase_id": p.PurchaseID, "pay_address": p.PayAddress,
		"created_at": "2025-03-14T10:15:22.742Z", "updated_at": "2025-03-14T10:41:22.742Z",
	}
	for field, want := range texts {
		if got[field] != want {
			t.Errorf("%s = %#v, want %q", field, got[field], want)
		}
	}
	for _, field := range []string{"parent_payment_id", "invoice_id", "payin_extra_id", "payment_extra_ids"} {
		if v, ok := got[field]; !ok || v != nil {
			t.Errorf("%s = %#v, want null", field, v)
		}
	}
}

func TestGatewayContract(t *testing.T) {
	t.Parallel()
	porttest.PaymentGateway(t, func(t *testing.T) porttest.PaymentGatewayHarness {
		g := NewGateway(GatewayConfig{})
		return porttest.PaymentGatewayHarness{Gateway: g, SetDown: g.SetDown}
	})
}
