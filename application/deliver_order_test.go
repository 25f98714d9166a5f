package application_test

import (
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// TestDeliverOrderTransactions counts what a delivery commits: the claim
// with the new link, the claim's check before the email, the email's audit
// record, and the mark delivered.
func TestDeliverOrderTransactions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o := w.paidOrder(t, 1)
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	c := &unitCounter{}
	deliver := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Tx = c
		d.Orders = unitOrders{OrderRepository: w.orders, c: c}
		d.Links = unitLinks{DeliveryLinkRepository: w.links, c: c}
	}).Commands.DeliverOrder
	if err := deliver.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if s := w.status(t, o.ID()); s != domain.StatusDelivered || len(w.mail.sent) != 1 {
		t.Fatalf("order %s after delivery, %d emails", s, len(w.mail.sent))
	}
	assertOneLiveLink(t, w, o.ID(), 1)
	if n := c.n.Load(); n != 4 {
		t.Fatalf("a delivery committed %d transactions, want 4", n)
	}
}
