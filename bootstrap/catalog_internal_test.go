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
	deadline := time.Now().Add(10 * time.Second)
	var got []*domain.SyncRun
	for len(got) < 2 || got[0].Status() == domain.SyncRunning {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s, %d sync runs recorded, want 2 finished", len(got))
		}
		var err error
		if got, err = runs.List(t.Context(), "", 2); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // polling the condition, not waiting a fixed time
	}
	lc.RequireStop()
	if first, second := got[1], got[0]; first.Mode() != domain.SyncFull || second.Mode() != domain.SyncIncremental {
		t.Errorf("runs: %s then %s, want full then incremental", first.Mode(), second.Mode())
	}
}
