package porttest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// RevelationLog runs the ports.RevelationLog contract. newLog is called
// once per subtest, from parallel subtests, and must return an empty log.
func RevelationLog(t *testing.T, newLog func(t *testing.T) ports.RevelationLog) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.RevelationLog)
	}{
		{"append then list by order, oldest first", testRevelationList},
		{"a duplicate id conflicts and stores none of its batch", testRevelationDuplicate},
		{"appending nothing is fine", testRevelationEmpty},
		{"a revelation keeps every field", testRevelationRoundTrip},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newLog(t))
		})
	}
}

func testRevelationList(t *testing.T, log ports.RevelationLog) {
	r1, r2 := revelation(t, "rev-1", "ord-1", "a", 0, true), revelation(t, "rev-2", "ord-2", "a", 0, true)
	r3, r4 := revelation(t, "rev-3", "ord-1", "a", 1, false), revelation(t, "rev-4", "ord-1", "b", 1, false)
	appendRevelations(t, log, r1, r2)
	appendRevelations(t, log, r3, r4)
	wantRevelations(t, log, "ord-1", r1, r3, r4)
	wantRevelations(t, log, "ord-2", r2)
	wantRevelations(t, log, "ord-nope")
}

func testRevelationDuplicate(t *testing.T, log ports.RevelationLog) {
	r1 := revelation(t, "rev-1", "ord-1", "a", 0, true)
	appendRevelations(t, log, r1)
	err := log.Append(t.Context(), revelation(t, "rev-2", "ord-1", "a", 1, false), revelation(t, "rev-1", "ord-1", "a", 1, false))
	wantIs(t, err, domain.ErrConflict, "Append with a duplicate id")
	wantRevelations(t, log, "ord-1", r1)
}

func testRevelationEmpty(t *testing.T, log ports.RevelationLog) {
	appendRevelations(t, log)
	wantRevelations(t, log, "ord-1")
}

// testRevelationRoundTrip: what ListByOrder returns is what was
// appended, field by field, through the domain's accessors.
func testRevelationRoundTrip(t *testing.T, log ports.RevelationLog) {
	want := revelation(t, "rev-1", "ord-1", "c", 7, true)
	appendRevelations(t, log, want)
	got, err := log.ListByOrder(t.Context(), "ord-1")
	if err != nil || len(got) != 1 {
		t.Fatalf("ListByOrder = %d revelations, %v; want 1", len(got), err)
	}
	g := got[0]
	var d diffs
	d.add("id", g.ID(), "rev-1", g.ID() == "rev-1")
	d.add("order", g.OrderID(), "ord-1", g.OrderID() == "ord-1")
	d.add("item", g.ItemID(), "ord-1-c", g.ItemID() == "ord-1-c")
	d.add("link", g.LinkID(), "link-ord-1", g.LinkID() == "link-ord-1")
	d.add("email", g.Email(), "buyer@example.com", g.Email().String() == "buyer@example.com")
	d.add("access", g.Access(), want.Access(), g.Access() == want.Access())
	d.time("at", g.At(), suiteT0.Add(7*time.Minute))
	d.add("first", g.First(), true, g.First())
	for _, line := range d {
		t.Error(line)
	}
}

// revelation returns the record of the keys of item orderID-item, shown
// through link link-orderID at minute m.
func revelation(t *testing.T, id, orderID, item string, m int, first bool) domain.KeyRevelation {
	t.Helper()
	o := newOrder(t, orderID, "buyer@example.com")
	l, err := domain.NewDeliveryLink("link-"+orderID, orderID, domain.HashToken("token-"+orderID), suiteT0, time.Hour, 3)
	if err != nil {
		t.Fatalf("NewDeliveryLink: %v", err)
	}
	access := domain.RevealAccess{IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"}
	rv, err := domain.NewKeyRevelation(id, o, orderID+"-"+item, l, access, suiteT0.Add(time.Duration(m)*time.Minute), first)
	if err != nil {
		t.Fatalf("NewKeyRevelation: %v", err)
	}
	return rv
}

func appendRevelations(t *testing.T, log ports.RevelationLog, rs ...domain.KeyRevelation) {
	t.Helper()
	if err := log.Append(t.Context(), rs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
}

func wantRevelations(t *testing.T, log ports.RevelationLog, orderID string, want ...domain.KeyRevelation) {
	t.Helper()
	got, err := log.ListByOrder(t.Context(), orderID)
	if err != nil {
		t.Fatalf("ListByOrder(%s): %v", orderID, err)
	}
	if len(got) != len(want) {
		t.Fatalf("ListByOrder(%s) = %d revelations, want %d", orderID, len(got), len(want))
	}
	for i := range got {
		g, w := got[i].Snapshot(), want[i].Snapshot()
		var d diffs
		d.time("at", g.At, w.At)
		g.At, w.At = time.Time{}, time.Time{}
		d.add("fields", fmt.Sprintf("%+v", g), fmt.Sprintf("%+v", w), g == w)
		for _, line := range d {
			t.Errorf("ListByOrder(%s)[%d]: %s", orderID, i, line)
		}
	}
}
