package application_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// keysRefused buys normally and answers Keys with err.
type keysRefused struct {
	ports.Supplier
	err error
}

func (s keysRefused) Keys(context.Context, string) ([]ports.SupplierKey, error) { return nil, s.err }

// TestKeysOfAPurchaseFailTheItemOnlyWhenCancelled: after a purchase, a
// final-looking error reading its keys (a refused call, a code keyward
// cannot read) holds the order for review: what was paid for is never
// refunded on it. Only a purchase the supplier cancelled fails the item.
func TestKeysOfAPurchaseFailTheItemOnlyWhenCancelled(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		err  error
		want domain.OrderStatus
	}{
		"refused call": {fmt.Errorf("keys: %w: HTTP 403", ports.ErrSupplierPermanent), domain.StatusNeedsReview},
		"cancelled":    {fmt.Errorf("keys: %w: %w: the order is Cancelled", ports.ErrPurchaseCanceled, ports.ErrSupplierPermanent), domain.StatusFailed},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			o := w.paidOrder(t, 1)
			fulfil := w.app(func(d *application.Deps, _ *application.Settings) {
				d.Suppliers = ports.Suppliers{{Supplier: keysRefused{Supplier: w.supplier, err: c.err}}}
			}).Commands.FulfilOrder
			if err := fulfil.Handle(t.Context(), o.ID()); err != nil {
				t.Fatalf("fulfil = %v, want nil (held or failed, not retried)", err)
			}
			got, _ := w.orders.Get(t.Context(), o.ID())
			if got.Status() != c.want {
				t.Fatalf("order is %s (%q), want %s", got.Status(), got.ReviewReason(), c.want)
			}
			if c.want == domain.StatusNeedsReview && !strings.Contains(got.ReviewReason(), got.Items()[0].SupplierOrderID()) {
				t.Errorf("review reason %q does not name the purchase", got.ReviewReason())
			}
			if st := got.Items()[0].Status(); c.want == domain.StatusNeedsReview && st != domain.ItemPurchased {
				t.Errorf("item is %s, want purchased (recorded, not failed)", st)
			}
		})
	}
}
