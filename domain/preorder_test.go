package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

var release = time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)

// purchased returns a fulfilling order whose first item is bought under
// so-item-1, its events popped.
func purchased(t *testing.T) *domain.Order {
	t.Helper()
	o := inState(t, domain.StatusFulfilling)
	if err := o.BeginItemPurchase("item-1", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordItemPurchase("item-1", "so-item-1", t0); err != nil {
		t.Fatal(err)
	}
	o.PopEvents()
	return o
}

func eventNames(o *domain.Order) []string {
	var out []string
	for _, e := range o.PopEvents() {
		out = append(out, e.EventName())
	}
	return out
}

// TestAwaitItemRelease: a purchased item waits for its release (a day,
// whatever the time given) as awaiting_release, once announced with
// order.preordered; the same date again changes nothing; a moved date is
// recorded on the timeline and announced again, once, with the new date;
// the order stays fulfilling.
func TestAwaitItemRelease(t *testing.T) {
	t.Parallel()
	o := purchased(t)
	timeline := len(o.Timeline())
	if err := o.AwaitItemRelease("item-1", release.Add(17*time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	it, _ := o.Item("item-1")
	if it.Status() != domain.ItemAwaitingRelease || !it.ReleaseDate().Equal(release) || o.Status() != domain.StatusFulfilling {
		t.Fatalf("item %s until %v, order %s", it.Status(), it.ReleaseDate(), o.Status())
	}
	evs := o.PopEvents()
	if len(evs) != 1 || evs[0].EventName() != domain.EventOrderPreordered || evs[0].(domain.OrderEvent).Reason != "item-1 2027-02-14" {
		t.Fatalf("events %+v", evs)
	}
	tl := o.Timeline()
	if len(tl) != timeline+1 {
		t.Fatalf("timeline grew by %d", len(tl)-timeline)
	}
	last := tl[len(tl)-1]
	if last.Kind() != domain.EventKindItemAwaitingRelease || last.Metadata()["release_date"] != "2027-02-14" ||
		last.Metadata()["item_id"] != "item-1" || last.Metadata()["item_status"] != "awaiting_release" {
		t.Errorf("timeline entry %s %v", last.Kind(), last.Metadata())
	}

	if err := o.AwaitItemRelease("item-1", release, t0); err != nil || len(o.Timeline()) != timeline+1 || len(o.PopEvents()) != 0 {
		t.Errorf("the same date again: %v, timeline %d", err, len(o.Timeline()))
	}
	moved := release.AddDate(0, 1, 0)
	if err := o.AwaitItemRelease("item-1", moved, t0); err != nil {
		t.Fatal(err)
	}
	if it, _ := o.Item("item-1"); !it.ReleaseDate().Equal(moved) {
		t.Errorf("moved date %v", it.ReleaseDate())
	}
	evs = o.PopEvents()
	if len(evs) != 1 || evs[0].EventName() != domain.EventOrderPreordered || evs[0].(domain.OrderEvent).Reason != "item-1 2027-03-14" {
		t.Errorf("a moved date announced as %+v, want one order.preordered with the new date", evs)
	}
	if err := o.AwaitItemRelease("item-1", moved, t0); err != nil || len(o.PopEvents()) != 0 {
		t.Errorf("the moved date again: %v, or announced again", err)
	}
	if got := o.Timeline()[len(o.Timeline())-1].Metadata()["release_date"]; got != "2027-03-14" {
		t.Errorf("moved date on the timeline: %q", got)
	}
}

// TestAwaitItemReleaseRefuses: only a purchased (or waiting) item of a
// fulfilling order waits.
func TestAwaitItemReleaseRefuses(t *testing.T) {
	t.Parallel()
	o := purchased(t)
	for name, tc := range map[string]struct {
		item string
		day  time.Time
		want error
	}{
		"a pending item": {"item-2", release, domain.ErrInvalidTransition},
		"unknown item":   {"nope", release, domain.ErrItemNotFound},
	} {
		if err := o.AwaitItemRelease(tc.item, tc.day, t0); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if it, _ := o.Item("item-1"); it.Status() != domain.ItemPurchased {
		t.Errorf("refusals changed the item: %s", it.Status())
	}
	for _, st := range []domain.OrderStatus{domain.StatusPaid, domain.StatusNeedsReview, domain.StatusFulfilled} {
		o := inState(t, st)
		if err := o.AwaitItemRelease("item-1", release, t0); !errors.Is(err, domain.ErrInvalidTransition) {
			t.Errorf("order %s: %v", st, err)
		}
	}
}

// TestPreorderDeliveredAfterRelease: an item awaiting its release is
// sealed from there when its keys come, and completes the order; a
// retry after a failure finds it awaiting again, not to buy.
func TestPreorderDeliveredAfterRelease(t *testing.T) {
	t.Parallel()
	o := purchased(t)
	if err := o.AwaitItemRelease("item-1", release, t0); err != nil {
		t.Fatal(err)
	}
	if err := o.FailItem("item-1", "supplier timeout", true, t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RetryFulfilment(t0); err != nil {
		t.Fatal(err)
	}
	if it, _ := o.Item("item-1"); it.Status() != domain.ItemAwaitingRelease || it.SupplierOrderID() != "so-item-1" {
		t.Fatalf("after a retry: %s %q", it.Status(), it.SupplierOrderID())
	}
	if err := o.RecordItemPurchase("item-1", "so-item-1", t0); err != nil {
		t.Errorf("recording the same purchase of a waiting item: %v", err)
	}
	after := release.Add(3 * time.Hour)
	if err := o.SealItem("item-1", []domain.SealedKey{{Slot: 0, BlobRef: "b/0"}, {Slot: 1, BlobRef: "b/1"}}, after); err != nil {
		t.Fatal(err)
	}
	if err := o.BeginItemPurchase("item-2", after); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordItemPurchase("item-2", "so-item-2", after); err != nil {
		t.Fatal(err)
	}
	if err := o.SealItem("item-2", []domain.SealedKey{{Slot: 0, BlobRef: "c/0"}}, after); err != nil {
		t.Fatal(err)
	}
	if err := o.CompleteFulfilment(after); err != nil || o.Status() != domain.StatusFulfilled {
		t.Fatalf("complete: %v, %s", err, o.Status())
	}
	snap := o.Snapshot()
	back, err := domain.UnmarshalOrder(snap)
	if err != nil {
		t.Fatal(err)
	}
	if it, _ := back.Item("item-1"); !it.ReleaseDate().Equal(release) || it.Status() != domain.ItemSealed {
		t.Errorf("rehydrated item: %s, release %v", it.Status(), it.ReleaseDate())
	}
}

// TestAwaitingReleaseUntil: an order waits for a release only while every
// unsealed item awaits one; it then waits until the earliest of the days
// still awaited (from it on a look may find keys).
func TestAwaitingReleaseUntil(t *testing.T) {
	t.Parallel()
	o := purchased(t)
	if _, ok := o.AwaitingReleaseUntil(); ok {
		t.Error("no item awaits a release")
	}
	if err := o.AwaitItemRelease("item-1", release, t0); err != nil {
		t.Fatal(err)
	}
	if _, ok := o.AwaitingReleaseUntil(); ok {
		t.Error("item-2 is pending: the order is not only waiting for a release")
	}
	if err := o.BeginItemPurchase("item-2", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordItemPurchase("item-2", "so-item-2", t0); err != nil {
		t.Fatal(err)
	}
	later := release.AddDate(0, 0, 10)
	if err := o.AwaitItemRelease("item-2", later, t0); err != nil {
		t.Fatal(err)
	}
	if until, ok := o.AwaitingReleaseUntil(); !ok || !until.Equal(release) {
		t.Errorf("AwaitingReleaseUntil = %v, %v; want the earliest, %v", until, ok, release)
	}
	if err := o.SealItem("item-1", []domain.SealedKey{{Slot: 0, BlobRef: "c/0"}, {Slot: 1, BlobRef: "c/1"}}, t0); err != nil {
		t.Fatal(err)
	}
	if until, ok := o.AwaitingReleaseUntil(); !ok || !until.Equal(later) {
		t.Errorf("after item-1 sealed: %v, %v; want %v", until, ok, later)
	}
}

// TestPreorderWebhook: order.preordered reaches the shop with the item
// and its release date, the order still fulfilling.
func TestPreorderWebhook(t *testing.T) {
	t.Parallel()
	o := purchased(t)
	if err := o.AwaitItemRelease("item-1", release, t0); err != nil {
		t.Fatal(err)
	}
	w, ok, err := domain.WebhookEventFor("evt-1", o.PopEvents()[0])
	if err != nil || !ok || w.Type != "order.preordered" {
		t.Fatalf("webhook %+v, %v, %v", w, ok, err)
	}
	var body struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal(w.Body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"order_id": "ord-1", "status": "fulfilling", "item_id": "item-1", "release_date": "2027-02-14"}
	for k, v := range want {
		if body.Data[k] != v {
			t.Errorf("data[%s] = %q, want %q (%s)", k, body.Data[k], v, w.Body)
		}
	}
	if !domain.IsWebhookEventType("order.preordered") {
		t.Error("order.preordered is not in the catalogue")
	}
}

// TestProductPreorder: a pre-order keeps its release as a day; a product
// that is no pre-order has no release date; a changed date is a changed
// listing.
func TestProductPreorder(t *testing.T) {
	t.Parallel()
	s := product(t, "sku-p", "39.99", 10).Snapshot()
	s.Preorder, s.ReleaseDate = true, release.Add(9*time.Hour)
	p, err := domain.NewProduct(s)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Preorder() || !p.ReleaseDate().Equal(release) {
		t.Errorf("pre-order: %v %v", p.Preorder(), p.ReleaseDate())
	}
	s.ReleaseDate = release.AddDate(0, 0, 1)
	moved, _ := domain.NewProduct(s)
	if p.SameListing(moved) {
		t.Error("a moved release date is the same listing")
	}
	s.Preorder = false
	released, _ := domain.NewProduct(s)
	if released.Preorder() || !released.ReleaseDate().IsZero() || p.SameListing(released) {
		t.Errorf("released: %v %v", released.Preorder(), released.ReleaseDate())
	}
}

// TestAwaitItemReleaseWithoutADate: a pre-order whose supplier names no
// date waits as awaiting_release with its date unknown: order.preordered
// names the item alone (the webhook has no release_date), and the order
// waits for a release with no date; a date named later moves it and is
// announced.
func TestAwaitItemReleaseWithoutADate(t *testing.T) {
	t.Parallel()
	o := purchased(t)
	if err := o.AwaitItemRelease("item-1", time.Time{}, t0); err != nil {
		t.Fatal(err)
	}
	it, _ := o.Item("item-1")
	if it.Status() != domain.ItemAwaitingRelease || !it.ReleaseDate().IsZero() {
		t.Fatalf("item %s until %v, want awaiting_release with no date", it.Status(), it.ReleaseDate())
	}
	evs := o.PopEvents()
	if len(evs) != 1 || evs[0].(domain.OrderEvent).Reason != "item-1" {
		t.Fatalf("events %+v", evs)
	}
	w, ok, err := domain.WebhookEventFor("evt-1", evs[0])
	if err != nil || !ok || !strings.Contains(string(w.Body), `"item_id":"item-1"`) || strings.Contains(string(w.Body), "release_date") {
		t.Errorf("webhook %s (%v, %v), want item_id and no release_date", w.Body, ok, err)
	}
	if err := o.AwaitItemRelease("item-1", time.Time{}, t0); err != nil || len(o.PopEvents()) != 0 {
		t.Errorf("no date again: %v, or announced again", err)
	}
	if err := o.BeginItemPurchase("item-2", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.RecordItemPurchase("item-2", "so-item-2", t0); err != nil {
		t.Fatal(err)
	}
	if err := o.AwaitItemRelease("item-2", time.Time{}, t0); err != nil {
		t.Fatal(err)
	}
	if until, ok := o.AwaitingReleaseUntil(); !ok || !until.IsZero() {
		t.Errorf("no date known: AwaitingReleaseUntil = %v, %v; want zero, true", until, ok)
	}
	o.PopEvents()
	if err := o.AwaitItemRelease("item-1", release, t0); err != nil {
		t.Fatal(err)
	}
	if evs := o.PopEvents(); len(evs) != 1 || evs[0].(domain.OrderEvent).Reason != "item-1 2027-02-14" {
		t.Errorf("date named: events %+v", evs)
	}
	if until, ok := o.AwaitingReleaseUntil(); !ok || !until.Equal(release) {
		t.Errorf("one date known: AwaitingReleaseUntil = %v, %v; want %v", until, ok, release)
	}
}
