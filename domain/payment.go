package domain

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// PaymentStatus is a payment provider's status, ranked so that a repeated
// or older notification can never move an order backwards.
type PaymentStatus struct {
	name string
	rank int
}

// Payment statuses as NOWPayments names them.
var (
	PaymentWaiting       = PaymentStatus{"waiting", 1}
	PaymentConfirming    = PaymentStatus{"confirming", 2}
	PaymentConfirmed     = PaymentStatus{"confirmed", 3}
	PaymentSending       = PaymentStatus{"sending", 4}
	PaymentPartiallyPaid = PaymentStatus{"partially_paid", 5}
	PaymentFinished      = PaymentStatus{"finished", 6}
	PaymentFailed        = PaymentStatus{"failed", 7}
	PaymentExpired       = PaymentStatus{"expired", 7}
	PaymentRefunded      = PaymentStatus{"refunded", 8}
)

var paymentStatuses = []PaymentStatus{
	PaymentWaiting, PaymentConfirming, PaymentConfirmed, PaymentSending,
	PaymentPartiallyPaid, PaymentFinished, PaymentFailed, PaymentExpired, PaymentRefunded,
}

// ParsePaymentStatus returns the status named s, or ErrInvalidOrder.
func ParsePaymentStatus(s string) (PaymentStatus, error) {
	for _, st := range paymentStatuses {
		if st.name == s {
			return st, nil
		}
	}
	return PaymentStatus{}, fmt.Errorf("%w: unknown payment status %q", ErrInvalidOrder, s)
}

// String returns the provider's name for the status, "" for the zero value.
func (s PaymentStatus) String() string { return s.name }

// IsZero reports whether s is unset.
func (s PaymentStatus) IsZero() bool { return s.name == "" }

// Payment is what the gateway issued for an order: where and how much the
// customer pays in crypto, and the latest status seen.
type Payment struct {
	Provider    string
	PaymentID   string
	PayAddress  string
	PayAmount   decimal.Decimal
	PayCurrency string
	// PayinExtraID is the memo or destination tag some coins (XRP, XLM,
	// EOS...) need beside the address; "" when the coin has none.
	PayinExtraID string
	Status       PaymentStatus
	ActuallyPaid decimal.Decimal
}

// PaymentUpdate is a verified notification from the gateway about a payment.
type PaymentUpdate struct {
	PaymentID string
	// ParentPaymentID is set on a repeat deposit: a new payment the gateway
	// made for money sent again to the address of payment ParentPaymentID.
	ParentPaymentID string
	Status          PaymentStatus
	PriceAmount     decimal.Decimal
	PriceCurrency   string
	PayAmount       decimal.Decimal
	ActuallyPaid    decimal.Decimal
	PayCurrency     string
}
