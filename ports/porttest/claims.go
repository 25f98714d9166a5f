package porttest

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ClaimRepository runs the ports.ClaimRepository contract. newRepo is
// called once per subtest, from parallel subtests, and must return an
// empty repository.
func ClaimRepository(t *testing.T, newRepo func(t *testing.T) ports.ClaimRepository) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.ClaimRepository)
	}{
		{"create then get keeps every field", testClaimRoundTrip},
		{"duplicate id or a second open claim on the item conflicts", testClaimDuplicate},
		{"update applies fn and saves, or saves nothing when fn fails", testClaimUpdate},
		{"list filters by status and order, newest first, by cursor", testClaimList},
		{"approved claims are counted per item", testClaimCountApproved},
		{"concurrent decisions decide once", testClaimConcurrentDecisions},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newRepo(t))
		})
	}
}

func newClaim(t *testing.T, id, orderID, itemID string) *domain.Claim {
	t.Helper()
	c, err := domain.NewClaim(id, orderID, itemID, domain.ClaimWrongRegion, "Activates only in Ukraine «ключ» 🎮", suiteT0, suiteT0.Add(time.Hour), 14*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func createClaim(t *testing.T, repo ports.ClaimRepository, c *domain.Claim) {
	t.Helper()
	if err := repo.Create(t.Context(), c); err != nil {
		t.Fatalf("Create(%s): %v", c.ID(), err)
	}
}

func sameClaim(t *testing.T, got, want domain.ClaimSnapshot) {
	t.Helper()
	var d diffs
	d.add("id", got.ID, want.ID, got.ID == want.ID)
	d.add("order and item", got.OrderID+"/"+got.ItemID, want.OrderID+"/"+want.ItemID, got.OrderID == want.OrderID && got.ItemID == want.ItemID)
	d.add("reason", got.Reason, want.Reason, got.Reason == want.Reason)
	d.add("message", got.Message, want.Message, got.Message == want.Message)
	d.time("created at", got.CreatedAt, want.CreatedAt)
	d.add("status", got.Status, want.Status, got.Status == want.Status)
	d.add("decided", got.DecidedAt != nil, want.DecidedAt != nil, (got.DecidedAt == nil) == (want.DecidedAt == nil))
	if got.DecidedAt != nil && want.DecidedAt != nil {
		d.time("decided at", *got.DecidedAt, *want.DecidedAt)
	}
	d.add("decided by", got.DecidedBy, want.DecidedBy, got.DecidedBy == want.DecidedBy)
	d.add("source", got.Source, want.Source, got.Source == want.Source)
	d.add("note", got.Note, want.Note, got.Note == want.Note)
	d.add("forced", got.Forced, want.Forced, got.Forced == want.Forced)
	for _, e := range d {
		t.Error(e)
	}
}

func testClaimRoundTrip(t *testing.T, repo ports.ClaimRepository) {
	want := newClaim(t, "claim-1", "ord-1", "item-1")
	createClaim(t, repo, want)
	got, err := repo.Get(t.Context(), "claim-1")
	if err != nil {
		t.Fatal(err)
	}
	sameClaim(t, got.Snapshot(), want.Snapshot())
	_, err = repo.Get(t.Context(), "nope")
	wantIs(t, err, domain.ErrNotFound, "Get of an unknown claim")
}

func testClaimDuplicate(t *testing.T, repo ports.ClaimRepository) {
	createClaim(t, repo, newClaim(t, "claim-1", "ord-1", "item-1"))
	wantIs(t, repo.Create(t.Context(), newClaim(t, "claim-1", "ord-2", "item-2")), domain.ErrConflict, "Create of an existing id")
	wantIs(t, repo.Create(t.Context(), newClaim(t, "claim-2", "ord-1", "item-1")), domain.ErrConflict, "a second open claim on the item")
	if _, err := repo.Update(t.Context(), "claim-1", func(c *domain.Claim) error { return c.Reject("redeemed before", "admin:a", suiteT0) }); err != nil {
		t.Fatal(err)
	}
	createClaim(t, repo, newClaim(t, "claim-2", "ord-1", "item-1")) // the first is decided
}

func testClaimUpdate(t *testing.T, repo ports.ClaimRepository) {
	createClaim(t, repo, newClaim(t, "claim-1", "ord-1", "item-1"))
	boom := errors.New("boom")
	_, err := repo.Update(t.Context(), "claim-1", func(c *domain.Claim) error {
		_ = c.Reject("x", "admin:a", suiteT0)
		return boom
	})
	wantIs(t, err, boom, "Update whose fn fails")
	if got, _ := repo.Get(t.Context(), "claim-1"); got.Status() != domain.ClaimOpen {
		t.Fatalf("a failed update was saved: %s", got.Status())
	}
	at := suiteT0.Add(3 * time.Hour)
	updated, err := repo.Update(t.Context(), "claim-1", func(c *domain.Claim) error {
		return c.Approve(domain.ReplaceFromStock, "from our stock", "admin:a", 1, 1, true, at)
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := repo.Get(t.Context(), "claim-1")
	sameClaim(t, got.Snapshot(), updated.Snapshot())
	_, err = repo.Update(t.Context(), "nope", func(*domain.Claim) error { return nil })
	wantIs(t, err, domain.ErrNotFound, "Update of an unknown claim")
}

func testClaimList(t *testing.T, repo ports.ClaimRepository) {
	for i := range 5 {
		createClaim(t, repo, newClaim(t, fmt.Sprintf("claim-%d", i), fmt.Sprintf("ord-%d", i%2), fmt.Sprintf("item-%d", i)))
	}
	if _, err := repo.Update(t.Context(), "claim-3", func(c *domain.Claim) error { return c.Reject("no", "admin:a", suiteT0) }); err != nil {
		t.Fatal(err)
	}
	ids := func(q ports.ClaimQuery) string {
		cs, err := repo.List(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, c := range cs {
			out += c.ID()[len("claim-"):]
		}
		return out
	}
	open, rejected := domain.ClaimOpen, domain.ClaimRejected
	for _, c := range []struct {
		q    ports.ClaimQuery
		want string
	}{
		{ports.ClaimQuery{}, "43210"},
		{ports.ClaimQuery{Limit: 2}, "43"},
		{ports.ClaimQuery{After: "claim-3", Limit: 2}, "21"},
		{ports.ClaimQuery{Status: &open}, "4210"},
		{ports.ClaimQuery{Status: &rejected}, "3"},
		{ports.ClaimQuery{OrderID: "ord-1"}, "31"},
		{ports.ClaimQuery{OrderID: "ord-1", Status: &open}, "1"},
	} {
		if got := ids(c.q); got != c.want {
			t.Errorf("List(%+v) = %q, want %q", c.q, got, c.want)
		}
	}
}

func testClaimCountApproved(t *testing.T, repo ports.ClaimRepository) {
	for i, decide := range []func(*domain.Claim) error{
		func(c *domain.Claim) error {
			return c.Approve(domain.ReplaceFromStock, "", "admin:a", 0, 1, false, suiteT0)
		},
		func(c *domain.Claim) error { return c.Reject("no", "admin:a", suiteT0) },
		func(c *domain.Claim) error {
			return c.Approve(domain.ReplaceFromSupplier, "", "admin:a", 1, 1, true, suiteT0)
		},
	} {
		id := fmt.Sprintf("claim-%d", i)
		createClaim(t, repo, newClaim(t, id, "ord-1", "item-1"))
		if _, err := repo.Update(t.Context(), id, decide); err != nil {
			t.Fatal(err)
		}
	}
	createClaim(t, repo, newClaim(t, "claim-other", "ord-1", "item-2"))
	if n, err := repo.CountApproved(t.Context(), "item-1"); n != 2 || err != nil {
		t.Fatalf("CountApproved(item-1) = %d, %v; want 2", n, err)
	}
	if n, err := repo.CountApproved(t.Context(), "item-2"); n != 0 || err != nil {
		t.Fatalf("CountApproved(item-2) = %d, %v; want 0", n, err)
	}
}

func testClaimConcurrentDecisions(t *testing.T, repo ports.ClaimRepository) {
	createClaim(t, repo, newClaim(t, "claim-1", "ord-1", "item-1"))
	var decided, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, err := repo.Update(t.Context(), "claim-1", func(c *domain.Claim) error {
				if i%2 == 0 {
					return c.Reject("no", "admin:a", suiteT0)
				}
				return c.Approve(domain.ReplaceFromStock, "", "admin:b", 0, 1, false, suiteT0)
			})
			switch {
			case err == nil:
				decided.Add(1)
			case errors.Is(err, domain.ErrInvalidTransition):
				refused.Add(1)
			default:
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	if decided.Load() != 1 || refused.Load() != 7 {
		t.Fatalf("%d decisions and %d refusals, want 1 and 7", decided.Load(), refused.Load())
	}
}
