package porttest

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// suiteT0 has nanoseconds on purpose: storage must keep times to the
// microsecond at least.
var suiteT0 = time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC)

// OrderRepository runs the ports.OrderRepository contract. newRepo is
// called once per subtest, from parallel subtests, and must return an
// empty repository whose events go nowhere in particular (the suite does
// not observe them).
func OrderRepository(t *testing.T, newRepo func(t *testing.T) ports.OrderRepository) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.OrderRepository)
	}{
		{"create then get keeps every field", testOrderRoundTrip},
		{"get returns a copy", testOrderGetCopy},
		{"a saved order shares nothing with the stored one", testOrderSavedCopy},
		{"a delivery claim survives storage", testOrderDeliveryClaim},
		{"a released delivery claim stays released", testOrderDeliveryRelease},
		{"create of an existing id conflicts", testOrderDuplicate},
		{"get of a missing order is not found", testOrderMissing},
		{"update applies fn and saves", testOrderUpdate},
		{"update saves item changes", testOrderUpdateItems},
		{"a pre-order awaiting its release survives storage", testOrderAwaitingRelease},
		{"update whose fn fails saves nothing", testOrderUpdateRollback},
		{"update of a missing order is not found", testOrderUpdateMissing},
		{"concurrent updates lose nothing", testOrderConcurrentUpdates},
		{"list filters and pages newest first", testOrderList},
		{"list filters by email and creation time", testOrderListFilters},
		{"counts orders by status", testOrderCountByStatus},
		{"counts orders waiting only for a release", testOrderCountAwaitingRelease},
		{"counts items bought by supplier", testOrderCountItemsBought},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newRepo(t))
		})
	}
}

func testOrderCountByStatus(t *testing.T, repo ports.OrderRepository) {
	counter, ok := repo.(ports.OrderCounter)
	if !ok {
		t.Fatalf("%T is no ports.OrderCounter: the orders gauge needs every order repository to count", repo)
	}
	want := map[domain.OrderStatus]int{}
	for i, status := range domain.OrderStatuses {
		for j := range i%3 + 1 { // 1, 2 or 3 of each
			create(t, repo, orderIn(t, fmt.Sprintf("cnt-%02d-%d", i, j), status))
			want[status]++
		}
	}
	got, err := counter.CountByStatus(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, status := range domain.OrderStatuses {
		if got[status] != want[status] {
			t.Errorf("CountByStatus()[%s] = %d, want %d", status, got[status], want[status])
		}
	}
}

// testOrderCountAwaitingRelease: a fulfilling order counts once every
// item not sealed awaits its release (others sealed, one or two waiting), not while another item is purchased or failed, nor once the
// order is no longer fulfilling.
func testOrderCountAwaitingRelease(t *testing.T, repo ports.OrderRepository) {
	counter := repo.(ports.OrderCounter)
	release := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	count := func(want int, when string) {
		t.Helper()
		if n, err := counter.CountAwaitingRelease(t.Context()); err != nil || n != want {
			t.Errorf("%s: CountAwaitingRelease = %d, %v; want %d", when, n, err, want)
		}
	}
	for _, s := range domain.OrderStatuses {
		create(t, repo, orderIn(t, "rel-"+s.String(), s))
	}
	count(0, "no pre-order")
	update := func(id string, fn func(o *domain.Order) error) {
		t.Helper()
		if _, err := repo.Update(t.Context(), id, fn); err != nil {
			t.Fatalf("Update(%s): %v", id, err)
		}
	}
	purchased := func(o *domain.Order, id string) error {
		if err := o.BeginItemPurchase(id, suiteT0); err != nil {
			return err
		}
		return o.RecordItemPurchase(id, "so-"+id, suiteT0)
	}
	// rel-fulfilling: a purchased (awaiting) and b failed.
	update("rel-fulfilling", func(o *domain.Order) error { return o.AwaitItemRelease("rel-fulfilling-a", release, suiteT0) })
	count(0, "one item waiting, the other failed")
	for _, id := range []string{"rel-both", "rel-sealed"} {
		o := orderIn(t, id, domain.StatusPaid)
		if _, err := o.StartFulfilment(suiteT0); err != nil {
			t.Fatal(err)
		}
		create(t, repo, o)
		update(id, func(o *domain.Order) error {
			for _, it := range o.Items() {
				if err := purchased(o, it.ID()); err != nil {
					return err
				}
			}
			c, _ := o.Item(id + "-c") // -c sealed: it does not count against waiting
			if err := purchaseAndSeal(o, c); err != nil {
				return err
			}
			return o.AwaitItemRelease(id+"-a", release, suiteT0)
		})
	}
	count(0, "one item waiting, the other purchased")
	update("rel-both", func(o *domain.Order) error {
		return o.AwaitItemRelease("rel-both-b", release.AddDate(0, 0, 3), suiteT0)
	})
	count(1, "both items waiting")
	update("rel-sealed", func(o *domain.Order) error { it, _ := o.Item("rel-sealed-b"); return purchaseAndSeal(o, it) })
	count(2, "one item waiting, the other sealed")
	update("rel-sealed", func(o *domain.Order) error { return o.HoldForReview("no keys after the release", suiteT0) })
	count(1, "one order held for review")
}

func testOrderCountItemsBought(t *testing.T, repo ports.OrderRepository) {
	counter, ok := repo.(ports.ItemsBoughtCounter)
	if !ok {
		t.Fatalf("%T is no ports.ItemsBoughtCounter: GET /v1/admin/suppliers counts through it", repo)
	}
	// Delivered and fulfilled orders: their supplier items bought from
	// their source; an order being fulfilled has one begun at
	// codeswholesale, not bought yet.
	create(t, repo, orderIn(t, "bought-1", domain.StatusDelivered))
	create(t, repo, orderIn(t, "bought-2", domain.StatusFulfilled))
	create(t, repo, orderIn(t, "bought-3", domain.StatusPaid))
	if _, err := repo.Update(t.Context(), "bought-3", func(o *domain.Order) error {
		if _, err := o.StartFulfilment(suiteT0); err != nil {
			return err
		}
		return o.BeginItemPurchaseFrom(o.Items()[0].ID(), "codeswholesale", suiteT0)
	}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for _, id := range []string{"bought-1", "bought-2"} {
		for _, it := range get(t, repo, id).Items() {
			if it.BoughtFrom() != "" && it.SupplierOrderID() != "" { // own stock is bought from none
				want[it.BoughtFrom()]++
			}
		}
	}
	got, err := counter.CountItemsBought(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(want) == 0 || got["codeswholesale"] != 0 || len(got) != len(want) {
		t.Fatalf("CountItemsBought() = %v, want %v (nothing at codeswholesale: begun, not bought)", got, want)
	}
	for s, n := range want {
		if got[s] != n {
			t.Errorf("CountItemsBought()[%s] = %d, want %d", s, got[s], n)
		}
	}
}

func testOrderRoundTrip(t *testing.T, repo ports.OrderRepository) {
	for i, status := range domain.OrderStatuses {
		t.Run(status.String(), func(t *testing.T) {
			want := orderIn(t, fmt.Sprintf("ord-%02d", i), status)
			create(t, repo, want)
			if want.Version() != 1 {
				t.Errorf("version after Create = %d, want 1", want.Version())
			}
			got := get(t, repo, want.ID())
			for _, d := range orderDiffs(got.Snapshot(), want.Snapshot()) {
				t.Error(d)
			}
		})
	}
	// Money is exact: no float anywhere between the domain and storage.
	got := get(t, repo, "ord-01")
	if got.Total().String() != "45.28" || got.Payment().PayAmount.String() != "48.80412345" {
		t.Errorf("total %s, pay amount %s; want 45.28 and 48.80412345", got.Total(), got.Payment().PayAmount)
	}
}

func testOrderGetCopy(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusPendingPayment))
	got := get(t, repo, "ord-1")
	if _, err := got.ApplyPayment(finished(got), suiteT0); err != nil {
		t.Fatalf("ApplyPayment: %v", err)
	}
	if again := get(t, repo, "ord-1"); again.Status() != domain.StatusPendingPayment {
		t.Errorf("changing a loaded order without Update changed the stored one: %s", again.Status())
	}
}

func testOrderDuplicate(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusPendingPayment))
	dup := newOrder(t, "ord-1", "other@example.com")
	wantIs(t, repo.Create(t.Context(), dup), domain.ErrConflict, "Create of an existing id")
	if got := get(t, repo, "ord-1"); got.Email().String() != "buyer@example.com" {
		t.Errorf("the conflicting Create overwrote the order: email %s", got.Email())
	}
}

func testOrderMissing(t *testing.T, repo ports.OrderRepository) {
	_, err := repo.Get(t.Context(), "ord-nope")
	wantIs(t, err, domain.ErrNotFound, "Get of a missing order")
}

func testOrderUpdate(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusPendingPayment))
	before := get(t, repo, "ord-1")
	later := suiteT0.Add(time.Minute)
	updated, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		changed, err := o.ApplyPayment(finished(o), later)
		if !changed {
			return errors.New("payment changed nothing")
		}
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if updated.Status() != domain.StatusPaid || updated.Version() != 2 {
		t.Errorf("Update returned %s at version %d, want paid at version 2", updated.Status(), updated.Version())
	}
	got := get(t, repo, "ord-1")
	for _, d := range orderDiffs(got.Snapshot(), updated.Snapshot()) {
		t.Error(d)
	}
	if n := len(got.Timeline()) - len(before.Timeline()); n != 1 {
		t.Errorf("Update added %d timeline entries, want 1", n)
	}
}

func testOrderUpdateItems(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusFulfilling))
	updated, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		if err := o.RetryFulfilment(suiteT0); err != nil { // the failed item back to pending
			return err
		}
		for _, it := range o.Items() {
			if err := purchaseAndSeal(o, it); err != nil {
				return err
			}
		}
		return o.CompleteFulfilment(suiteT0)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := get(t, repo, "ord-1")
	for _, d := range orderDiffs(got.Snapshot(), updated.Snapshot()) {
		t.Error(d)
	}
	if got.Status() != domain.StatusFulfilled {
		t.Errorf("status %s, want fulfilled", got.Status())
	}
}

// testOrderAwaitingRelease: an item waiting for its pre-order's release
// keeps its state and day, is sealed from there after the release, and
// the order completes.
func testOrderAwaitingRelease(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusFulfilling))
	release := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	a := "ord-1-a" // purchased under so-ord-1-a
	updated, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		return o.AwaitItemRelease(a, release, suiteT0)
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := get(t, repo, "ord-1")
	for _, d := range orderDiffs(got.Snapshot(), updated.Snapshot()) {
		t.Error(d)
	}
	it, err := got.Item(a)
	if err != nil || it.Status() != domain.ItemAwaitingRelease || !it.ReleaseDate().Equal(release) {
		t.Fatalf("stored item: %v %v, err %v; want awaiting_release until %s", it.Status(), it.ReleaseDate(), err, release)
	}
	if until, ok := got.AwaitingReleaseUntil(); ok {
		t.Errorf("AwaitingReleaseUntil = %v, true: the order's other item is no pre-order", until)
	}
	after := release.Add(time.Hour)
	updated, err = repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		if err := o.RetryFulfilment(after); err != nil { // the failed item back to pending
			return err
		}
		for _, it := range o.Items() {
			if err := purchaseAndSeal(o, it); err != nil {
				return err
			}
		}
		return o.CompleteFulfilment(after)
	})
	if err != nil {
		t.Fatalf("Update after the release: %v", err)
	}
	got = get(t, repo, "ord-1")
	for _, d := range orderDiffs(got.Snapshot(), updated.Snapshot()) {
		t.Error(d)
	}
	if got.Status() != domain.StatusFulfilled {
		t.Errorf("status %s, want fulfilled", got.Status())
	}
	if it, _ := got.Item(a); it.Status() != domain.ItemSealed || !it.ReleaseDate().Equal(release) {
		t.Errorf("sealed pre-order: %s, release %v", it.Status(), it.ReleaseDate())
	}
}

func testOrderUpdateRollback(t *testing.T, repo ports.OrderRepository) {
	create(t, repo, orderIn(t, "ord-1", domain.StatusPendingPayment))
	before := get(t, repo, "ord-1")
	errBoom := errors.New("boom")
	_, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
		if _, err := o.ApplyPayment(finished(o), suiteT0); err != nil {
			return err
		}
		return fmt.Errorf("after paying: %w", errBoom)
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	got := get(t, repo, "ord-1")
	for _, d := range orderDiffs(got.Snapshot(), before.Snapshot()) {
		t.Errorf("after a failed fn: %s", d)
	}
}

func testOrderUpdateMissing(t *testing.T, repo ports.OrderRepository) {
	called := false
	_, err := repo.Update(t.Context(), "ord-nope", func(*domain.Order) error { called = true; return nil })
	wantIs(t, err, domain.ErrNotFound, "Update of a missing order")
	if called {
		t.Errorf("Update called fn for a missing order")
	}
}

// testOrderConcurrentUpdates proves that Update serialises: each of n
// concurrent updates appends a timeline entry; a lost update loses one.
func testOrderConcurrentUpdates(t *testing.T, repo ports.OrderRepository) {
	const n = 32
	create(t, repo, orderIn(t, "ord-1", domain.StatusDelivered))
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := repo.Update(t.Context(), "ord-1", func(o *domain.Order) error {
				return o.RecordLinkResent(fmt.Sprintf("link-%02d", i), suiteT0)
			})
			if err != nil {
				t.Errorf("Update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got := get(t, repo, "ord-1")
	resent := map[string]bool{}
	for _, e := range got.Timeline() {
		if e.Kind() == domain.EventKindDeliveryLinkResent {
			resent[e.Value("link_id")] = true
		}
	}
	if len(resent) != n {
		t.Errorf("%d of %d concurrent updates are in the timeline", len(resent), n)
	}
	if got.Version() != 1+n {
		t.Errorf("version %d after %d updates of version 1, want %d", got.Version(), n, 1+n)
	}
}

func testOrderList(t *testing.T, repo ports.OrderRepository) {
	pending, paid := domain.StatusPendingPayment, domain.StatusPaid
	for i, s := range []domain.OrderStatus{pending, paid, pending, domain.StatusExpired, pending} {
		create(t, repo, orderIn(t, fmt.Sprintf("ord-%02d", i+1), s))
	}
	cases := []struct {
		name string
		q    ports.OrderQuery
		want []string
	}{
		{"all", ports.OrderQuery{}, []string{"ord-05", "ord-04", "ord-03", "ord-02", "ord-01"}},
		{"first page", ports.OrderQuery{Limit: 2}, []string{"ord-05", "ord-04"}},
		{"next page", ports.OrderQuery{After: "ord-04", Limit: 2}, []string{"ord-03", "ord-02"}},
		{"last page", ports.OrderQuery{After: "ord-02", Limit: 2}, []string{"ord-01"}},
		{"past the end", ports.OrderQuery{After: "ord-01"}, nil},
		{"by status", ports.OrderQuery{Status: &pending}, []string{"ord-05", "ord-03", "ord-01"}},
		{"by status, paged", ports.OrderQuery{Status: &pending, After: "ord-05", Limit: 1}, []string{"ord-03"}},
		{"status with none", ports.OrderQuery{Status: &domain.StatusRevoked}, nil},
		{"by item", ports.OrderQuery{ItemID: itemOf(t, repo, "ord-03")}, []string{"ord-03"}},
		{"by unknown item", ports.OrderQuery{ItemID: "no-such-item"}, nil},
	}
	for _, c := range cases {
		got, err := repo.List(t.Context(), c.q)
		if err != nil {
			t.Fatalf("List %s: %v", c.name, err)
		}
		var ids []string
		for _, o := range got {
			ids = append(ids, o.ID())
			if len(o.Items()) != 3 || len(o.Timeline()) == 0 {
				t.Errorf("List %s: order %s has %d items and %d timeline entries", c.name, o.ID(), len(o.Items()), len(o.Timeline()))
			}
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("List %s = %v, want %v", c.name, ids, c.want)
		}
	}
}

// itemOf returns the id of an order's second item.
func itemOf(t *testing.T, repo ports.OrderRepository, orderID string) string {
	t.Helper()
	return get(t, repo, orderID).Items()[1].ID()
}

func create(t *testing.T, repo ports.OrderRepository, o *domain.Order) {
	t.Helper()
	if err := repo.Create(t.Context(), o); err != nil {
		t.Fatalf("Create(%s): %v", o.ID(), err)
	}
}

func get(t *testing.T, repo ports.OrderRepository, id string) *domain.Order {
	t.Helper()
	o, err := repo.Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Get(%s): %v", id, err)
	}
	return o
}

func wantIs(t *testing.T, err, target error, what string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// orderDiffs lists how got differs from want, field by field.
func orderDiffs(got, want domain.OrderSnapshot) []string {
	var d diffs
	d.add("id", got.ID, want.ID, got.ID == want.ID)
	d.add("email", got.Email, want.Email, got.Email == want.Email)
	d.add("access token hash", got.AccessTokenHash, want.AccessTokenHash, got.AccessTokenHash == want.AccessTokenHash)
	d.money("total", got.Total, want.Total)
	gp, wp := got.Payment, want.Payment
	d.add("payment", gp, wp, gp.Provider == wp.Provider && gp.PaymentID == wp.PaymentID && gp.PayAddress == wp.PayAddress &&
		gp.PayAmount.Equal(wp.PayAmount) && gp.PayCurrency == wp.PayCurrency && gp.PayinExtraID == wp.PayinExtraID &&
		gp.Status == wp.Status && gp.ActuallyPaid.Equal(wp.ActuallyPaid))
	d.add("status", got.Status, want.Status, got.Status == want.Status)
	d.add("version", got.Version, want.Version, got.Version == want.Version)
	d.time("created at", got.CreatedAt, want.CreatedAt)
	d.time("updated at", got.UpdatedAt, want.UpdatedAt)
	d.add("delivery claim", got.DeliveryClaim.ID, want.DeliveryClaim.ID, got.DeliveryClaim.ID == want.DeliveryClaim.ID)
	d.time("delivery claimed at", got.DeliveryClaim.ClaimedAt, want.DeliveryClaim.ClaimedAt)
	d.add("item count", len(got.Items), len(want.Items), len(got.Items) == len(want.Items))
	for i := range min(len(got.Items), len(want.Items)) {
		d.item(fmt.Sprintf("item %d", i), got.Items[i], want.Items[i])
	}
	d.add("timeline length", len(got.Timeline), len(want.Timeline), len(got.Timeline) == len(want.Timeline))
	for i := range min(len(got.Timeline), len(want.Timeline)) {
		g, w := got.Timeline[i], want.Timeline[i]
		field := fmt.Sprintf("timeline %d", i)
		d.add(field, fmt.Sprint(g.Kind(), " ", g.Status(), " ", g.Metadata()), fmt.Sprint(w.Kind(), " ", w.Status(), " ", w.Metadata()),
			g.Kind() == w.Kind() && g.Status() == w.Status() && maps.Equal(g.Metadata(), w.Metadata()))
		d.time(field+" at", g.At(), w.At())
	}
	return d
}

func (d *diffs) item(field string, got, want domain.ItemSnapshot) {
	d.add(field+" id", got.ID, want.ID, got.ID == want.ID)
	d.add(field+" sku and name", got.SKU+" "+got.Name, want.SKU+" "+want.Name, got.SKU == want.SKU && got.Name == want.Name)
	d.source(field+" source", got.Source, want.Source)
	d.add(field+" quantity", got.Quantity, want.Quantity, got.Quantity == want.Quantity)
	d.money(field+" unit price", got.UnitPrice, want.UnitPrice)
	d.add(field+" status", got.Status, want.Status, got.Status == want.Status)
	d.add(field+" failure", got.Failure, want.Failure, reflect.DeepEqual(got.Failure, want.Failure))
	d.add(field+" supplier order", got.SupplierOrderID, want.SupplierOrderID, got.SupplierOrderID == want.SupplierOrderID)
	d.add(field+" bought from", got.BoughtFrom, want.BoughtFrom, got.BoughtFrom == want.BoughtFrom)
	d.add(field+" keys", got.Keys, want.Keys, slices.Equal(got.Keys, want.Keys))
	d.add(field+" release date", got.ReleaseDate, want.ReleaseDate, got.ReleaseDate.Equal(want.ReleaseDate) && got.ReleaseDate.IsZero() == want.ReleaseDate.IsZero())
}

// newOrder returns a pending order with a waiting payment: 2 × 19.99 from
// a supplier, 3 × 0.10 from own stock (no cost), 1 × 5.00; 45.28 EUR paid
// with 48.80412345 USDT. Item ids are the order id plus -a, -b, -c.
func newOrder(t *testing.T, id, email string) *domain.Order {
	t.Helper()
	o := newUnpaidOrderAt(t, id, email, suiteT0)
	err := o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-" + id, PayAddress: "TXq4Zb9eNw",
		PayAmount: decimal.RequireFromString("48.80412345"), PayCurrency: "usdttrc20", PayinExtraID: "memo-" + id}, suiteT0)
	if err != nil {
		t.Fatalf("AttachPayment: %v", err)
	}
	return o
}

// newOrderAt is newOrder placed at the given time.
func newOrderAt(t *testing.T, id, email string, at time.Time) *domain.Order {
	t.Helper()
	o := newUnpaidOrderAt(t, id, email, at)
	err := o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-" + id, PayAddress: "TXq4Zb9eNw",
		PayAmount: decimal.RequireFromString("48.80412345"), PayCurrency: "usdttrc20", PayinExtraID: "memo-" + id}, at)
	if err != nil {
		t.Fatalf("AttachPayment: %v", err)
	}
	return o
}

// newUnpaidOrder returns newOrder's order awaiting its payment setup.
func newUnpaidOrder(t *testing.T, id, email string) *domain.Order {
	t.Helper()
	return newUnpaidOrderAt(t, id, email, suiteT0)
}

// newUnpaidOrderAt is newUnpaidOrder placed at the given time.
func newUnpaidOrderAt(t *testing.T, id, email string, at time.Time) *domain.Order {
	t.Helper()
	addr, err := domain.ParseEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	own := newProduct(t, domain.ProductSnapshot{SKU: "sku-own", Name: "Own key", Price: domain.MustMoney("0.10", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceOwnStock}, Stock: 9, Active: true})
	o, err := domain.NewOrder(id, addr, domain.HashToken("access-"+id), []domain.NewItem{
		{ID: id + "-a", Product: testProduct(t, "sku-a", "19.99", 5), Quantity: 2},
		{ID: id + "-b", Product: own, Quantity: 3},
		{ID: id + "-c", Product: testProduct(t, "sku-c", "5.00", 5), Quantity: 1},
	}, at)
	if err != nil {
		t.Fatalf("NewOrder: %v", err)
	}
	return o
}

// finished is the notification that pays o in full.
func finished(o *domain.Order) domain.PaymentUpdate {
	return paymentUpdate(o, domain.PaymentFinished)
}

func paymentUpdate(o *domain.Order, s domain.PaymentStatus) domain.PaymentUpdate {
	p := o.Payment()
	return domain.PaymentUpdate{PaymentID: p.PaymentID, Status: s, PriceAmount: o.Total().Amount(),
		PriceCurrency: o.Total().Currency().String(), PayAmount: p.PayAmount, ActuallyPaid: p.PayAmount, PayCurrency: p.PayCurrency}
}

// orderIn returns a new (unsaved) order driven to s through the domain's
// methods, so that its items and timeline show what s implies. A
// fulfilling order has one item of each kind: purchased, failed
// (retryable) and pending.
func orderIn(t *testing.T, id string, s domain.OrderStatus) *domain.Order {
	t.Helper()
	if s == domain.StatusAwaitingPaymentSetup {
		return newUnpaidOrder(t, id, "buyer@example.com")
	}
	o := newOrder(t, id, "buyer@example.com")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("driving %s to %s: %v", id, s, err)
		}
	}
	pay := func(st domain.PaymentStatus) {
		_, err := o.ApplyPayment(paymentUpdate(o, st), suiteT0)
		must(err)
	}
	start := func() {
		pay(domain.PaymentFinished)
		_, err := o.StartFulfilment(suiteT0)
		must(err)
	}
	fulfil := func() {
		start()
		for _, it := range o.Items() {
			must(purchaseAndSeal(o, it))
		}
		must(o.CompleteFulfilment(suiteT0))
	}
	a, b := id+"-a", id+"-b"
	switch s {
	case domain.StatusPendingPayment:
	case domain.StatusPaid:
		pay(domain.PaymentFinished)
	case domain.StatusUnderpaid:
		pay(domain.PaymentPartiallyPaid)
	case domain.StatusExpired:
		pay(domain.PaymentExpired)
	case domain.StatusRefunded:
		pay(domain.PaymentRefunded)
	case domain.StatusFulfilling:
		start()
		must(o.BeginItemPurchase(a, suiteT0))
		must(o.RecordItemPurchase(a, "so-"+a, suiteT0))
		// Begun at another supplier than its product's source names.
		must(o.BeginItemPurchaseFrom(b, "codeswholesale", suiteT0))
		must(o.FailItem(b, "supplier timeout", true, suiteT0))
	case domain.StatusFailed:
		start()
		must(o.FailItem(a, "product withdrawn", false, suiteT0))
	case domain.StatusNeedsReview:
		start()
		must(o.HoldForReview("supplier price 21.40 EUR > affordable 19.10 EUR", suiteT0))
	case domain.StatusFulfilled:
		fulfil()
	case domain.StatusDelivered:
		fulfil()
		must(o.MarkDelivered("link-1", suiteT0))
	case domain.StatusRevoked:
		fulfil()
		must(o.Revoke("fraud", suiteT0))
	default:
		t.Fatalf("no recipe for %s", s)
	}
	if o.Status() != s {
		t.Fatalf("drove %s to %s, got %s", id, s, o.Status())
	}
	return o
}

// purchaseAndSeal takes an item of a fulfilling order from wherever it is
// to sealed, with one sealed key reference per unit.
func purchaseAndSeal(o *domain.Order, it *domain.OrderItem) error {
	id := it.ID()
	if it.Status() != domain.ItemPurchased && it.Status() != domain.ItemAwaitingRelease {
		if err := o.BeginItemPurchase(id, suiteT0); err != nil {
			return err
		}
		if err := o.RecordItemPurchase(id, "so-"+id, suiteT0); err != nil {
			return err
		}
	}
	keys := make([]domain.SealedKey, it.Quantity())
	for i := range keys {
		keys[i] = domain.SealedKey{Slot: i, BlobRef: fmt.Sprintf("sealed/%s/%s/%d", o.ID(), id, i), ContentType: "text/plain"}
	}
	return o.SealItem(id, keys, suiteT0)
}
