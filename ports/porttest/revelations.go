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
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newLog(t))
		})
	}
}

func testRevelationList(t *testing.T, log ports.RevelationLog) {
	r1, r2 := revelation("rev-1", "ord-1", 0, true), revelation("rev-2", "ord-2", 0, true)
	r3, r4 := revelation("rev-3", "ord-1", 1, false), revelation("rev-4", "ord-1", 1, false)
	r4.ItemID = "ord-1-b"
	appendRevelations(t, log, r1, r2)
	appendRevelations(t, log, r3, r4)
	wantRevelations(t, log, "ord-1", r1, r3, r4)
	wantRevelations(t, log, "ord-2", r2)
	wantRevelations(t, log, "ord-nope")
}

func testRevelationDuplicate(t *testing.T, log ports.RevelationLog) {
	r1 := revelation("rev-1", "ord-1", 0, true)
	appendRevelations(t, log, r1)
	err := log.Append(t.Context(), revelation("rev-2", "ord-1", 1, false), revelation("rev-1", "ord-1", 1, false))
	wantIs(t, err, domain.ErrConflict, "Append with a duplicate id")
	wantRevelations(t, log, "ord-1", r1)
}

func testRevelationEmpty(t *testing.T, log ports.RevelationLog) {
	appendRevelations(t, log)
	wantRevelations(t, log, "ord-1")
}

// revelation returns the record of the keys of item ord-N-a shown at
// minute m.
func revelation(id, orderID string, m int, first bool) domain.KeyRevelation {
	return domain.KeyRevelation{
		ID: id, OrderID: orderID, ItemID: orderID + "-a", LinkID: "link-" + orderID, Email: "buyer@example.com",
		IP: "2001:db8::1", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", At: suiteT0.Add(time.Duration(m) * time.Minute), First: first,
	}
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
		g, w := got[i], want[i]
		var d diffs
		d.time("at", g.At, w.At)
		g.At, w.At = time.Time{}, time.Time{}
		d.add("fields", fmt.Sprintf("%+v", g), fmt.Sprintf("%+v", w), g == w)
		for _, line := range d {
			t.Errorf("ListByOrder(%s)[%d]: %s", orderID, i, line)
		}
	}
}
