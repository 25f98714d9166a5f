package domain

import (
	"fmt"
	"strings"
	"time"
)

// AttachPayment stores the payment the gateway issued (a zero status becomes
// waiting). It returns ErrInvalidTransition unless the order awaits payment
// and has none yet; ErrInvalidOrder when p has no provider or id.
func (o *Order) AttachPayment(p Payment, now time.Time) error {
	if o.status != StatusPendingPayment || o.payment.PaymentID != "" {
		return fmt.Errorf("%w: order %s already has a payment or is %s", ErrInvalidTransition, o.id, o.status)
	}
	if p.PaymentID == "" || p.Provider == "" {
		return fmt.Errorf("%w: payment without provider or id", ErrInvalidOrder)
	}
	if p.Status.IsZero() {
		p.Status = PaymentWaiting
	}
	o.payment = p
	o.record(EventKindPaymentCreated, map[string]string{"provider": p.Provider, "payment_id": p.PaymentID}, now)
	return nil
}

// ApplyPayment moves the order according to a verified payment update and
// reports whether anything changed. Repeated, older or late updates are
// no-ops. A finished payment whose amount or currency does not match is
// held as underpaid, never paid. It returns ErrInvalidOrder when the update
// is for another payment, or ErrInvalidTransition should the state machine
// refuse the step (it never does from pending_payment or underpaid).
func (o *Order) ApplyPayment(u PaymentUpdate, now time.Time) (bool, error) {
	if u.PaymentID != o.payment.PaymentID {
		return false, fmt.Errorf("%w: payment %s does not belong to order %s", ErrInvalidOrder, u.PaymentID, o.id)
	}
	if o.status != StatusPendingPayment && o.status != StatusUnderpaid {
		return false, nil
	}
	if u.Status.rank <= o.payment.Status.rank {
		return false, nil
	}
	o.payment.Status = u.Status
	if !u.ActuallyPaid.IsZero() {
		o.payment.ActuallyPaid = u.ActuallyPaid
	}
	meta := map[string]string{"payment_status": u.Status.String(), "actually_paid": u.ActuallyPaid.String()}
	switch u.Status {
	case PaymentFinished:
		if reason := o.paymentMismatch(u); reason != "" {
			meta["reason"] = reason
			return true, o.hold(reason, meta, now)
		}
		if err := o.transition(StatusPaid, EventKindPaymentConfirmed, meta, now); err != nil {
			return false, err
		}
		o.emit(EventOrderPaid, now, "")
	case PaymentPartiallyPaid:
		meta["reason"] = "partially_paid"
		return true, o.hold("partially_paid", meta, now)
	case PaymentFailed, PaymentExpired:
		if o.status == StatusUnderpaid {
			// Part of the money arrived: the order stays held for review.
			o.record(paymentUpdateKinds[u.Status], meta, now)
			return true, nil
		}
		if err := o.transition(StatusExpired, paymentUpdateKinds[u.Status], meta, now); err != nil {
			return false, err
		}
		o.emit(EventOrderExpired, now, u.Status.String())
	default:
		o.record(paymentUpdateKinds[u.Status], meta, now)
	}
	return true, nil
}

func (o *Order) hold(reason string, meta map[string]string, now time.Time) error {
	if o.status == StatusUnderpaid {
		o.record(EventKindPaymentHeld, meta, now)
		return nil
	}
	if err := o.transition(StatusUnderpaid, EventKindPaymentHeld, meta, now); err != nil {
		return err
	}
	o.emit(EventPaymentHeld, now, reason)
	return nil
}

// paymentMismatch returns why a finished payment cannot be accepted, or "".
func (o *Order) paymentMismatch(u PaymentUpdate) string {
	switch {
	case u.PriceCurrency == "" || !strings.EqualFold(u.PriceCurrency, o.total.Currency().String()):
		return "price_currency_mismatch"
	case !u.PriceAmount.Equal(o.total.Amount()):
		return "price_amount_mismatch"
	case !strings.EqualFold(u.PayCurrency, o.payment.PayCurrency):
		return "pay_currency_mismatch"
	case u.ActuallyPaid.LessThan(o.payment.PayAmount):
		return "insufficient_amount"
	}
	return ""
}

// Expire ends an order that was never (fully) paid and collects
// EventOrderExpired. It returns ErrInvalidTransition unless the order is
// pending_payment or underpaid.
func (o *Order) Expire(now time.Time) error {
	if err := o.transition(StatusExpired, EventKindOrderExpired, nil, now); err != nil {
		return err
	}
	o.emit(EventOrderExpired, now, "")
	return nil
}
