package porttest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DeliveryLinkRepository runs the ports.DeliveryLinkRepository contract.
// newRepo is called once per subtest, from parallel subtests, and must
// return an empty repository.
func DeliveryLinkRepository(t *testing.T, newRepo func(t *testing.T) ports.DeliveryLinkRepository) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.DeliveryLinkRepository)
	}{
		{"create then get by token hash keeps every field", testLinkRoundTrip},
		{"duplicate id or token hash conflicts", testLinkDuplicate},
		{"unknown token hash is not found", testLinkMissing},
		{"update applies fn and saves", testLinkUpdate},
		{"update whose fn fails saves nothing", testLinkUpdateRollback},
		{"update of a missing link is not found", testLinkUpdateMissing},
		{"concurrent reveals respect the limit", testLinkConcurrentReveals},
		{"list by order, oldest first", testLinkList},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newRepo(t))
		})
	}
}

func testLinkRoundTrip(t *testing.T, repo ports.DeliveryLinkRepository) {
	want := newLink(t, "link-1", "ord-1", "token-1", suiteT0, 3)
	createLink(t, repo, want)
	got := linkByToken(t, repo, "token-1")
	for _, d := range linkDiffs(got.Snapshot(), want.Snapshot()) {
		t.Error(d)
	}
}

func testLinkDuplicate(t *testing.T, repo ports.DeliveryLinkRepository) {
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, 3))
	err := repo.Create(t.Context(), newLink(t, "link-1", "ord-1", "token-2", suiteT0, 3))
	wantIs(t, err, domain.ErrConflict, "Create of an existing id")
	err = repo.Create(t.Context(), newLink(t, "link-2", "ord-2", "token-1", suiteT0, 3))
	wantIs(t, err, domain.ErrConflict, "Create of an existing token hash")
	if got := linkByToken(t, repo, "token-1"); got.ID() != "link-1" || got.OrderID() != "ord-1" {
		t.Errorf("token-1 opens link %s of %s, want link-1 of ord-1", got.ID(), got.OrderID())
	}
	if _, err := repo.GetByTokenHash(t.Context(), domain.HashToken("token-2")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the refused link's token opens something: %v", err)
	}
}

func testLinkMissing(t *testing.T, repo ports.DeliveryLinkRepository) {
	_, err := repo.GetByTokenHash(t.Context(), domain.HashToken("nope"))
	wantIs(t, err, domain.ErrNotFound, "GetByTokenHash of an unknown token")
}

func testLinkUpdate(t *testing.T, repo ports.DeliveryLinkRepository) {
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, 3))
	var first bool
	updated, err := repo.Update(t.Context(), "link-1", func(l *domain.DeliveryLink) (err error) {
		first, err = l.Reveal(suiteT0.Add(time.Minute))
		return err
	})
	if err != nil || !first || updated.RevealsUsed() != 1 {
		t.Fatalf("Update(Reveal) = %v, first %t, %d used; want nil, true, 1", err, first, updated.RevealsUsed())
	}
	revokedAt := suiteT0.Add(2 * time.Minute)
	updated, err = repo.Update(t.Context(), "link-1", func(l *domain.DeliveryLink) error {
		l.Revoke(revokedAt)
		return nil
	})
	if err != nil {
		t.Fatalf("Update(Revoke): %v", err)
	}
	got := linkByToken(t, repo, "token-1")
	for _, d := range linkDiffs(got.Snapshot(), updated.Snapshot()) {
		t.Error(d)
	}
	wantIs(t, got.CanReveal(suiteT0), domain.ErrLinkRevoked, "CanReveal of the stored link")
}

func testLinkUpdateRollback(t *testing.T, repo ports.DeliveryLinkRepository) {
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, 3))
	errBoom := errors.New("boom")
	_, err := repo.Update(t.Context(), "link-1", func(l *domain.DeliveryLink) error {
		if _, err := l.Reveal(suiteT0); err != nil {
			return err
		}
		l.Revoke(suiteT0)
		return errBoom
	})
	wantIs(t, err, errBoom, "Update whose fn fails")
	if got := linkByToken(t, repo, "token-1"); got.RevealsUsed() != 0 || got.Revoked() {
		t.Errorf("after a failed fn: %d reveals used, revoked %t; want 0, false", got.RevealsUsed(), got.Revoked())
	}
}

func testLinkUpdateMissing(t *testing.T, repo ports.DeliveryLinkRepository) {
	called := false
	_, err := repo.Update(t.Context(), "link-nope", func(*domain.DeliveryLink) error { called = true; return nil })
	wantIs(t, err, domain.ErrNotFound, "Update of a missing link")
	if called {
		t.Errorf("Update called fn for a missing link")
	}
}

// testLinkConcurrentReveals: n customers press reveal at once on a link
// allowing limit; exactly limit succeed, one of them first.
func testLinkConcurrentReveals(t *testing.T, repo ports.DeliveryLinkRepository) {
	const n, limit = 20, 3
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, limit))
	var ok, firsts, exhausted atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			var first bool
			_, err := repo.Update(t.Context(), "link-1", func(l *domain.DeliveryLink) (err error) {
				first, err = l.Reveal(suiteT0)
				return err
			})
			switch {
			case err == nil:
				ok.Add(1)
				if first {
					firsts.Add(1)
				}
			case errors.Is(err, domain.ErrLinkExhausted):
				exhausted.Add(1)
			default:
				t.Errorf("Update(Reveal): %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || exhausted.Load() != n-limit || firsts.Load() != 1 {
		t.Errorf("%d reveals succeeded (%d first), %d exhausted; want %d (1 first), %d", ok.Load(), firsts.Load(), exhausted.Load(), limit, n-limit)
	}
	if got := linkByToken(t, repo, "token-1"); got.RevealsUsed() != limit {
		t.Errorf("stored link has %d reveals used, want %d", got.RevealsUsed(), limit)
	}
}

func testLinkList(t *testing.T, repo ports.DeliveryLinkRepository) {
	for i, order := range []string{"ord-1", "ord-2", "ord-1", "ord-1"} {
		createLink(t, repo, newLink(t, fmt.Sprintf("link-%d", i), order, fmt.Sprintf("token-%d", i), suiteT0.Add(time.Duration(i)*time.Minute), 3))
	}
	for order, want := range map[string][]string{
		"ord-1":    {"link-0", "link-2", "link-3"},
		"ord-2":    {"link-1"},
		"ord-nope": nil,
	} {
		links, err := repo.ListByOrder(t.Context(), order)
		if err != nil {
			t.Fatalf("ListByOrder(%s): %v", order, err)
		}
		var ids []string
		for _, l := range links {
			ids = append(ids, l.ID())
		}
		if !slices.Equal(ids, want) {
			t.Errorf("ListByOrder(%s) = %v, want %v", order, ids, want)
		}
	}
}

// newLink returns a link that opens with token for 15 minutes from created.
func newLink(t *testing.T, id, orderID, token string, created time.Time, maxReveals int) *domain.DeliveryLink {
	t.Helper()
	l, err := domain.NewDeliveryLink(id, orderID, domain.HashToken(token), created, 15*time.Minute, maxReveals)
	if err != nil {
		t.Fatalf("NewDeliveryLink: %v", err)
	}
	return l
}

func createLink(t *testing.T, repo ports.DeliveryLinkRepository, l *domain.DeliveryLink) {
	t.Helper()
	if err := repo.Create(t.Context(), l); err != nil {
		t.Fatalf("Create(%s): %v", l.ID(), err)
	}
}

func linkByToken(t *testing.T, repo ports.DeliveryLinkRepository, token string) *domain.DeliveryLink {
	t.Helper()
	l, err := repo.GetByTokenHash(t.Context(), domain.HashToken(token))
	if err != nil {
		t.Fatalf("GetByTokenHash(%s): %v", token, err)
	}
	return l
}

func linkDiffs(got, want domain.DeliveryLinkSnapshot) []string {
	var d diffs
	d.add("id", got.ID, want.ID, got.ID == want.ID)
	d.add("order", got.OrderID, want.OrderID, got.OrderID == want.OrderID)
	d.add("token hash", got.TokenHash, want.TokenHash, got.TokenHash == want.TokenHash)
	d.time("created at", got.CreatedAt, want.CreatedAt)
	d.time("expires at", got.ExpiresAt, want.ExpiresAt)
	d.add("max reveals", got.MaxReveals, want.MaxReveals, got.MaxReveals == want.MaxReveals)
	d.add("reveals used", got.RevealsUsed, want.RevealsUsed, got.RevealsUsed == want.RevealsUsed)
	d.add("revoked", got.RevokedAt != nil, want.RevokedAt != nil, (got.RevokedAt == nil) == (want.RevokedAt == nil))
	if got.RevokedAt != nil && want.RevokedAt != nil {
		d.time("revoked at", *got.RevokedAt, *want.RevokedAt)
	}
	return d
}
