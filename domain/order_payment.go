package domain

import (
	"fmt"
	"strings"
	"time"
)

// AttachPayment stores the payment the gateway issued (a zero status becomes
// waiting), moves the order from awaiting_payment_setup to pending_payment
// and collects EventPaymentCreated. It returns ErrInvalidTransition unless
// the order awaits its payment setup; ErrInvalidOrder when p has no
// provider or id.
func (o *Order) AttachPayment(p Payment, now time.Time) error {
	if o.status != StatusAwaitingPaymentSetup || o.payment.PaymentID != "" {
		return fmt.Errorf("%w: order %s already has a payment or is %s", ErrInvalidTransition, o.id, o.status)
	}
	if p.PaymentID == "" || p.Provider == "" {
		return fmt.Errorf("%w: payment without provider or id", ErrInvalidOrder)
	}
	if p.Status.IsZero() {
		p.Status = PaymentWaiting
	}
	if err := o.transition(StatusPendingPayment, EventKindPaymentCreated, map[string]string{"provider": p.Provider, "payment_id": p.PaymentID}, now); err != nil {
		return err
	}
	o.payment = p
	o.emit(EventPaymentCreated, now, "")
	return nil
}

// FailPaymentSetup records that the gateway could not issue the order's
// payment. A temporary failure leaves the order awaiting its payment setup
// (it is retried); a permanent one (the gateway refused the payment as
// asked) expires it and collects EventOrderExpired with the reason. It
// returns ErrInvalidTransition unless the order awaits its payment setup.
func (o *Order) FailPaymentSetup(reason string, permanent bool, now time.Time) error {
	if o.status != StatusAwaitingPaymentSetup {
		return fmt.Errorf("%w: order %s is %s, not awaiting its payment setup", ErrInvalidTransition, o.id, o.status)
	}
	meta := map[string]string{"reason": reason, "permanent": fmt.Sprint(permanent)}
	if !permanent {
		o.record(EventKindPaymentSetupFailed, meta, now)
		return nil
	}
	if err := o.transition(StatusExpired, EventKindPaymentSetupFailed, meta, now); err != nil {
		return err
	}
	o.emit(EventOrderExpired, now, "payment_setup_failed")
	return nil
}

// ApplyPayment moves the order according to a verified payment update and
// reports whether anything changed. Repeated, older or late updates are
// no-ops. A finished payment whose amount or currency does not match is
// held as underpaid, never paid; a finished payment arriving after the
// order expired holds it for review (needs_review); partially_paid holds it too; failed and
// expired end an order that received nothing (expired), refunded ends it
// as refunded. A repeat deposit (ParentPaymentID set) is recorded on the
// timeline and never pays the order: an order still awaiting payment is
// held for review. It returns ErrInvalidOrder when the update is for
// another payment, or ErrInvalidTransition should the state machine refuse
// the step (it never does from pending_payment or underpaid).
func (o *Order) ApplyPayment(u PaymentUpdate, now time.Time) (bool, error) {
	if u.ParentPaymentID != "" {
		return o.applyRepeatDeposit(u, now)
	}
	if u.PaymentID != o.payment.PaymentID || o.payment.PaymentID == "" {
		return false, fmt.Errorf("%w: payment %s does not belong to order %s", ErrInvalidOrder, u.PaymentID, o.id)
	}
	if u.Status.IsZero() {
		return false, fmt.Errorf("%w: payment update without a status", ErrInvalidOrder)
	}
	if o.status == StatusExpired && u.Status == PaymentFinished && o.payment.Status != PaymentFinished {
		return true, o.holdLatePayment(u, now)
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
	case PaymentRefunded:
		if err := o.transition(StatusRefunded, EventKindPaymentRefunded, meta, now); err != nil {
			return false, err
		}
		o.emit(EventOrderRefunded, now, "")
	default:
		o.record(paymentUpdateKinds[u.Status], meta, now)
	}
	return true, nil
}

// holdLatePayment keeps money that arrived after the order expired: the
// order is held for review (a person fulfils or refunds it), never dropped.
func (o *Order) holdLatePayment(u PaymentUpdate, now time.Time) error {
	o.payment.Status = u.Status
	if !u.ActuallyPaid.IsZero() {
		o.payment.ActuallyPaid = u.ActuallyPaid
	}
	reason := "late_payment: finished after the order expired"
	if mismatch := o.paymentMismatch(u); mismatch != "" {
		reason += " (" + mismatch + ")"
	}
	meta := map[string]string{"reason": reason, "payment_status": u.Status.String(), "actually_paid": u.ActuallyPaid.String()}
	if err := o.transition(StatusNeedsReview, EventKindHeldForReview, meta, now); err != nil {
		return err
	}
	o.emit(EventOrderNeedsReview, now, reason)
	return nil
}

// applyRepeatDeposit records money sent again to the address of the
// order's payment. It never pays (so never fulfils) the order; an order
// still awaiting payment is held for review, since money arrived outside
// the payment it asked for.
func (o *Order) applyRepeatDeposit(u PaymentUpdate, now time.Time) (bool, error) {
	if u.ParentPaymentID != o.payment.PaymentID || o.payment.PaymentID == "" {
		return false, fmt.Errorf("%w: repeat deposit %s: parent payment %s does not belong to order %s", ErrInvalidOrder, u.PaymentID, u.ParentPaymentID, o.id)
	}
	if u.PaymentID == "" || u.PaymentID == u.ParentPaymentID {
		return false, fmt.Errorf("%w: repeat deposit without its own payment id", ErrInvalidOrder)
	}
	meta := map[string]string{"payment_id": u.PaymentID, "parent_payment_id": u.ParentPaymentID,
		"payment_status": u.Status.String(), "actually_paid": u.ActuallyPaid.String(), "pay_currency": u.PayCurrency}
	if o.status == StatusPendingPayment {
		meta["reason"] = "repeat_deposit"
		if err := o.transition(StatusUnderpaid, EventKindRepeatDeposit, meta, now); err != nil {
			return false, err
		}
		o.emit(EventPaymentHeld, now, "repeat_deposit")
		return true, nil
	}
	o.record(EventKindRepeatDeposit, meta, now)
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
// awaiting_payment_setup, pending_payment or underpaid.
func (o *Order) Expire(now time.Time) error {
	if err := o.transition(StatusExpired, EventKindOrderExpired, nil, now); err != nil {
		return err
	}
	o.emit(EventOrderExpired, now, "")
	return nil
}
