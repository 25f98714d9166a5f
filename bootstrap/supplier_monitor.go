package bootstrap

import (
	"context"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// supplierMonitor tells each supplier's breaker state and balance, for
// GET /v1/admin/suppliers. It holds the suppliers as their modules provide
// them (their balance readable), not as the use cases call them.
type supplierMonitor struct {
	breakers  *breakers
	suppliers ports.Suppliers
}

var _ ports.SupplierMonitor = supplierMonitor{}

func newSupplierMonitor(b *breakers, s ports.Suppliers) ports.SupplierMonitor {
	return supplierMonitor{breakers: b, suppliers: s}
}

// Breaker returns the supplier's breaker state; "" without one.
func (m supplierMonitor) Breaker(supplier string) string {
	b, ok := m.breakers.bySupplier[supplier]
	if !ok {
		return ""
	}
	return b.cb.State().String()
}

// Balance reads the supplier's balance (EUR, as Kinguin and CodesWholesale
// keep it) through its registration, which notes it for routing; ok is
// false for a supplier that does not tell it.
func (m supplierMonitor) Balance(ctx context.Context, supplier string) (domain.Money, bool, error) {
	r, ok := m.suppliers.Get(supplier)
	if !ok {
		return domain.Money{}, false, nil
	}
	sb, ok := r.Balancer()
	if !ok {
		return domain.Money{}, false, nil
	}
	b, err := sb.Balance(ctx)
	if err != nil {
		return domain.Money{}, false, err
	}
	eur, err := domain.ParseCurrency("EUR")
	if err != nil {
		return domain.Money{}, false, err
	}
	money, err := domain.MoneyFromDecimal(decimal.NewFromFloat(b).Round(2), eur)
	return money, err == nil, err
}
