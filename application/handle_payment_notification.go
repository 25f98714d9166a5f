package application

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// PaymentNotificationResult says what a notification did.
type PaymentNotificationResult struct {
	OrderID   string
	Duplicate bool // the same notification was stored before
	Changed   bool // the order moved or recorded the new status
	// Ignored: the notification was recorded but could not move the order:
	// a status keyward does not know, or (with confirmation on) a finished
	// payment the gateway does not confirm.
	Ignored bool
	Status  domain.OrderStatus
}

// HandlePaymentNotification verifies a gateway notification, stores it once
// and moves the order. The order's state machine makes repeats no-ops, so a
// duplicate is still applied (safe) rather than trusted to have been; a
// duplicate repeat deposit is not, as it would be recorded again. With
// confirm set, a finished payment is read back from the gateway first and
// the order moves only on what the gateway says.
type HandlePaymentNotification struct {
	tx            ports.Transactor
	audit         ports.AuditLog
	verifier      ports.NotificationVerifier
	notifications ports.PaymentNotificationLog
	orders        ports.OrderRepository
	gateway       ports.PaymentGateway
	confirm       bool
	// refund takes a refunded payment of an order paid already down the
	// admin's refund path; nil: such a notification is recorded only.
	refund *RefundOrder
	clock  ports.Clock
	log    *slog.Logger
}

// NewHandlePaymentNotification wires HandlePaymentNotification; it panics when a dependency is nil.
func NewHandlePaymentNotification(tx ports.Transactor, audit ports.AuditLog, verifier ports.NotificationVerifier, notifications ports.PaymentNotificationLog, orders ports.OrderRepository,
	gateway ports.PaymentGateway, confirm bool, clock ports.Clock, log *slog.Logger) HandlePaymentNotification {
	require("HandlePaymentNotification", "tx", tx, "audit", audit, "verifier", verifier, "notifications", notifications, "orders", orders, "gateway", gateway, "clock", clock, "log", log)
	return HandlePaymentNotification{tx: tx, audit: audit, verifier: verifier, notifications: notifications, orders: orders, gateway: gateway, confirm: confirm, clock: clock, log: log}
}

// Handle returns ports.ErrSignatureInvalid or ports.ErrMalformedNotice for
// bad input (nothing is stored), domain.ErrNotFound for an unknown order,
// domain.ErrInvalidOrder for a payment that is not the order's, and
// ErrUnavailable when a finished payment cannot be confirmed because the
// gateway is unavailable (the notification is stored; the gateway sends
// it again). A status keyward does not know is stored and ignored. Any
// other failure of a notification the order takes as it comes stores
// nothing, so the gateway's retry applies it in full.
func (h HandlePaymentNotification) Handle(ctx context.Context, body []byte, signature string) (PaymentNotificationResult, error) {
	notice, err := h.verifier.Verify(body, signature)
	if err != nil {
		h.auditRejected(ctx, err)
		return PaymentNotificationResult{}, err
	}
	res := PaymentNotificationResult{OrderID: notice.OrderID}
	stored := ports.PaymentNotification{
		Provider: notice.Provider, PaymentID: notice.Update.PaymentID, Status: notice.Status,
		OrderID: notice.OrderID, BodySHA256: notice.CanonicalSHA256, Body: body, ReceivedAt: h.clock.Now(),
	}
	update := notice.Update
	// A notification the order takes as it comes (no confirmation with the
	// gateway, no refund of a paid order) is stored, audited and applied
	// in one unit of work; the others are stored first and then looked at.
	if h.appliesAsItComes(update) {
		var (
			o        *domain.Order
			applyErr error
		)
		err = h.tx.Atomically(ctx, func(ctx context.Context) error {
			o, applyErr, res.Changed = nil, nil, false // a retried transaction starts afresh
			fresh, err := h.record(ctx, notice, stored)
			if err != nil {
				return fmt.Errorf("record notification: %w", err)
			}
			res.Duplicate = !fresh
			if update.ParentPaymentID != "" && res.Duplicate {
				return nil // a repeat deposit is recorded once: not applied again
			}
			o, applyErr = h.apply(ctx, &res, update)
			return applyErr
		})
		switch {
		case err == nil && o == nil:
			return h.current(ctx, res)
		case err == nil:
			return h.applied(ctx, res, update, o), nil
		}
		res.Changed = false // nothing of the unit of work stayed
		if applyErr == nil || !refused(applyErr) {
			// Storage, the audit or the unit of work failed, not the
			// order: nothing is stored, so the gateway's retry runs the
			// whole unit of work again (a stored repeat deposit would be
			// a duplicate then, and never applied).
			return res, err
		}
		// The order refused it: the notification is stored and audited on
		// its own, as it came, and the refusal returned. (A store that
		// keeps what a failed unit of work wrote has it already.)
		firstFresh := !res.Duplicate
		fresh, err := h.recordAlone(ctx, notice, stored)
		if err != nil {
			return res, fmt.Errorf("record notification: %w", err)
		}
		res.Duplicate = !fresh && !firstFresh
		return res, applyErr
	}
	fresh, err := h.recordAlone(ctx, notice, stored)
	if err != nil {
		return res, fmt.Errorf("record notification: %w", err)
	}
	res.Duplicate = !fresh
	switch {
	case update.Status.IsZero():
		h.log.WarnContext(ctx, "payment notification with an unknown status: recorded and ignored", "order_id", notice.OrderID,
			"payment_id", update.PaymentID, "payment_status", notice.Status)
		res.Ignored = true
		return res, nil
	case update.ParentPaymentID != "" && res.Duplicate:
		return h.current(ctx, res)
	case h.confirm && update.Status == domain.PaymentFinished && update.ParentPaymentID == "":
		confirmed, ok, err := h.confirmFinished(ctx, notice)
		if err != nil {
			return res, err
		}
		if !ok {
			res.Ignored = true
			return h.current(ctx, res)
		}
		update = confirmed
	}
	if update.Status == domain.PaymentRefunded && update.ParentPaymentID == "" && h.refund != nil {
		if done, err := h.refundPaid(ctx, &res, update.PaymentID); done || err != nil {
			return res, err
		}
	}
	o, err := h.apply(ctx, &res, update)
	if err != nil {
		return res, err
	}
	return h.applied(ctx, res, update, o), nil
}

// appliesAsItComes reports whether a notification with update moves the
// order without a look elsewhere first: its status is known, it needs no
// confirmation by the gateway, and it is not a refund of a paid order.
func (h HandlePaymentNotification) appliesAsItComes(update domain.PaymentUpdate) bool {
	switch {
	case update.Status.IsZero():
		return false
	case h.confirm && update.Status == domain.PaymentFinished && update.ParentPaymentID == "":
		return false
	case update.Status == domain.PaymentRefunded && update.ParentPaymentID == "" && h.refund != nil:
		return false
	}
	return true
}

// record stores n, with its audit record when it is new, in the unit of
// work of ctx; it reports whether n was new.
func (h HandlePaymentNotification) record(ctx context.Context, notice ports.PaymentNotice, n ports.PaymentNotification) (bool, error) {
	fresh, err := h.notifications.Record(ctx, n)
	if err != nil || !fresh {
		return fresh, err
	}
	_, err = h.audit.Append(ctx, ActorGateway, AuditPaymentNotification, notice.OrderID, map[string]string{
		"provider": notice.Provider, "payment_id": notice.Update.PaymentID, "payment_status": notice.Status,
		"parent_payment_id": notice.Update.ParentPaymentID,
	})
	return true, err
}

// recordAlone stores n and its audit record together, once, in a unit of
// work of their own.
func (h HandlePaymentNotification) recordAlone(ctx context.Context, notice ports.PaymentNotice, n ports.PaymentNotification) (bool, error) {
	var fresh bool
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		var err error
		fresh, err = h.record(ctx, notice, n)
		return err
	})
	return fresh, err
}

// apply moves the order of res with update.
func (h HandlePaymentNotification) apply(ctx context.Context, res *PaymentNotificationResult, update domain.PaymentUpdate) (*domain.Order, error) {
	o, err := h.orders.Update(ctx, res.OrderID, func(o *domain.Order) error {
		changed, err := o.ApplyPayment(update, h.clock.Now())
		res.Changed = changed
		return err
	})
	if err != nil {
		res.Changed = false // the order kept what it had
		return nil, fmt.Errorf("apply payment to order %s: %w", res.OrderID, err)
	}
	return o, nil
}

// refused reports whether err is the order refusing a payment update (an
// unknown order, a payment not its own, a move its state does not allow),
// as opposed to a failure of what stores it.
func refused(err error) bool {
	return ClassifyFailure(err) == FailurePermanent
}

// applied fills res with the order update moved, and logs it.
func (h HandlePaymentNotification) applied(ctx context.Context, res PaymentNotificationResult, update domain.PaymentUpdate, o *domain.Order) PaymentNotificationResult {
	res.Status = o.Status()
	h.log.InfoContext(ctx, "payment notification", "order_id", res.OrderID, "payment_id", update.PaymentID,
		"parent_payment_id", update.ParentPaymentID, "payment_status", update.Status.String(),
		"order_status", res.Status.String(), "duplicate", res.Duplicate, "changed", res.Changed)
	return res
}

// refundingWith returns h taking refunded payments of paid orders down r.
func (h HandlePaymentNotification) refundingWith(r RefundOrder) HandlePaymentNotification {
	h.refund = &r
	return h
}

// RefundReasonPaymentRefunded is the reason of a refund the gateway
// reported.
const RefundReasonPaymentRefunded = "payment refunded"

// refundPaid refunds an order paid already whose payment the gateway
// reports refunded, as an admin's refund would (reference: the payment
// id). It reports false when the order is not one the refund takes (not
// paid yet: the payment state machine ends it), and true, with no error,
// when the order was refunded already.
func (h HandlePaymentNotification) refundPaid(ctx context.Context, res *PaymentNotificationResult, paymentID string) (bool, error) {
	o, err := h.orders.Get(ctx, res.OrderID)
	if err != nil {
		return false, fmt.Errorf("order %s: %w", res.OrderID, err)
	}
	switch {
	case o.Payment().PaymentID != paymentID:
		return false, nil // ApplyPayment refuses it
	case o.Status() == domain.StatusRefunded:
		res.Status = o.Status()
		return true, nil
	case o.RefundCanStart() != nil:
		return false, nil
	}
	o, err = h.refund.Handle(ctx, RefundCommand{OrderID: o.ID(), Reason: RefundReasonPaymentRefunded, Reference: paymentID, Actor: ActorGateway})
	switch {
	case errors.Is(err, domain.ErrConflict):
		return h.done(ctx, res)
	case err != nil:
		return true, fmt.Errorf("refund order %s: %w", res.OrderID, err)
	}
	res.Changed, res.Status = true, o.Status()
	h.log.InfoContext(ctx, "payment refunded: order refunded", "order_id", o.ID(), "payment_id", paymentID)
	return true, nil
}

func (h HandlePaymentNotification) done(ctx context.Context, res *PaymentNotificationResult) (bool, error) {
	cur, err := h.current(ctx, *res)
	*res = cur
	return true, err
}

// confirmTimeout bounds the confirmation: NOWPayments wants its IPN
// answered within 3 s, and resends it when told to try again.
const confirmTimeout = 2 * time.Second

// confirmFinished reads a payment the notice says is finished back from
// the gateway. It returns the gateway's own view of it when the gateway
// agrees (finished, for the same order), false when it does not, and
// ErrUnavailable when it cannot be asked.
func (h HandlePaymentNotification) confirmFinished(ctx context.Context, notice ports.PaymentNotice) (domain.PaymentUpdate, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, confirmTimeout)
	defer cancel()
	st, err := h.gateway.GetPayment(ctx, notice.Update.PaymentID)
	if err != nil {
		return domain.PaymentUpdate{}, false, fmt.Errorf("%w: confirm payment %s of order %s: %v", ErrUnavailable, notice.Update.PaymentID, notice.OrderID, err)
	}
	if st.Update.Status != domain.PaymentFinished || st.OrderID != notice.OrderID || st.Update.PaymentID != notice.Update.PaymentID {
		h.log.WarnContext(ctx, "finished payment not confirmed by the gateway: the order does not move", "order_id", notice.OrderID,
			"payment_id", notice.Update.PaymentID, "gateway_status", st.Status, "gateway_order_id", st.OrderID)
		return domain.PaymentUpdate{}, false, nil
	}
	return st.Update, true, nil
}

// current fills res with the order's status as it is.
func (h HandlePaymentNotification) current(ctx context.Context, res PaymentNotificationResult) (PaymentNotificationResult, error) {
	o, err := h.orders.Get(ctx, res.OrderID)
	if err != nil {
		return res, fmt.Errorf("order %s: %w", res.OrderID, err)
	}
	res.Status = o.Status()
	return res, nil
}

// auditRejected records a notification that was refused, with why (never
// its body). Refusals come from anyone on the internet: the webhook's rate
// limit per source bounds them, and a failure to record is only logged.
func (h HandlePaymentNotification) auditRejected(ctx context.Context, cause error) {
	why := "signature missing or invalid"
	if errors.Is(cause, ports.ErrMalformedNotice) {
		why = cause.Error()
		if len(why) > 200 {
			why = strings.ToValidUTF8(why[:200], "") + "…"
		}
	}
	if _, err := h.audit.Append(ctx, ActorGateway, AuditPaymentRejected, "webhook", map[string]string{"reason": why}); err != nil {
		h.log.WarnContext(ctx, "could not audit a refused payment notification", "err", err)
	}
}
