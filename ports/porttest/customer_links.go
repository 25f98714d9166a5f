package porttest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// CustomerLinkStore is a customer link repository under test: the
// repository, the Transactor of its units of work, and Waiting, which
// reports how many callers wait for a link that a unit of work holds (in
// Postgres, backends waiting for a lock), so that a test knows a sign-in
// is blocked without waiting on a timer.
type CustomerLinkStore struct {
	Repo    ports.CustomerLinkRepository
	Tx      ports.Transactor
	Waiting func(t *testing.T) int
}

// CustomerLinkRepository runs the ports.CustomerLinkRepository contract.
// newStore is called once per subtest, from parallel subtests, and must
// return an empty repository.
func CustomerLinkRepository(t *testing.T, newStore func(t *testing.T) CustomerLinkStore) {
	t.Helper()
	repoOnly := func(run func(*testing.T, ports.CustomerLinkRepository)) func(*testing.T, CustomerLinkStore) {
		return func(t *testing.T, s CustomerLinkStore) { run(t, s.Repo) }
	}
	subtests := []struct {
		name string
		run  func(*testing.T, CustomerLinkStore)
	}{
		{"create then get by token hash keeps every field", repoOnly(testCustomerLinkRoundTrip)},
		{"duplicate id or token hash conflicts", repoOnly(testCustomerLinkDuplicate)},
		{"unknown token hash or id is not found", repoOnly(testCustomerLinkMissing)},
		{"update applies fn and saves, or saves nothing when fn fails", repoOnly(testCustomerLinkUpdate)},
		{"concurrent sign-ins use a link once", repoOnly(testCustomerLinkConcurrentUse)},
		{"a unit of work holds the link it changed until it fails", func(t *testing.T, s CustomerLinkStore) { testCustomerLinkHeldByUnit(t, s, false) }},
		{"a unit of work holds the link it used until it commits", func(t *testing.T, s CustomerLinkStore) { testCustomerLinkHeldByUnit(t, s, true) }},
		{"expired links are deleted, oldest first, within the limit", repoOnly(testCustomerLinkDeleteExpired)},
		{"access requests are kept by id, once", repoOnly(testCustomerAccessRequests)},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newStore(t))
		})
	}
}

func newCustomerLink(t *testing.T, id, email, token string) *domain.CustomerLink {
	t.Helper()
	e, err := domain.ParseEmail(email)
	if err != nil {
		t.Fatal(err)
	}
	l, err := domain.NewCustomerLink(id, e, domain.HashToken(token), suiteT0, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func customerLinkByToken(t *testing.T, repo ports.CustomerLinkRepository, token string) *domain.CustomerLink {
	t.Helper()
	l, err := repo.GetByTokenHash(t.Context(), domain.HashToken(token))
	if err != nil {
		t.Fatalf("GetByTokenHash(%s): %v", token, err)
	}
	return l
}

func sameCustomerLink(t *testing.T, got, want domain.CustomerLinkSnapshot) {
	t.Helper()
	var d diffs
	d.add("id", got.ID, want.ID, got.ID == want.ID)
	d.add("email", got.Email, want.Email, got.Email == want.Email)
	d.add("token hash", got.TokenHash, want.TokenHash, got.TokenHash == want.TokenHash)
	d.time("created at", got.CreatedAt, want.CreatedAt)
	d.time("expires at", got.ExpiresAt, want.ExpiresAt)
	d.add("used", got.UsedAt != nil, want.UsedAt != nil, (got.UsedAt == nil) == (want.UsedAt == nil))
	if got.UsedAt != nil && want.UsedAt != nil {
		d.time("used at", *got.UsedAt, *want.UsedAt)
	}
	for _, e := range d {
		t.Error(e)
	}
}

func testCustomerLinkRoundTrip(t *testing.T, repo ports.CustomerLinkRepository) {
	want := newCustomerLink(t, "cl-1", "Buyer+Games@Example.com", "token-1")
	if err := repo.Create(t.Context(), want); err != nil {
		t.Fatal(err)
	}
	sameCustomerLink(t, customerLinkByToken(t, repo, "token-1").Snapshot(), want.Snapshot())
}

func testCustomerLinkDuplicate(t *testing.T, repo ports.CustomerLinkRepository) {
	if err := repo.Create(t.Context(), newCustomerLink(t, "cl-1", "a@example.com", "token-1")); err != nil {
		t.Fatal(err)
	}
	wantIs(t, repo.Create(t.Context(), newCustomerLink(t, "cl-1", "b@example.com", "token-2")), domain.ErrConflict, "Create of an existing id")
	wantIs(t, repo.Create(t.Context(), newCustomerLink(t, "cl-2", "b@example.com", "token-1")), domain.ErrConflict, "Create of an existing token hash")
	if got := customerLinkByToken(t, repo, "token-1"); got.ID() != "cl-1" || got.Email().String() != "a@example.com" {
		t.Errorf("token-1 opens %s for %s, want cl-1 for a@example.com", got.ID(), got.Email())
	}
	if _, err := repo.GetByTokenHash(t.Context(), domain.HashToken("token-2")); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("the refused link's token opens something: %v", err)
	}
}

func testCustomerLinkMissing(t *testing.T, repo ports.CustomerLinkRepository) {
	_, err := repo.GetByTokenHash(t.Context(), domain.HashToken("nope"))
	wantIs(t, err, domain.ErrNotFound, "GetByTokenHash of an unknown token")
	_, err = repo.Update(t.Context(), "nope", func(*domain.CustomerLink) error { return nil })
	wantIs(t, err, domain.ErrNotFound, "Update of an unknown id")
}

func testCustomerLinkUpdate(t *testing.T, repo ports.CustomerLinkRepository) {
	if err := repo.Create(t.Context(), newCustomerLink(t, "cl-1", "a@example.com", "token-1")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err := repo.Update(t.Context(), "cl-1", func(l *domain.CustomerLink) error {
		if err := l.Use(suiteT0.Add(time.Minute)); err != nil {
			return err
		}
		return boom
	})
	wantIs(t, err, boom, "Update whose fn fails")
	if customerLinkByToken(t, repo, "token-1").Used() {
		t.Fatal("a failed update was saved")
	}
	at := suiteT0.Add(2 * time.Minute)
	got, err := repo.Update(t.Context(), "cl-1", func(l *domain.CustomerLink) error { return l.Use(at) })
	if err != nil || !got.Used() {
		t.Fatalf("Update(Use) = %v, used %v", err, got != nil && got.Used())
	}
	sameCustomerLink(t, customerLinkByToken(t, repo, "token-1").Snapshot(), got.Snapshot())
	if u := got.Snapshot().UsedAt; u == nil || !u.Equal(at) {
		t.Fatalf("used at %v, want %v", u, at)
	}
}

func testCustomerLinkConcurrentUse(t *testing.T, repo ports.CustomerLinkRepository) {
	if err := repo.Create(t.Context(), newCustomerLink(t, "cl-1", "a@example.com", "token-1")); err != nil {
		t.Fatal(err)
	}
	var ok, refused atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := repo.Update(t.Context(), "cl-1", func(l *domain.CustomerLink) error { return l.Use(suiteT0.Add(time.Minute)) })
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, domain.ErrSignInLinkInvalid):
				refused.Add(1)
			default:
				t.Errorf("Update: %v", err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 || refused.Load() != 7 {
		t.Fatalf("%d sign-ins succeeded and %d were refused, want 1 and 7", ok.Load(), refused.Load())
	}
}

// testCustomerLinkHeldByUnit: sign-ins in units of work, as the sign-in
// use case makes them. While a unit that changed the link is open, another
// sign-in does not get the link (a row lock: it waits, which the store
// reports). When that unit fails and puts the link back, the waiting
// sign-in uses it, and a later one is refused; when it used the link and
// commits, the waiting sign-in is refused. A failed unit never undoes
// another's use, so the link is used once.
func testCustomerLinkHeldByUnit(t *testing.T, s CustomerLinkStore, commit bool) {
	repo, tx := s.Repo, s.Tx
	if err := repo.Create(t.Context(), newCustomerLink(t, "cl-1", "a@example.com", "token-1")); err != nil {
		t.Fatal(err)
	}
	use := func(l *domain.CustomerLink) error { return l.Use(suiteT0.Add(time.Minute)) }
	signIn := func() error {
		return tx.Atomically(t.Context(), func(ctx context.Context) error {
			_, err := repo.Update(ctx, "cl-1", use)
			return err
		})
	}
	failed := errors.New("the unit fails after changing the link")
	entered := make(chan struct{})
	waiting := make(chan error, 1)
	err := tx.Atomically(t.Context(), func(ctx context.Context) error {
		// A use that commits, or a change that uses nothing in a unit
		// that then fails.
		change := func(*domain.CustomerLink) error { return nil }
		if commit {
			change = use
		}
		if _, err := repo.Update(ctx, "cl-1", change); err != nil {
			return err
		}
		go func() {
			waiting <- tx.Atomically(t.Context(), func(ctx context.Context) error {
				_, err := repo.Update(ctx, "cl-1", func(l *domain.CustomerLink) error {
					close(entered)
					return use(l)
				})
				return err
			})
		}()
		// The other sign-in must not get the link while this unit holds
		// it: it either gets it (wrongly) or is seen waiting for it.
		testkit.Eventually(t, 10*time.Second, "the other sign-in to wait for the link or get it", func() bool {
			select {
			case <-entered:
				return true
			default:
				return s.Waiting(t) > 0
			}
		})
		select {
		case <-entered:
			t.Error("a sign-in got the link while another unit of work held it")
		default:
		}
		if commit {
			return nil
		}
		return failed
	})
	if commit {
		if err != nil {
			t.Fatalf("the unit that used the link: %v", err)
		}
		wantIs(t, <-waiting, domain.ErrSignInLinkInvalid, "the sign-in that waited for a unit that used the link")
	} else {
		wantIs(t, err, failed, "the failing unit")
		if err := <-waiting; err != nil {
			t.Fatalf("the sign-in that waited for the failed unit: %v, want it to use the link", err)
		}
		wantIs(t, signIn(), domain.ErrSignInLinkInvalid, "a sign-in after the link was used")
	}
	if !customerLinkByToken(t, repo, "token-1").Used() {
		t.Fatal("the link is not used")
	}
}

func testCustomerLinkDeleteExpired(t *testing.T, repo ports.CustomerLinkRepository) {
	purger, ok := repo.(ports.ExpiredLinkPurger)
	if !ok {
		t.Skip("the repository keeps expired links")
	}
	e, _ := domain.ParseEmail("a@example.com")
	for i, ttl := range []time.Duration{time.Minute, 2 * time.Minute, time.Hour} {
		l, err := domain.NewCustomerLink(fmt.Sprint("cl-", i), e, domain.HashToken(fmt.Sprint("token-", i)), suiteT0, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if err := repo.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	cutoff := suiteT0.Add(30 * time.Minute)
	if n, err := purger.DeleteExpired(t.Context(), cutoff, 1); n != 1 || err != nil {
		t.Fatalf("DeleteExpired(limit 1) = %d, %v; want 1", n, err)
	}
	if _, err := repo.GetByTokenHash(t.Context(), domain.HashToken("token-0")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("the longest expired link is still there: %v", err)
	}
	if n, err := purger.DeleteExpired(t.Context(), cutoff, 10); n != 1 || err != nil {
		t.Fatalf("DeleteExpired = %d, %v; want the other expired one", n, err)
	}
	customerLinkByToken(t, repo, "token-2") // not expired at the cutoff: kept
}

func testCustomerAccessRequests(t *testing.T, repo ports.CustomerLinkRepository) {
	reqs, ok := repo.(ports.CustomerAccessRequests)
	if !ok {
		t.Skip("the repository keeps no access requests")
	}
	ctx := t.Context()
	email, err := domain.ParseEmail("Someone@Example.com")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	rq, err := domain.NewCustomerAccessRequest("req-1", email, at)
	if err != nil {
		t.Fatal(err)
	}
	if err := reqs.RequestAccess(ctx, rq); err != nil {
		t.Fatal(err)
	}
	got, err := reqs.AccessRequest(ctx, "req-1")
	if err != nil || got.ID != rq.ID || got.Email.String() != email.String() || !got.RequestedAt.Equal(at) {
		t.Fatalf("AccessRequest = %+v, %v; want %+v", got, err, rq)
	}
	if err := reqs.RequestAccess(ctx, rq); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("duplicate request: %v, want ErrConflict", err)
	}
	if _, err := reqs.AccessRequest(ctx, "req-unknown"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown request: %v, want ErrNotFound", err)
	}
	purger, ok := repo.(ports.ExpiredLinkPurger)
	if !ok {
		return
	}
	if _, err := purger.DeleteExpired(ctx, at, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := reqs.AccessRequest(ctx, "req-1"); err != nil {
		t.Fatalf("a request made at the cutoff was purged: %v", err)
	}
	if _, err := purger.DeleteExpired(ctx, at.Add(time.Second), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := reqs.AccessRequest(ctx, "req-1"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a request made before the cutoff is kept: %v", err)
	}
}
