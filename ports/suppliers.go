package ports

// SupplierRegistration is one supplier keyward buys from, with the
// verifier of its webhooks (nil: it sends none, and any is refused).
type SupplierRegistration struct {
	Supplier Supplier
	Hooks    SupplierEventVerifier
	// Balance reads the supplier's account balance; nil when it has none
	// to read. Wrap keeps it when the wrappers hide it.
	Balance SupplierBalance
	// Returns takes keys back; nil when the supplier takes none back.
	// Wrap keeps it when the wrappers hide it.
	Returns SupplierReturns
}

// Returner returns what takes keys back to the supplier, the supplier
// itself or the Returns kept by Wrap; false when it takes none back.
func (r SupplierRegistration) Returner() (SupplierReturns, bool) {
	if r.Returns != nil {
		return r.Returns, true
	}
	sr, ok := r.Supplier.(SupplierReturns)
	return sr, ok
}

// Balancer returns what reads the supplier's balance, the Balance kept by
// Wrap or the supplier itself; false when it tells none.
func (r SupplierRegistration) Balancer() (SupplierBalance, bool) {
	if r.Balance != nil {
		return r.Balance, true
	}
	sb, ok := r.Supplier.(SupplierBalance)
	return sb, ok
}

// Balances returns the registrations whose supplier reports a balance,
// the supplier itself or through the Balance kept by Wrap.
func (s Suppliers) Balances() []SupplierRegistration {
	var out []SupplierRegistration
	for _, r := range s {
		if b, ok := r.Balancer(); ok {
			r.Balance = b
			out = append(out, r)
		}
	}
	return out
}

// Suppliers are the suppliers keyward buys from, in the operator's order
// of preference (KEYWARD_SUPPLIERS), each under its Name.
type Suppliers []SupplierRegistration

// Get returns the supplier registered under name.
func (s Suppliers) Get(name string) (SupplierRegistration, bool) {
	for _, r := range s {
		if r.Supplier.Name() == name {
			return r, true
		}
	}
	return SupplierRegistration{}, false
}

// Names lists the suppliers' names in order.
func (s Suppliers) Names() []string {
	out := make([]string, len(s))
	for i, r := range s {
		out[i] = r.Supplier.Name()
	}
	return out
}

// Wrap returns the suppliers with each one passed through wrap (a circuit
// breaker, metrics); Name must pass straight.
func (s Suppliers) Wrap(wrap func(Supplier) Supplier) Suppliers {
	out := make(Suppliers, len(s))
	for i, r := range s {
		balance, _ := r.Balancer()
		returns, _ := r.Returner()
		out[i] = SupplierRegistration{Supplier: wrap(r.Supplier), Hooks: r.Hooks, Balance: balance, Returns: returns}
	}
	return out
}
