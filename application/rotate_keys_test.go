package application_test

import (
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// TestRotateRewrapsAndSkipsUnreadable: every readable data key moves to
// the new version and still opens; one corrupt key is reported, left alone,
// and keeps the minimum version where it is.
func TestRotateRewrapsAndSkipsUnreadable(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var ids []string
	plain := map[string][]byte{}
	for range 5 {
		o := w.fulfilledOrder(t)
		wk, _ := w.dataKeys.Get(t.Context(), o.ID())
		k, err := w.vault.UnwrapDataKey(t.Context(), o.ID(), wk)
		if err != nil {
			t.Fatal(err)
		}
		ids, plain[o.ID()] = append(ids, o.ID()), k
	}
	corrupt := ids[2]
	good, _ := w.dataKeys.Get(t.Context(), corrupt)
	bad := ports.WrappedKey{Ciphertext: good.Ciphertext[:len(good.Ciphertext)-4] + "AAAA", Version: good.Version}
	if ok, _ := w.dataKeys.Replace(t.Context(), corrupt, good, bad); !ok {
		t.Fatal("could not plant a corrupt key")
	}

	rot := w.app(func(_ *application.Deps, s *application.Settings) { s.RotateBatch = 2 }).Commands.RotateKeys
	res, err := rot.Handle(t.Context(), "admin:test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 2 || res.Rewrapped != 4 || res.Unreadable != 1 || res.Floor {
		t.Fatalf("result %+v", res)
	}
	for _, id := range ids {
		wk, _ := w.dataKeys.Get(t.Context(), id)
		if id == corrupt {
			if wk != bad {
				t.Fatal("the unreadable key was changed")
			}
			continue
		}
		k, err := w.vault.UnwrapDataKey(t.Context(), id, wk)
		if err != nil || wk.Version != 2 || string(k) != string(plain[id]) {
			t.Fatalf("order %s after rotation: version %d, %v", id, wk.Version, err)
		}
	}
	recs, _ := w.audit.List(t.Context(), 0, 1000)
	last := recs[len(recs)-1]
	if last.Action != application.AuditKeysRotated || last.Details["unreadable"] != "1" || last.Details["rewrapped"] != "4" {
		t.Fatalf("audit %+v", last)
	}
	// With the bad key gone (revoked), the next rotation raises the floor.
	_ = w.dataKeys.Delete(t.Context(), corrupt)
	if res, err := rot.Handle(t.Context(), "admin:test"); err != nil || !res.Floor || res.Version != 3 {
		t.Fatalf("second rotation %+v %v", res, err)
	}
}
