package ports_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/ports"
)

type namedSupplier struct{ ports.Supplier }

func (namedSupplier) Name() string { return "plain" }

type balancedSupplier struct{ namedSupplier }

func (balancedSupplier) Name() string                             { return "funded" }
func (balancedSupplier) Balance(context.Context) (float64, error) { return 42, nil }

// hiding is a decorator that, like the metrics and breaker wrappers,
// does not pass the balance through.
type hiding struct{ ports.Supplier }

// TestWrapKeepsTheBalance: suppliers wrapped by decorators that hide the
// SupplierBalance interface still report their balance through
// Balances, and a supplier with none is left out.
func TestWrapKeepsTheBalance(t *testing.T) {
	s := ports.Suppliers{{Supplier: namedSupplier{}}, {Supplier: balancedSupplier{}}}
	wrapped := s.Wrap(func(x ports.Supplier) ports.Supplier { return hiding{x} }).Wrap(func(x ports.Supplier) ports.Supplier { return hiding{x} })
	if _, ok := wrapped[1].Supplier.(ports.SupplierBalance); ok {
		t.Fatal("the test decorator passes the balance through; it must hide it")
	}
	got := wrapped.Balances()
	if len(got) != 1 || got[0].Supplier.Name() != "funded" {
		t.Fatalf("Balances() = %d registrations, want the one funded supplier", len(got))
	}
	if b, err := got[0].Balance.Balance(t.Context()); err != nil || b != 42 {
		t.Fatalf("balance = %v, %v; want 42", b, err)
	}
}
