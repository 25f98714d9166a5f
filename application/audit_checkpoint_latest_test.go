package application_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/localdir"
	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/internal/testkit"
)

// The newest checkpoint is the one with the highest seq, whatever
// latest.json says: a worker whose view is behind does not replace it,
// and an older checkpoint put back as latest.json does not hide the newer.
func TestAuditCheckpointLatestNeverGoesBackwards(t *testing.T) {
	t.Parallel()
	vault, _ := localkeyring.NewInMemory()
	key := application.NewAuditKey(vault, memory.NewDataKeys())
	c := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	appendN := func(log *memory.AuditLog, n int) {
		t.Helper()
		for range n {
			if _, err := log.Append(t.Context(), "system", "test.cp", "", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	store, err := localdir.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "audit/"
	log := memory.NewAuditLog(c, key)
	cps := application.NewAuditCheckpoints(log, key, c, slog.New(slog.DiscardHandler))
	appendN(log, 2)
	older, err := cps.Save(t.Context(), store, prefix)
	if err != nil {
		t.Fatal(err)
	}
	olderBytes, err := store.Get(t.Context(), prefix+application.LatestCheckpointRef)
	if err != nil {
		t.Fatal(err)
	}
	appendN(log, 2)
	c.Advance(time.Hour)
	newer, err := cps.Save(t.Context(), store, prefix)
	if err != nil || newer.Seq != 4 || older.Seq != 2 {
		t.Fatalf("Save = %+v, %v; want seq 4 after seq 2", newer, err)
	}

	// A worker that sees only 2 records saves after the newer one.
	behind := memory.NewAuditLog(c, key)
	appendN(behind, 2)
	if _, err := application.NewAuditCheckpoints(behind, key, c, slog.New(slog.DiscardHandler)).Save(t.Context(), store, prefix); err != nil {
		t.Fatal(err)
	}
	if got, err := cps.Latest(t.Context(), store, prefix); err != nil || got.Seq != newer.Seq || got.Hash != newer.Hash {
		t.Fatalf("Latest after a lagging save = %+v, %v; want seq %d", got.AuditCheckpoint, err, newer.Seq)
	}

	// The older checkpoint put back as latest.json.
	if err := store.Put(t.Context(), prefix+application.LatestCheckpointRef, olderBytes); err != nil {
		t.Fatal(err)
	}
	got, err := cps.Latest(t.Context(), store, prefix)
	if err != nil || got.Seq != newer.Seq || got.Hash != newer.Hash || got.MAC != newer.MAC {
		t.Fatalf("Latest with latest.json put back = %+v, %v; want seq %d", got.AuditCheckpoint, err, newer.Seq)
	}
}
