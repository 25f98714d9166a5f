package application

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// BalanceTrusted is how long a supplier balance known to keyward is
// trusted by routing: an older one is not acted on.
const BalanceTrusted = 10 * time.Minute

// BalanceBook is the last balance known of each supplier's account, in
// this process: what the balance reads keyward makes anyway (GET
// /v1/admin/suppliers, the supplier_balance gauge, the
// supplier.balance_low check) read, or what a supplier's refusal for want
// of balance tells. Routing passes over an offer its supplier's balance
// is known, recently, to be too low to pay for, without asking the
// supplier. It is safe for concurrent use; a nil BalanceBook knows
// nothing.
type BalanceBook struct {
	clock ports.Clock
	mu    sync.Mutex
	known map[string]knownBalance
}

// knownBalance is one supplier's balance as last known: read, or (below)
// only known to be less than amount because a purchase of amount was
// refused for want of balance.
type knownBalance struct {
	amount   decimal.Decimal
	currency domain.Currency
	below    bool
	at       time.Time
}

// NewBalanceBook returns a book that knows no balance yet; clock dates
// what it is told.
func NewBalanceBook(clock ports.Clock) *BalanceBook {
	require("BalanceBook", "clock", clock)
	return &BalanceBook{clock: clock, known: map[string]knownBalance{}}
}

// Record notes the supplier's balance as just read. A negative balance
// (an account in debt) is noted as it is.
func (b *BalanceBook) Record(supplier string, amount decimal.Decimal, currency domain.Currency) {
	if b == nil || currency.IsZero() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.known[supplier] = knownBalance{amount: amount, currency: currency, at: b.clock.Now()}
}

// refused notes that the supplier refused a purchase of need for want of
// balance: its balance is below need. A recent balance that already
// explains the refusal is kept (it says more).
func (b *BalanceBook) refused(supplier string, need domain.Money) {
	if b == nil || need.Currency().IsZero() {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if k, ok := b.known[supplier]; ok && k.fresh(now) && k.tooLowFor(need) {
		return
	}
	b.known[supplier] = knownBalance{amount: need.Amount(), currency: need.Currency(), below: true, at: now}
}

// short returns why the supplier cannot pay need when its balance, known
// for no longer than BalanceTrusted, is below it ("balance too low (5.00
// EUR)", or "(under 12.00 EUR)" when a refusal is all that is known);
// false when the balance is not known to be too low (unknown, stale, in
// another currency, or enough).
func (b *BalanceBook) short(supplier string, need domain.Money) (string, bool) {
	if b == nil {
		return "", false
	}
	b.mu.Lock()
	k, ok := b.known[supplier]
	b.mu.Unlock()
	if !ok || !k.fresh(b.clock.Now()) || !k.tooLowFor(need) {
		return "", false
	}
	return k.reason(), true
}

func (k knownBalance) fresh(now time.Time) bool { return now.Sub(k.at) <= BalanceTrusted }

// tooLowFor: the balance cannot pay need (same currency only).
func (k knownBalance) tooLowFor(need domain.Money) bool {
	if k.currency != need.Currency() {
		return false
	}
	if k.below {
		// Below amount: too low for amount or more.
		return need.Amount().GreaterThanOrEqual(k.amount)
	}
	return k.amount.LessThan(need.Amount())
}

func (k knownBalance) reason() string {
	if k.below {
		return fmt.Sprintf("balance too low (under %s %s)", k.amount.StringFixed(2), k.currency)
	}
	return fmt.Sprintf("balance too low (%s %s)", k.amount.StringFixed(2), k.currency)
}

// RecordBalances returns the suppliers with each one's balance reader
// (ports.SupplierRegistration.Balancer) noting what it reads in book, in
// the supplier's currency (Kinguin's and CodesWholesale's are EUR): every
// reader of the registrations' balances feeds the book through it.
func RecordBalances(s ports.Suppliers, book *BalanceBook) ports.Suppliers {
	out := make(ports.Suppliers, len(s))
	for i, r := range s {
		if sb, ok := r.Balancer(); ok && book != nil {
			r.Balance = recordedBalance{SupplierBalance: sb, supplier: r.Supplier.Name(), book: book}
		}
		out[i] = r
	}
	return out
}

// balanceCurrency is the currency of the balances suppliers report.
var balanceCurrency = domain.MustCurrency("EUR")

// recordedBalance reads a supplier's balance and notes it in the book.
type recordedBalance struct {
	ports.SupplierBalance
	supplier string
	book     *BalanceBook
}

func (r recordedBalance) Balance(ctx context.Context) (float64, error) {
	v, err := r.SupplierBalance.Balance(ctx)
	if err == nil {
		r.book.Record(r.supplier, decimal.NewFromFloat(v).Round(2), balanceCurrency)
	}
	return v, err
}
