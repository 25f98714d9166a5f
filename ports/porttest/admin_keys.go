package porttest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// AdminKeys runs the ports.AdminKeys contract. newStore is called once per
// subtest, from parallel subtests, and must return an empty store.
func AdminKeys(t *testing.T, newStore func(t *testing.T) ports.AdminKeys) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.AdminKeys)
	}{
		{"create then get by hash keeps every field", testAdminKeyRoundTrip},
		{"a duplicate id or hash conflicts", testAdminKeyDuplicate},
		{"unknown hash or id is not found", testAdminKeyMissing},
		{"list is oldest first, revoked included", testAdminKeyList},
		{"revoke is saved, and happens once under concurrency", testAdminKeyRevoke},
		{"update whose fn fails saves nothing", testAdminKeyUpdateRollback},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newStore(t))
		})
	}
}

func adminKey(t *testing.T, id, name string, role domain.AdminRole, secret string) *domain.AdminKey {
	t.Helper()
	k, err := domain.NewAdminKey(id, name, role, domain.HashToken(secret), suiteT0)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func createAdminKey(t *testing.T, s ports.AdminKeys, k *domain.AdminKey) {
	t.Helper()
	if err := s.Create(t.Context(), k); err != nil {
		t.Fatalf("Create(%s): %v", k.ID(), err)
	}
}

func sameAdminKey(t *testing.T, got, want *domain.AdminKey) {
	t.Helper()
	g, w := got.Snapshot(), want.Snapshot()
	same := sameMicrosecond
	if g.ID != w.ID || g.Name != w.Name || g.Role != w.Role || g.Hash != w.Hash || !same(g.CreatedAt, w.CreatedAt) ||
		(g.RevokedAt == nil) != (w.RevokedAt == nil) || (g.RevokedAt != nil && !same(*g.RevokedAt, *w.RevokedAt)) {
		t.Fatalf("admin key %+v, want %+v", g, w)
	}
}

func testAdminKeyRoundTrip(t *testing.T, s ports.AdminKeys) {
	want := adminKey(t, "key-1", "desk-1", domain.RoleSupport, "secret-1")
	createAdminKey(t, s, want)
	got, err := s.GetByHash(t.Context(), domain.HashToken("secret-1"))
	if err != nil {
		t.Fatalf("GetByHash: %v", err)
	}
	sameAdminKey(t, got, want)
}

func testAdminKeyDuplicate(t *testing.T, s ports.AdminKeys) {
	createAdminKey(t, s, adminKey(t, "key-1", "one", domain.RoleAdmin, "secret-1"))
	wantIs(t, s.Create(t.Context(), adminKey(t, "key-1", "two", domain.RoleAdmin, "secret-2")), domain.ErrConflict, "duplicate id")
	wantIs(t, s.Create(t.Context(), adminKey(t, "key-2", "two", domain.RoleAdmin, "secret-1")), domain.ErrConflict, "duplicate hash")
}

func testAdminKeyMissing(t *testing.T, s ports.AdminKeys) {
	createAdminKey(t, s, adminKey(t, "key-1", "one", domain.RoleAdmin, "secret-1"))
	_, err := s.GetByHash(t.Context(), domain.HashToken("secret-2"))
	wantIs(t, err, domain.ErrNotFound, "unknown hash")
	_, err = s.Update(t.Context(), "key-2", func(*domain.AdminKey) error { return nil })
	wantIs(t, err, domain.ErrNotFound, "unknown id")
}

func testAdminKeyList(t *testing.T, s ports.AdminKeys) {
	for i, id := range []string{"key-c", "key-a", "key-b"} {
		createAdminKey(t, s, adminKey(t, id, "n"+id, domain.RoleSupport, "secret-"+string(rune('1'+i))))
	}
	if _, err := s.Update(t.Context(), "key-a", func(k *domain.AdminKey) error { return k.Revoke(suiteT0.Add(time.Hour)) }); err != nil {
		t.Fatal(err)
	}
	keys, err := s.List(t.Context())
	if err != nil || len(keys) != 3 {
		t.Fatalf("List: %d keys, %v", len(keys), err)
	}
	for i, id := range []string{"key-c", "key-a", "key-b"} {
		if keys[i].ID() != id || keys[i].Active() != (id != "key-a") {
			t.Fatalf("List[%d] = %s (active %v)", i, keys[i].ID(), keys[i].Active())
		}
	}
}

func testAdminKeyRevoke(t *testing.T, s ports.AdminKeys) {
	createAdminKey(t, s, adminKey(t, "key-1", "one", domain.RoleAdmin, "secret-1"))
	const n = 10
	var won atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := s.Update(t.Context(), "key-1", func(k *domain.AdminKey) error { return k.Revoke(suiteT0.Add(time.Duration(i+1) * time.Minute)) })
			switch {
			case err == nil:
				won.Add(1)
			case !errors.Is(err, domain.ErrAdminKeyRevoked):
				t.Errorf("concurrent revoke: %v", err)
			}
		})
	}
	wg.Wait()
	if won.Load() != 1 {
		t.Fatalf("%d revokes succeeded, want 1", won.Load())
	}
	got, err := s.GetByHash(t.Context(), domain.HashToken("secret-1"))
	if err != nil || got.Active() || got.RevokedAt() == nil {
		t.Fatalf("after revoke: %v, active %v", err, got != nil && got.Active())
	}
}

func testAdminKeyUpdateRollback(t *testing.T, s ports.AdminKeys) {
	createAdminKey(t, s, adminKey(t, "key-1", "one", domain.RoleAdmin, "secret-1"))
	boom := errors.New("boom")
	_, err := s.Update(t.Context(), "key-1", func(k *domain.AdminKey) error {
		_ = k.Revoke(suiteT0)
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update: %v, want boom", err)
	}
	if got, _ := s.GetByHash(t.Context(), domain.HashToken("secret-1")); got == nil || !got.Active() {
		t.Fatal("a failed update revoked the key")
	}
}

// sameMicrosecond compares times as stores keep them: to the microsecond
// (PostgreSQL's timestamptz rounds to it).
func sameMicrosecond(a, b time.Time) bool { return a.Sub(b).Abs() < time.Microsecond }
