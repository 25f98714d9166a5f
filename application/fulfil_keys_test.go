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

// refusedAfterBuying buys, then reports a refusal: a purchase exists that
// the item's failure does not know of.
type refusedAfterBuying struct{ ports.Supplier }

func (s refusedAfterBuying) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	if _, err := s.Supplier.PlaceOrder(ctx, r); err != nil {
		return ports.SupplierOrder{}, err
	}
	return ports.SupplierOrder{}, fmt.Errorf("place order: %w: refused after an unclear attempt", ports.ErrSupplierPermanent)
}

// TestARetriedItemBegunAtASupplierIsLookedUpNotSoldFromStock: an item
// whose purchase was begun at a supplier and failed goes back to pending
// on a retry (keeping the supplier it was begun with). Own stock may have
// arrived meanwhile; the item must not take it, since a purchase may
// exist: it is looked up at its supplier first, and the purchase found
// is used. One supplier purchase, no stock key sold.
func TestARetriedItemBegunAtASupplierIsLookedUpNotSoldFromStock(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ps, err := w.catalog.List(t.Context(), "", 1)
	if err != nil || len(ps) == 0 {
		t.Fatalf("catalog: %v", err)
	}
	sku := ps[0].SKU()
	o, err := placePaid(t, w, sku)
	if err != nil {
		t.Fatal(err)
	}
	refusing := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers = ports.Suppliers{{Supplier: refusedAfterBuying{w.supplier}}}
	})
	if err := refusing.Commands.FulfilOrder.Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if st := w.status(t, o.ID()); st != domain.StatusFailed {
		t.Fatalf("order is %s, want failed", st)
	}
	importKeys(t, w, sku, 1, 0, "OWN-KEY-RETRY")
	if _, err := w.app().Commands.RetryFulfilment.Handle(t.Context(), o.ID(), "admin:test"); err != nil {
		t.Fatal(err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if it := got.Items()[0]; it.Status() != domain.ItemPending || it.BoughtFrom() != "sandbox" {
		t.Fatalf("retried item is %s from %q, want pending, begun at sandbox", it.Status(), it.BoughtFrom())
	}
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	got, _ = w.orders.Get(t.Context(), o.ID())
	if got.Status() != domain.StatusFulfilled || got.Items()[0].SupplierOrderID() == "own-stock" {
		t.Fatalf("order is %s, item bought as %q; want fulfilled from the supplier's purchase", got.Status(), got.Items()[0].SupplierOrderID())
	}
	if n := w.supplier.TotalPurchases(); n != 1 {
		t.Fatalf("%d supplier purchases, want the 1 made before the retry", n)
	}
	if levels, err := w.app().Queries.ListStock.Handle(t.Context(), sku); err != nil || levels.Counts.Assigned != 0 {
		t.Fatalf("stock after the retry = %+v (%v), want no key sold", levels.Counts, err)
	}
}

// unitBlobs records, for each put, whether it ran inside a unit of work
// of a unitCounter; joins is what it answers to ports.PutJoinsUnitOfWork.
type unitBlobs struct {
	ports.BlobStore
	joins  bool
	inUnit []bool
}

func (b *unitBlobs) PutJoinsUnitOfWork() bool { return b.joins }

func (b *unitBlobs) Put(ctx context.Context, ref string, data []byte) error {
	b.inUnit = append(b.inUnit, ctx.Value(inUnitKey{}) != nil)
	return b.BlobStore.Put(ctx, ref, data)
}

// TestSealedKeysJoinTheSealWhereTheStoreAllows: a blob store whose puts
// join the unit of work (Postgres) gets the sealed keys inside the unit
// of work that records the seal, at no transaction of their own; any
// other (S3) gets them before it, so that no transaction is held open
// across an upload.
func TestSealedKeysJoinTheSealWhereTheStoreAllows(t *testing.T) {
	t.Parallel()
	for _, joins := range []bool{true, false} {
		w := newWorld(t)
		o := w.paidOrder(t, 2)
		blobs := &unitBlobs{BlobStore: w.blobs, joins: joins}
		fulfil := w.app(func(d *application.Deps, _ *application.Settings) {
			d.Tx = &unitCounter{}
			d.Blobs = blobs
		}).Commands.FulfilOrder
		if err := fulfil.Handle(t.Context(), o.ID()); err != nil {
			t.Fatal(err)
		}
		if s := w.status(t, o.ID()); s != domain.StatusDelivered {
			t.Fatalf("joins %t: order %s", joins, s)
		}
		if len(blobs.inUnit) != 2 {
			t.Fatalf("joins %t: %d puts, want 2", joins, len(blobs.inUnit))
		}
		for i, in := range blobs.inUnit {
			if in != joins {
				t.Errorf("joins %t: put %d inside a unit of work: %t", joins, i, in)
			}
		}
	}
}
