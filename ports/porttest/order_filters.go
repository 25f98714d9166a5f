package porttest

import (
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

// testOrderListFilters: the support desk's filters (email, creation time)
// combine with each other, with the status filter and with the cursor.
func testOrderListFilters(t *testing.T, repo ports.OrderRepository) {
	for i, o := range []struct {
		email string
		at    time.Duration
	}{
		{"a@example.com", 0}, {"b@example.com", time.Hour}, {"a@example.com", 2 * time.Hour},
		{"a@example.com", 3 * time.Hour}, {"b@example.com", 4 * time.Hour},
	} {
		create(t, repo, newOrderAt(t, "ord-0"+string(rune('1'+i)), o.email, suiteT0.Add(o.at)))
	}
	cases := []struct {
		name string
		q    ports.OrderQuery
		want []string
	}{
		{"by email", ports.OrderQuery{Email: "a@example.com"}, []string{"ord-04", "ord-03", "ord-01"}},
		{"by email, paged", ports.OrderQuery{Email: "a@example.com", After: "ord-04", Limit: 1}, []string{"ord-03"}},
		{"unknown email", ports.OrderQuery{Email: "c@example.com"}, nil},
		{"email in another case", ports.OrderQuery{Email: "B@Example.COM"}, []string{"ord-05", "ord-02"}},
		{"created from (inclusive)", ports.OrderQuery{CreatedFrom: suiteT0.Add(3 * time.Hour)}, []string{"ord-05", "ord-04"}},
		{"created to (exclusive)", ports.OrderQuery{CreatedTo: suiteT0.Add(time.Hour)}, []string{"ord-01"}},
		{"window and email", ports.OrderQuery{Email: "b@example.com", CreatedFrom: suiteT0.Add(time.Hour), CreatedTo: suiteT0.Add(4 * time.Hour)}, []string{"ord-02"}},
		{"window in another zone", ports.OrderQuery{CreatedFrom: suiteT0.Add(2 * time.Hour).In(time.FixedZone("UTC-5", -5*3600)), Limit: 10}, []string{"ord-05", "ord-04", "ord-03"}},
	}
	for _, c := range cases {
		got, err := repo.List(t.Context(), c.q)
		if err != nil {
			t.Fatalf("List %s: %v", c.name, err)
		}
		var ids []string
		for _, o := range got {
			ids = append(ids, o.ID())
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("List %s = %v, want %v", c.name, ids, c.want)
		}
	}
}
