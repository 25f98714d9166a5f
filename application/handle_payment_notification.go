package application

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// PaymentNotificationResult says what a notification did.
type PaymentNotificationResult struct {
	OrderID   string
	Duplicate bool // the same notification was stored before
	Changed   bool // the order moved or recorded the new status
	Status    domain.OrderStatus
}

// HandlePaymentNotification verifies a gateway notification, stores it once
// and moves the order. The order's state machine makes repeats no-ops, so a
// duplicate is still applied (safe) rather than trusted to have been.
type HandlePaymentNotification struct {
	verifier      ports.NotificationVerifier
	notifications ports.PaymentNotificationLog
	orders        ports.OrderRepository
	clock         ports.Clock
	log           *slog.Logger
}

// NewHandlePaymentNotification wires HandlePaymentNotification; it panics when a dependency is nil.
func NewHandlePaymentNotification(verifier ports.NotificationVerifier, notifications ports.PaymentNotificationLog, orders ports.OrderRepository, clock ports.Clock, log *slog.Logger) HandlePaymentNotification {
	require("HandlePaymentNotification", "verifier", verifier, "notifications", notifications, "orders", orders, "clock", clock, "log", log)
	return HandlePaymentNotification{verifier: verifier, notifications: notifications, orders: orders, clock: clock, log: log}
}

// Handle returns ports.ErrSignatureInvalid or ports.ErrMalformedNotice for
// bad input (nothing is stored), domain.ErrNotFound for an unknown order.
func (h HandlePaymentNotification) Handle(ctx context.Context, body []byte, signature string) (PaymentNotificationResult, error) {
	notice, err := h.verifier.Verify(body, signature)
	if err != nil {
		return PaymentNotificationResult{}, err
	}
	res := PaymentNotificationResult{OrderID: notice.OrderID}
	fresh, err := h.notifications.Record(ctx, ports.PaymentNotification{
		Provider: notice.Provider, PaymentID: notice.Update.PaymentID, Status: notice.Update.Status.String(),
		OrderID: notice.OrderID, BodySHA256: notice.CanonicalSHA256, Body: body, ReceivedAt: h.clock.Now(),
	})
	if err != nil {
		return res, fmt.Errorf("record notification: %w", err)
	}
	res.Duplicate = !fresh
	o, err := h.orders.Update(ctx, notice.OrderID, func(o *domain.Order) error {
		changed, err := o.ApplyPayment(notice.Update, h.clock.Now())
		res.Changed = changed
		return err
	})
	if err != nil {
		return res, fmt.Errorf("apply payment to order %s: %w", notice.OrderID, err)
	}
	res.Status = o.Status()
	h.log.InfoContext(ctx, "payment notification", "order_id", notice.OrderID, "payment_status", notice.Update.Status.String(),
		"order_status", res.Status.String(), "duplicate", res.Duplicate, "changed", res.Changed)
	return res, nil
}
