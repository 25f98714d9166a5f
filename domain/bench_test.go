package domain_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// BenchmarkHashToken measures hashing a delivery token, done on every
// delivery request.
func BenchmarkHashToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = domain.HashToken("kq1W7mJ3yq0p6oYj2Xo0b3s1u8eQy4mZrK9tL2vN5cA")
	}
}

// BenchmarkOrderLifecycle measures an order's state transitions from paid
// to delivered, with the events and timeline entries they record.
func BenchmarkOrderLifecycle(b *testing.B) {
	b.ReportAllocs()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	email, _ := domain.ParseEmail("bench@example.com")
	price := domain.MustMoney("19.99", "EUR")
	p, err := domain.NewProduct(domain.ProductSnapshot{SKU: "sku-a", Name: "Game", Platform: "Steam", Region: "GLOBAL", Price: price,
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: "sku-a", Cost: price}, Stock: 5, Active: true})
	if err != nil {
		b.Fatal(err)
	}
	paid := dec("19.99")
	for b.Loop() {
		o, err := domain.NewOrder("ord-1", email, domain.HashToken("secret"), []domain.NewItem{{ID: "item-1", Product: p, Quantity: 1}}, now)
		if err != nil {
			b.Fatal(err)
		}
		if err := o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-1", PayAmount: paid, PayCurrency: "usdttrc20"}, now); err != nil {
			b.Fatal(err)
		}
		if _, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: "pay-1", Status: domain.PaymentFinished, PriceAmount: paid, PriceCurrency: "EUR",
			PayAmount: paid, ActuallyPaid: paid, PayCurrency: "usdttrc20"}, now); err != nil {
			b.Fatal(err)
		}
		if _, err := o.StartFulfilment(now); err != nil {
			b.Fatal(err)
		}
		for _, it := range o.Items() {
			if err := o.BeginItemPurchase(it.ID(), now); err != nil {
				b.Fatal(err)
			}
			if err := o.RecordItemPurchase(it.ID(), "sup-1", now); err != nil {
				b.Fatal(err)
			}
			if err := o.SealItem(it.ID(), []domain.SealedKey{{Slot: 0, BlobRef: "r", ContentType: "text/plain"}}, now); err != nil {
				b.Fatal(err)
			}
		}
		if err := o.CompleteFulfilment(now); err != nil {
			b.Fatal(err)
		}
		if !o.ClaimDelivery("claim-1", now, time.Minute) {
			b.Fatal("no claim")
		}
		if err := o.MarkDelivered("link-1", now); err != nil {
			b.Fatal(err)
		}
	}
}
