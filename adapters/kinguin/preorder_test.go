package kinguin_test

import (
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// preorderServer lists a pre-order released on release, its clock at now.
func preorderServer(t *testing.T, release time.Time) (*kinguintest.Server, *atomic.Pointer[time.Time]) {
	t.Helper()
	srv := kinguintest.New(t, 0)
	var now atomic.Pointer[time.Time]
	start := release.Add(-10 * 24 * time.Hour)
	now.Store(&start)
	srv.SetClock(func() time.Time { return *now.Load() })
	srv.AddPreorder(release)
	return srv, &now
}

func preorderRequest(ext string) ports.PurchaseRequest {
	return ports.PurchaseRequest{ExternalID: ext, ProductID: kinguintest.PreorderProductID, Qty: 1, Price: domain.MustMoney("39.99", "EUR")}
}

// TestPreorderProductIsListed: isPreorder and releaseDate (Y-m-d) are read
// from the product; a released game's releaseDate is read as it is, with
// no pre-order.
func TestPreorderProductIsListed(t *testing.T) {
	t.Parallel()
	release := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	srv, _ := preorderServer(t, release)
	c := newClient(t, srv)
	p, err := c.Product(t.Context(), kinguintest.PreorderProductID)
	if err != nil || !p.Preorder || !p.ReleaseDate.Equal(release) {
		t.Fatalf("pre-order read as %+v, %v", p, err)
	}
	ref, err := c.Product(t.Context(), kinguintest.ProductID)
	if err != nil || ref.Preorder || !ref.ReleaseDate.Equal(time.Date(2021, 4, 15, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("reference product read as %+v, %v", ref, err)
	}
	page, err := c.Products(t.Context(), ports.ProductQuery{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range page.Products {
		found = found || p.ID == kinguintest.PreorderProductID && p.Preorder && p.ReleaseDate.Equal(release)
	}
	if !found {
		t.Errorf("the listing has no pre-order: %+v", page.Products)
	}
}

// TestPreorderWaitsForItsRelease: a pre-order is placed alone, with no
// keyType; its keys are "wait until the release" (the order's
// preorderReleaseDate) until the day comes, then delivered.
func TestPreorderWaitsForItsRelease(t *testing.T) {
	t.Parallel()
	release := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	srv, now := preorderServer(t, release)
	c := newClient(t, srv)
	o, err := c.PlaceOrder(t.Context(), preorderRequest("item-pre"))
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		Products []map[string]any `json:"products"`
	}
	if err := json.Unmarshal(srv.LastOrderRequest(), &req); err != nil || len(req.Products) != 1 {
		t.Fatalf("request %s", srv.LastOrderRequest())
	}
	if _, has := req.Products[0]["keyType"]; has || req.Products[0]["productId"] != kinguintest.PreorderProductID {
		t.Errorf("pre-order line %v", req.Products[0])
	}
	_, err = c.Keys(t.Context(), o.ID)
	if got, ok := ports.ReleaseDateOf(err); !ok || !got.Equal(release) || !errors.Is(err, ports.ErrKeysPending) {
		t.Fatalf("keys before the release: %v (release %v, %v)", err, got, ok)
	}
	day := release.Add(9 * time.Hour)
	now.Store(&day)
	keys, err := c.Keys(t.Context(), o.ID)
	if err != nil || len(keys) != 1 || string(keys[0].Data) != string(srv.IssuedKeys("item-pre")[0].Data) {
		t.Fatalf("keys after the release: %d, %v", len(keys), err)
	}
}

// TestProcessingPreorderMeansWait: Kinguin's ProcessingPreorder (422 with
// releaseDate) reads as a wait until that day, neither a failure nor a
// refusal; without a releaseDate of its own it takes the order's.
func TestProcessingPreorderMeansWait(t *testing.T) {
	t.Parallel()
	release := time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC)
	srv, _ := preorderServer(t, release)
	srv.PreorderErrors(true)
	c := newClient(t, srv)
	o, err := c.PlaceOrder(t.Context(), preorderRequest("item-pre"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Keys(t.Context(), o.ID)
	got, ok := ports.ReleaseDateOf(err)
	if !ok || !got.Equal(release) || !errors.Is(err, ports.ErrKeysPending) ||
		errors.Is(err, ports.ErrSupplierPermanent) || errors.Is(err, ports.ErrSupplierTemporary) {
		t.Fatalf("ProcessingPreorder read as %v (release %v, %v)", err, got, ok)
	}
	if n := srv.Requests("GET /v2/order/" + o.ID + "/keys"); n != 1 {
		t.Errorf("keys asked %d times: a wait is not retried", n)
	}
	srv.Fail("GET /v2/order/"+o.ID+"/keys", kinguintest.Fault{Status: 422, Body: `{"kind":"ProcessingPreorder","status":422,"title":"Unprocessable Entity","detail":"pre-order"}`})
	if got, ok := ports.ReleaseDateOf(func() error { _, err := c.Keys(t.Context(), o.ID); return err }()); !ok || !got.Equal(release) {
		t.Errorf("ProcessingPreorder without a date: release %v, %v; want the order's", got, ok)
	}
	for body, want := range map[string]time.Time{
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":"2027-03-01"}`:                time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":"2027-03-01T10:00:00+00:00"}`: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":"2027-03-01 10:00:00"}`:       time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		// The calendar day as written, whatever the offset.
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":"2027-03-01T00:00:00+02:00"}`: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
		`{"kind":"ProcessingPreorder","status":422,"releaseDate":"2027-03-01T23:00:00-05:00"}`: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		srv.Fail("GET /v2/order/"+o.ID+"/keys", kinguintest.Fault{Status: 422, Body: body})
		_, err := c.Keys(t.Context(), o.ID)
		if got, ok := ports.ReleaseDateOf(err); !ok || !got.Equal(want) {
			t.Errorf("%s: release %v, %v (%v)", body, got, ok, err)
		}
	}
}
