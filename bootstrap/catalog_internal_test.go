package bootstrap

import (
	"log/slog"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"go.uber.org/fx/fxtest"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// TestScheduledCatalogSync: the scheduler syncs on every tick, the first
// run full and the next incremental.
func TestScheduledCatalogSync(t *testing.T) {
	t.Parallel()
	runs, catalog := memory.NewSyncRuns(), memory.NewCatalog()
	sync := application.NewSyncCatalog(ports.Suppliers{{Supplier: sandbox.NewSupplier(sandbox.SupplierConfig{})}}, catalog, runs, memory.NewPricingRules(),
		memory.NewLocks(), systemClock{}, uuidV7{}, application.PricingSettings{Margin: decimal.RequireFromString("0.1")},
		slog.New(slog.DiscardHandler))
	lc := fxtest.NewLifecycle(t)
	scheduleCatalogSync(lc, 5*time.Millisecond, sync, "", slog.New(slog.DiscardHandler))
	lc.RequireStart()
	// The scheduler may run again before the test looks: the two oldest
	// runs are the first and the second.
	var got []*domain.SyncRun
	testkit.Eventually(t, 10*time.Second, "two finished sync runs", func() bool {
		all, err := runs.List(t.Context(), "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		got = all
		return len(all) >= 2 && all[len(all)-2].Status() != domain.SyncRunning
	})
	lc.RequireStop()
	if first, second := got[len(got)-1], got[len(got)-2]; first.Mode() != domain.SyncFull || second.Mode() != domain.SyncIncremental {
		t.Errorf("runs: %s then %s, want full then incremental", first.Mode(), second.Mode())
	}
}
