package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func product(t *testing.T, sku, price string, stock int) *domain.Product {
	t.Helper()
	p, err := domain.NewProduct(domain.ProductSnapshot{
		SKU: sku, Name: "Game " + sku, Platform: "Steam", Region: "GLOBAL", Price: domain.MustMoney(price, "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: sku, Cost: domain.MustMoney(price, "EUR")},
		Stock:  stock, Active: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newOrder returns a pending order with a waiting payment: 2 × 19.99 + 1 × 5.00.
func newOrder(t *testing.T) *domain.Order {
	t.Helper()
	o := unpaidOrder(t)
	if err := o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-1", PayAmount: dec("48.804"), PayCurrency: "usdttrc20"}, t0); err != nil {
		t.Fatal(err)
	}
	o.PopEvents()
	return o
}

// unpaidOrder returns newOrder's order before its payment is attached.
func unpaidOrder(t *testing.T) *domain.Order {
	t.Helper()
	email, _ := domain.ParseEmail("a@example.com")
	o, err := domain.NewOrder("ord-1", email, domain.HashToken("secret"), []domain.NewItem{
		{ID: "item-1", Product: product(t, "sku-a", "19.99", 5), Quantity: 2},
		{ID: "item-2", Product: product(t, "sku-b", "5.00", 5), Quantity: 1},
	}, t0)
	if err != nil {
		t.Fatal(err)
	}
	o.PopEvents()
	return o
}

func paidUpdate(status domain.PaymentStatus) domain.PaymentUpdate {
	return domain.PaymentUpdate{PaymentID: "pay-1", Status: status, PriceAmount: dec("44.98"), PriceCurrency: "EUR",
		PayAmount: dec("48.804"), ActuallyPaid: dec("48.804"), PayCurrency: "usdttrc20"}
}

// inState drives a fresh order to the given status through the public API.
func inState(t *testing.T, s domain.OrderStatus) *domain.Order {
	t.Helper()
	if s == domain.StatusAwaitingPaymentSetup {
		return unpaidOrder(t)
	}
	o := newOrder(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("driving to %s: %v", s, err)
		}
	}
	pay := func() {
		_, err := o.ApplyPayment(paidUpdate(domain.PaymentFinished), t0)
		must(err)
	}
	fulfil := func() {
		_, err := o.StartFulfilment(t0)
		must(err)
		for _, it := range o.Items() {
			must(o.BeginItemPurchase(it.ID(), t0))
			must(o.RecordItemPurchase(it.ID(), "so-"+it.ID(), t0))
			keys := make([]domain.SealedKey, it.Quantity())
			for i := range keys {
				keys[i] = domain.SealedKey{Slot: i, BlobRef: fmt.Sprintf("b/%s/%d", it.ID(), i), ContentType: "text/plain"}
			}
			must(o.SealItem(it.ID(), keys, t0))
		}
		must(o.CompleteFulfilment(t0))
	}
	switch s {
	case domain.StatusPendingPayment:
	case domain.StatusPaid:
		pay()
	case domain.StatusUnderpaid:
		_, err := o.ApplyPayment(paidUpdate(domain.PaymentPartiallyPaid), t0)
		must(err)
	case domain.StatusExpired:
		must(o.Expire(t0))
	case domain.StatusRefunded:
		_, err := o.ApplyPayment(paidUpdate(domain.PaymentRefunded), t0)
		must(err)
	case domain.StatusFulfilling:
		pay()
		_, err := o.StartFulfilment(t0)
		must(err)
	case domain.StatusFailed:
		pay()
		_, err := o.StartFulfilment(t0)
		must(err)
		must(o.Fail("boom", t0))
	case domain.StatusNeedsReview:
		pay()
		_, err := o.StartFulfilment(t0)
		must(err)
		must(o.HoldForReview("the supplier does not know purchase so-1", t0))
	case domain.StatusFulfilled:
		pay()
		fulfil()
	case domain.StatusDelivered:
		pay()
		fulfil()
		must(o.MarkDelivered("link-1", t0))
	case domain.StatusRevoked:
		pay()
		fulfil()
		must(o.Revoke("fraud", t0))
	default:
		t.Fatalf("no recipe for %s", s)
	}
	if o.Status() != s {
		t.Fatalf("drove to %s, got %s", s, o.Status())
	}
	o.PopEvents()
	return o
}
