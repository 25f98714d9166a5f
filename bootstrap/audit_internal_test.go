package bootstrap

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx/fxtest"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/internal/testkit"
)

// TestAuditCheckpointsEachInterval: with KEYWARD_AUDIT_CHECKPOINT_PATH a
// directory, a checkpoint is written at start and again each
// KEYWARD_AUDIT_CHECKPOINT_INTERVAL, so latest.json follows the trail's
// head; each is logged with its seq and hash.
func TestAuditCheckpointsEachInterval(t *testing.T) {
	t.Parallel()
	vault, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	key := application.NewAuditKey(vault, memory.NewDataKeys())
	trail := memory.NewAuditLog(systemClock{}, key)
	var logs syncLog
	cps := application.NewAuditCheckpoints(trail, key, systemClock{}, slog.New(slog.NewJSONHandler(&logs, nil)))

	dir := filepath.Join(t.TempDir(), "checkpoints")
	cfg := Defaults()
	// Below the minimum Validate asks of an operator: the test's interval.
	cfg.Audit.CheckpointPath, cfg.Audit.CheckpointInterval = dir, 10*time.Millisecond
	lc := fxtest.NewLifecycle(t)
	if err := runAuditCheckpoints(lc, cfg, cps, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	lc.RequireStart()
	defer lc.RequireStop()

	written := func() int {
		entries, _ := os.ReadDir(dir)
		n := 0
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), "audit-checkpoint-") {
				n++
			}
		}
		return n
	}
	testkit.Eventually(t, 30*time.Second, "three checkpoints: at start and two intervals", func() bool { return written() >= 3 })

	for range 2 {
		if _, err := trail.Append(t.Context(), "system", "test.cp", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	var latest application.SignedCheckpoint
	testkit.Eventually(t, 30*time.Second, "latest.json at the head, seq 2", func() bool {
		b, err := os.ReadFile(filepath.Join(dir, application.LatestCheckpointRef))
		if err != nil {
			return false
		}
		latest, err = application.ParseCheckpoint(b)
		return err == nil && latest.Seq == 2
	})
	if line := `"msg":"audit checkpoint"`; !strings.Contains(logs.String(), line) || !strings.Contains(logs.String(), `"hash":"`+latest.Hash+`"`) {
		t.Fatalf("checkpoint of seq 2 (hash %s) not logged:\n%s", latest.Hash, logs.String())
	}
}
