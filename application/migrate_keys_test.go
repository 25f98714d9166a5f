package application_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// fulfilledKeys fulfils n orders and returns each one's plaintext data
// key by order id.
func fulfilledKeys(t *testing.T, w *world, n int) map[string][]byte {
	t.Helper()
	plain := map[string][]byte{}
	for range n {
		o := w.fulfilledOrder(t)
		wk, _ := w.dataKeys.Get(t.Context(), o.ID())
		k, err := w.vault.UnwrapDataKey(t.Context(), o.ID(), wk)
		if err != nil {
			t.Fatal(err)
		}
		plain[o.ID()] = k
	}
	return plain
}

func migrationAudits(t *testing.T, w *world) []map[string]string {
	t.Helper()
	recs, err := w.audit.List(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]string
	for _, r := range recs {
		if r.Action == application.AuditKeysMigrated {
			out = append(out, r.Details)
		}
	}
	return out
}

// TestMigrateKeysResumesAfterAStop: a run stopped after its first batch
// leaves that batch moved (and audited); the next run moves the rest and
// skips what the first moved; every key then opens under the target with
// its old bytes, and a third run changes nothing.
func TestMigrateKeysResumesAfterAStop(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	plain := fulfilledKeys(t, w, 5)
	target := vaulttest.New(t)
	migrate := application.NewMigrateKeys(memory.Transactor{}, w.keyring(), target, w.dataKeys, w.audit, 2, w.log)

	ctx, stop := context.WithCancel(t.Context())
	res, err := migrate.Handle(ctx, "operator:test", func(done, total int) {
		if done != 2 || total != 5 {
			t.Errorf("progress %d/%d after the first batch, want 2/5", done, total)
		}
		stop() // as an operator's Ctrl-C would
	})
	if !errors.Is(err, context.Canceled) || res.Migrated != 2 || res.Total != 5 {
		t.Fatalf("interrupted run = %+v, %v; want 2 of 5 migrated and context.Canceled", res, err)
	}
	if got := migrationAudits(t, w); len(got) != 1 || got[0]["migrated"] != "2" || got[0]["to"] != "vault" {
		t.Fatalf("audit of the interrupted run %v, want one batch of 2", got)
	}

	var calls []int
	res, err = migrate.Handle(t.Context(), "operator:test", func(done, _ int) { calls = append(calls, done) })
	if err != nil || res.Migrated != 3 || res.AlreadyMigrated != 2 || res.Changed != 0 {
		t.Fatalf("resumed run = %+v, %v; want 3 migrated, 2 already", res, err)
	}
	if want := []int{2, 4, 5}; !slices.Equal(calls, want) {
		t.Errorf("progress %v, want %v", calls, want)
	}
	for id, want := range plain {
		wk, _ := w.dataKeys.Get(t.Context(), id)
		if !strings.HasPrefix(wk.Ciphertext, "vault:v1:") {
			t.Fatalf("data key of %s is %.8s…, want a vault ciphertext", id, wk.Ciphertext)
		}
		got, err := target.UnwrapDataKey(t.Context(), id, wk)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("data key of %s under the target: %v (same bytes %t)", id, err, bytes.Equal(got, want))
		}
	}
	if got := migrationAudits(t, w); len(got) != 3 {
		t.Fatalf("%d migration records after the resumed run, want 3 (one per batch that moved keys)", len(got))
	}

	res, err = migrate.Handle(t.Context(), "operator:test", nil)
	if err != nil || res.Migrated != 0 || res.AlreadyMigrated != 5 {
		t.Fatalf("third run = %+v, %v; want nothing migrated", res, err)
	}
	if got := migrationAudits(t, w); len(got) != 3 {
		t.Fatalf("the third run audited %d batches, want none", len(got)-3)
	}
}

// TestMigrateKeysRefusesAKeyThatOpensNowhere: one stored key that opens
// under neither vault stops the migration before it changes anything, and
// the error names the key.
func TestMigrateKeysRefusesAKeyThatOpensNowhere(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	plain := fulfilledKeys(t, w, 3)
	var corrupt string
	for id := range plain {
		corrupt = id
	}
	good, _ := w.dataKeys.Get(t.Context(), corrupt)
	bad := ports.WrappedKey{Ciphertext: good.Ciphertext[:len(good.Ciphertext)-4] + "AAAA", Version: good.Version}
	if ok, _ := w.dataKeys.Replace(t.Context(), corrupt, good, bad); !ok {
		t.Fatal("could not plant a corrupt key")
	}

	migrate := application.NewMigrateKeys(memory.Transactor{}, w.keyring(), vaulttest.New(t), w.dataKeys, w.audit, 2, w.log)
	res, err := migrate.Handle(t.Context(), "operator:test", nil)
	if !errors.Is(err, ports.ErrDataKeyInvalid) || !strings.Contains(err.Error(), corrupt) || res.Migrated != 0 {
		t.Fatalf("Handle = %+v, %v; want ErrDataKeyInvalid naming %s", res, err, corrupt)
	}
	for id := range plain {
		if wk, _ := w.dataKeys.Get(t.Context(), id); !strings.HasPrefix(wk.Ciphertext, "local:") {
			t.Fatalf("data key of %s changed although the migration refused", id)
		}
	}
}

// TestMigrateKeysRefusesTheSameKind: moving local keys to another local
// keyring is refused.
func TestMigrateKeysRefusesTheSameKind(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	fulfilledKeys(t, w, 1)
	from, _ := localkeyring.NewInMemory()
	to, _ := localkeyring.NewInMemory()
	_, err := application.NewMigrateKeys(memory.Transactor{}, from, to, w.dataKeys, w.audit, 0, w.log).Handle(t.Context(), "operator:test", nil)
	if !errors.Is(err, application.ErrSameKeyVault) {
		t.Fatalf("err = %v, want ErrSameKeyVault", err)
	}
}

// keyring is the world's local keyring, under its fault injection: the
// source of a migration names its kind.
func (w *world) keyring() ports.DataKeyImporter { return w.vault.KeyVault.(ports.DataKeyImporter) }

// rotatingDataKeys rewraps one key with the source just before the
// migration writes it, as a rotation committing meanwhile would.
type rotatingDataKeys struct {
	ports.DataKeyRepository
	vault ports.KeyVault
	id    string
}

func (r rotatingDataKeys) Replace(ctx context.Context, id string, old, new ports.WrappedKey) (bool, error) {
	if id == r.id && strings.HasPrefix(new.Ciphertext, "vault:") {
		rw, err := r.vault.Rewrap(ctx, []ports.RewrapRequest{{OrderID: id, Wrapped: old}})
		if err != nil {
			return false, err
		}
		if ok, err := r.DataKeyRepository.Replace(ctx, id, old, rw[0]); !ok || err != nil {
			return false, errors.Join(errors.New("the concurrent rotation did not commit"), err)
		}
	}
	return r.DataKeyRepository.Replace(ctx, id, old, new)
}

// TestMigrateKeysLeavesConcurrentWritesAlone: a key rewrapped between the
// run's read and its write keeps the rewrap (the write is a compare-and-set
// on the old ciphertext), and a key the source makes after the scan stays
// where it is; the run counts both as left on the source.
func TestMigrateKeysLeavesConcurrentWritesAlone(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	plain := fulfilledKeys(t, w, 4)
	ids := slices.Sorted(maps.Keys(plain))
	dataKeys := rotatingDataKeys{DataKeyRepository: w.dataKeys, vault: w.vault, id: ids[1]}
	target := vaulttest.New(t)
	migrate := application.NewMigrateKeys(memory.Transactor{}, w.keyring(), target, dataKeys, w.audit, 2, w.log)

	late := "0-made-after-the-scan" // sorts before every order id: no batch lists it
	res, err := migrate.Handle(t.Context(), "operator:test", func(done, _ int) {
		if done != 2 {
			return
		}
		dk, err := w.vault.NewDataKey(t.Context(), late)
		if err != nil {
			t.Error(err)
			return
		}
		clear(dk.Plaintext)
		if err := w.dataKeys.Create(t.Context(), late, dk.Wrapped); err != nil {
			t.Error(err)
		}
	})
	if err != nil || res.Migrated != 3 || res.Changed != 1 || res.Left != 2 {
		t.Fatalf("run = %+v, %v; want 3 migrated, 1 changed, 2 left", res, err)
	}
	for _, id := range []string{ids[1], late} {
		wk, _ := w.dataKeys.Get(t.Context(), id)
		if !strings.HasPrefix(wk.Ciphertext, "local:") {
			t.Errorf("data key of %s is %.8s…, want it left on the keyring", id, wk.Ciphertext)
		}
		if k, err := w.vault.UnwrapDataKey(t.Context(), id, wk); err != nil || (id == ids[1] && !bytes.Equal(k, plain[id])) {
			t.Errorf("data key of %s does not open to its bytes on the keyring: %v", id, err)
		}
	}
	res, err = application.NewMigrateKeys(memory.Transactor{}, w.keyring(), target, w.dataKeys, w.audit, 2, w.log).Handle(t.Context(), "operator:test", nil)
	if err != nil || res.Migrated != 2 || res.Left != 0 {
		t.Fatalf("second run = %+v, %v; want nothing left", res, err)
	}
}
