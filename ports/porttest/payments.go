package porttest

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// PaymentGatewayHarness is one gateway under test.
type PaymentGatewayHarness struct {
	Gateway ports.PaymentGateway
	// SetDown makes the gateway unreachable (true) or brings it back.
	SetDown func(down bool)
}

// PaymentGateway runs the ports.PaymentGateway contract. newGateway is
// called once per subtest, from parallel subtests.
func PaymentGateway(t *testing.T, newGateway func(t *testing.T) PaymentGatewayHarness) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, PaymentGatewayHarness)
	}{
		{"a created payment says where and how much to pay", testCreatePayment},
		{"each payment has its own id", testPaymentIDsDiffer},
		{"a created payment can be read back", testGetPayment},
		{"an unknown payment is not found", testGetUnknownPayment},
		{"a request that cannot succeed is refused", testPaymentRefused},
		{"a gateway that is down is unavailable, then recovers", testGatewayDown},
		{"a cancelled call is unavailable", testGatewayCancelled},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newGateway(t))
		})
	}
}

func paymentRequest(orderID string) ports.PaymentRequest {
	return ports.PaymentRequest{OrderID: orderID, Price: domain.MustMoney("44.98", "EUR"), Description: "keyward order " + orderID}
}

func createPayment(t *testing.T, g ports.PaymentGateway, orderID string) domain.Payment {
	t.Helper()
	p, err := g.CreatePayment(t.Context(), paymentRequest(orderID))
	if err != nil {
		t.Fatalf("CreatePayment(%s): %v", orderID, err)
	}
	return p
}

func testCreatePayment(t *testing.T, h PaymentGatewayHarness) {
	p := createPayment(t, h.Gateway, "ord-create")
	if p.Provider == "" || p.PaymentID == "" || p.PayAddress == "" || p.PayCurrency == "" {
		t.Fatalf("payment lacks provider, id, address or coin: %+v", p)
	}
	if !p.PayAmount.IsPositive() || p.Status != domain.PaymentWaiting || !p.ActuallyPaid.IsZero() {
		t.Fatalf("payment amount %s status %s paid %s", p.PayAmount, p.Status, p.ActuallyPaid)
	}
	if err := h.Gateway.Health(t.Context()); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

func testPaymentIDsDiffer(t *testing.T, h PaymentGatewayHarness) {
	a := createPayment(t, h.Gateway, "ord-ids")
	b := createPayment(t, h.Gateway, "ord-ids")
	if a.PaymentID == b.PaymentID {
		t.Fatalf("two payments share id %s", a.PaymentID)
	}
}

func testGetPayment(t *testing.T, h PaymentGatewayHarness) {
	p := createPayment(t, h.Gateway, "ord-get")
	got, err := h.Gateway.GetPayment(t.Context(), p.PaymentID)
	if err != nil {
		t.Fatalf("GetPayment: %v", err)
	}
	u := got.Update
	if got.OrderID != "ord-get" || u.PaymentID != p.PaymentID || got.Status != "waiting" || u.Status != domain.PaymentWaiting {
		t.Fatalf("read back order %q payment %q status %q/%v", got.OrderID, u.PaymentID, got.Status, u.Status)
	}
	if !u.PriceAmount.Equal(domain.MustMoney("44.98", "EUR").Amount()) || u.PriceCurrency != "EUR" {
		t.Fatalf("price %s %s, want 44.98 EUR", u.PriceAmount, u.PriceCurrency)
	}
	if !u.PayAmount.Equal(p.PayAmount) || u.PayCurrency != p.PayCurrency || !u.ActuallyPaid.IsZero() || u.ParentPaymentID != "" {
		t.Fatalf("read back %s %s paid %s parent %q, created %s %s", u.PayAmount, u.PayCurrency, u.ActuallyPaid, u.ParentPaymentID, p.PayAmount, p.PayCurrency)
	}
}

func testGetUnknownPayment(t *testing.T, h PaymentGatewayHarness) {
	if _, err := h.Gateway.GetPayment(t.Context(), "999"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("GetPayment(unknown) = %v, want domain.ErrNotFound", err)
	}
}

func testPaymentRefused(t *testing.T, h PaymentGatewayHarness) {
	for _, r := range []ports.PaymentRequest{
		{OrderID: "", Price: domain.MustMoney("10.00", "EUR")},
		{OrderID: "ord-refused", Price: domain.MustMoney("0", "EUR")},
	} {
		_, err := h.Gateway.CreatePayment(t.Context(), r)
		if !errors.Is(err, ports.ErrPaymentRefused) || errors.Is(err, ports.ErrGatewayUnavailable) {
			t.Errorf("CreatePayment(%q, %s) = %v, want only ErrPaymentRefused", r.OrderID, r.Price, err)
		}
	}
}

func testGatewayDown(t *testing.T, h PaymentGatewayHarness) {
	p := createPayment(t, h.Gateway, "ord-down")
	h.SetDown(true)
	_, err := h.Gateway.CreatePayment(t.Context(), paymentRequest("ord-down-2"))
	if !errors.Is(err, ports.ErrGatewayUnavailable) || errors.Is(err, ports.ErrPaymentRefused) {
		t.Fatalf("CreatePayment while down = %v, want only ErrGatewayUnavailable", err)
	}
	if _, err := h.Gateway.GetPayment(t.Context(), p.PaymentID); !errors.Is(err, ports.ErrGatewayUnavailable) {
		t.Fatalf("GetPayment while down = %v", err)
	}
	if err := h.Gateway.Health(t.Context()); err == nil {
		t.Fatal("Health is nil while down")
	}
	h.SetDown(false)
	createPayment(t, h.Gateway, "ord-down-3")
	if err := h.Gateway.Health(t.Context()); err != nil {
		t.Fatalf("Health after recovery: %v", err)
	}
}

func testGatewayCancelled(t *testing.T, h PaymentGatewayHarness) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Gateway.CreatePayment(ctx, paymentRequest("ord-cancelled")); !errors.Is(err, ports.ErrGatewayUnavailable) {
		t.Fatalf("CreatePayment with a cancelled context = %v", err)
	}
}
