package bootstrap_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// TestSupplierPollDeliversWithoutTheWebhook: Kinguin has the keys ready a
// moment after the purchase but never sends its webhook, and the
// reconciler is off: a look 5 s (on keyward's clock) after the order was
// left waiting delivers them. (TestPollSupplierBacksOff pins the schedule.)
func TestSupplierPollDeliversWithoutTheWebhook(t *testing.T) {
	t.Parallel()
	kin := kinguintest.New(t, 3)
	kin.HoldKeys(true)
	h := startKinguin(t, kin, func(c *bootstrap.Config) { c.ReconcileInterval = 0 })
	h.waitCatalog(4, 30*time.Second)
	const email = "no.webhook@example.com"
	o := h.placeOrder(email, line(kinguintest.ProductID, 1))
	h.pay(o)
	got := h.waitItem(o, "purchased", 30*time.Second)
	supplierOrder := kin.OrderIDOf(got.Items[0].ID)
	if supplierOrder == "" {
		t.Fatal("no Kinguin order")
	}
	// Left waiting for its keys, the order has its payment confirmed.
	testkit.Eventually(t, 10*time.Second, "the payment's confirmation to "+email, func() bool {
		for _, m := range h.allMailsTo(email) {
			if m.Subject == "Payment confirmed for order "+o.ID {
				return true
			}
		}
		return false
	})
	kin.Deliver(supplierOrder, 0)
	h.clock.Advance(5 * time.Second)
	h.waitStatus(o, "delivered", 10*time.Second)
	if kin.Requests("GET /v2/order/"+supplierOrder+"/keys") < 2 {
		t.Fatal("delivered without a second look at the keys")
	}
	if n := len(h.mailsTo(email)); n != 1 {
		t.Fatalf("%d delivery emails, want 1", n)
	}
}
