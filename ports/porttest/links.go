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
		{"reveal in one write consumes as update does", testLinkReveal},
		{"reveal in one write refuses as CanReveal does", testLinkRevealRefused},
		{"concurrent reveals in one write respect the limit", testLinkConcurrentRevealWrites},
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
	raceReveals(t, repo, func() (bool, error) {
		var first bool
		_, err := repo.Update(t.Context(), "link-1", func(l *domain.DeliveryLink) (err error) {
			first, err = l.Reveal(suiteT0)
			return err
		})
		return first, err
	})
}

// raceReveals has 20 customers reveal at once, each with reveal, on a link
// allowing 3: exactly 3 succeed, one of them first, and the stored link
// says 3.
func raceReveals(t *testing.T, repo ports.DeliveryLinkRepository, reveal func() (first bool, err error)) {
	t.Helper()
	const n, limit = 20, 3
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, limit))
	var ok, firsts, exhausted atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			first, err := reveal()
			switch {
			case err == nil:
				ok.Add(1)
				if first {
					firsts.Add(1)
				}
			case errors.Is(err, domain.ErrLinkExhausted):
				exhausted.Add(1)
			default:
				t.Errorf("reveal: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != limit || exhausted.Load() != n-limit || firsts.Load() != 1 {
		t.Errorf("%d reveals succeeded (%d first), %d exhausted; want %d (1 first), %d", ok.Load(), firsts.Load(), exhausted.Load(), limit, n-limit)
	}
	if got := linkByToken(t, repo, "token-1").RevealsUsed(); got != limit {
		t.Errorf("stored link has %d reveals used, want %d", got, limit)
	}
}

// revealer returns repo's ports.DeliveryLinkRevealer, skipping the test
// when it has none.
func revealer(t *testing.T, repo ports.DeliveryLinkRepository) ports.DeliveryLinkRevealer {
	t.Helper()
	r, ok := repo.(ports.DeliveryLinkRevealer)
	if !ok {
		t.Skip("not a ports.DeliveryLinkRevealer")
	}
	return r
}

func testLinkReveal(t *testing.T, repo ports.DeliveryLinkRepository) {
	r := revealer(t, repo)
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, 2))
	want := linkByToken(t, repo, "token-1") // as stored: a store may round times
	for i, wantFirst := range []bool{true, false} {
		// The last nanosecond before the expiry still reveals.
		now := want.ExpiresAt().Add(-time.Nanosecond)
		if i == 0 {
			now = suiteT0
		}
		if _, err := want.Reveal(now); err != nil {
			t.Fatal(err)
		}
		l, first, err := r.Reveal(t.Context(), "link-1", now)
		if err != nil || first != wantFirst {
			t.Fatalf("reveal %d at %s = first %t, %v; want %t, nil", i+1, now, first, err, wantFirst)
		}
		for _, d := range linkDiffs(l.Snapshot(), want.Snapshot()) {
			t.Errorf("reveal %d returned: %s", i+1, d)
		}
		for _, d := range linkDiffs(linkByToken(t, repo, "token-1").Snapshot(), want.Snapshot()) {
			t.Errorf("stored after reveal %d: %s", i+1, d)
		}
	}
	_, _, err := r.Reveal(t.Context(), "link-1", suiteT0)
	wantIs(t, err, domain.ErrLinkExhausted, "reveal of a link with no reveal left")
	if got := linkByToken(t, repo, "token-1").RevealsUsed(); got != 2 {
		t.Errorf("after a refused reveal: %d reveals used, want 2", got)
	}
}

func testLinkRevealRefused(t *testing.T, repo ports.DeliveryLinkRepository) {
	r := revealer(t, repo)
	createLink(t, repo, newLink(t, "link-1", "ord-1", "token-1", suiteT0, 3))
	fresh := linkByToken(t, repo, "token-1") // as stored: a store may round times
	createLink(t, repo, newLink(t, "link-2", "ord-1", "token-2", suiteT0, 3))
	if _, err := repo.Update(t.Context(), "link-2", func(l *domain.DeliveryLink) error { l.Revoke(suiteT0); return nil }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		id   string
		now  time.Time
		want error
	}{
		{"at its expiry", "link-1", fresh.ExpiresAt(), domain.ErrLinkExpired},
		{"a microsecond after its expiry", "link-1", fresh.ExpiresAt().Add(time.Microsecond), domain.ErrLinkExpired},
		{"revoked", "link-2", suiteT0, domain.ErrLinkRevoked},
		{"revoked and expired", "link-2", fresh.ExpiresAt(), domain.ErrLinkRevoked},
		{"missing", "link-nope", suiteT0, domain.ErrNotFound},
	} {
		l, first, err := r.Reveal(t.Context(), c.id, c.now)
		wantIs(t, err, c.want, "reveal of a link "+c.name)
		if l != nil || first {
			t.Errorf("refused reveal of a link %s returned a link (%v) or first (%t)", c.name, l != nil, first)
		}
	}
	for _, token := range []string{"token-1", "token-2"} {
		if got := linkByToken(t, repo, token).RevealsUsed(); got != 0 {
			t.Errorf("link of %s: %d reveals used after refusals, want 0", token, got)
		}
	}
}

// testLinkConcurrentRevealWrites is testLinkConcurrentReveals through
// ports.DeliveryLinkRevealer.
func testLinkConcurrentRevealWrites(t *testing.T, repo ports.DeliveryLinkRepository) {
	r := revealer(t, repo)
	raceReveals(t, repo, func() (bool, error) {
		_, first, err := r.Reveal(t.Context(), "link-1", suiteT0)
		return first, err
	})
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
