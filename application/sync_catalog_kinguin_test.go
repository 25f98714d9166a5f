package application_test

import (
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// catalogSize is the supplier catalog of the sync tests: the reference
// product and 9,999 generated ones, served by Kinguin's paging.
const catalogSize = 10_000

// syncBench is SyncCatalog and UpdateProduct on a Kinguin test server and
// one storage.
type syncBench struct {
	kinguin *kinguintest.Server
	catalog ports.CatalogRepository
	clock   *testkit.Clock
	sync    application.SyncCatalog
	update  application.UpdateProduct
	db      *sqlx.DB // nil on memory
}

func newSyncBench(t testing.TB, onPostgres bool, size int) *syncBench {
	t.Helper()
	b := &syncBench{kinguin: kinguintest.New(t, size-1), clock: testkit.NewClock(time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC))}
	client, err := kinguin.New(kinguin.Config{BaseURL: b.kinguin.BaseURL(), APIKey: kinguintest.APIKey})
	if err != nil {
		t.Fatal(err)
	}
	var (
		runs  ports.SyncRunRepository = memory.NewSyncRuns()
		rules ports.PricingRules      = memory.NewPricingRules()
		locks ports.Locks             = memory.NewLocks()
		tx    ports.Transactor        = memory.Transactor{}
	)
	b.catalog = memory.NewCatalog()
	if onPostgres {
		b.db = pgtest.NewDB(t)
		b.catalog, runs, rules, locks, tx = postgres.NewCatalog(b.db), postgres.NewSyncRuns(b.db), postgres.NewPricingRules(b.db),
			postgres.NewLocks(b.db), postgres.NewTransactor(b.db)
	}
	pricing := application.PricingSettings{Margin: decimal.RequireFromString("0.10"), Ending: domain.DefaultPriceEnding}
	b.sync = application.NewSyncCatalog(ports.Suppliers{{Supplier: client}}, b.catalog, runs, rules, locks, b.clock, &ids{}, pricing, slog.New(slog.DiscardHandler))
	b.update = application.NewUpdateProduct(tx, b.catalog, rules, newMemoryAuditLog(t, b.clock), pricing)
	return b
}

func (b *syncBench) run(t testing.TB, mode domain.SyncMode) application.SyncCatalogResult {
	t.Helper()
	res, err := b.sync.Handle(t.Context(), application.SyncCatalogCommand{Mode: mode})
	if err != nil {
		t.Fatalf("%s sync: %v", mode, err)
	}
	return res
}

// rowVersions returns each product's xmin: the transaction that last wrote
// the row, which moves with any write, even one of equal values.
func (b *syncBench) rowVersions(t *testing.T) map[string]string {
	t.Helper()
	var rows []struct {
		SKU  string `db:"sku"`
		Xmin string `db:"xmin"`
	}
	if err := b.db.SelectContext(t.Context(), &rows, `SELECT sku, xmin::text AS xmin FROM products`); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]string, len(rows))
	for _, r := range rows {
		out[r.SKU] = r.Xmin
	}
	return out
}

func generatedID(i int) string { return kinguintest.GeneratedProductID(i) }

func TestSyncOfTenThousandProducts(t *testing.T) {
	t.Parallel()
	for _, backend := range []string{"memory", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			b := newSyncBench(t, backend == "postgres", catalogSize)
			ctx := t.Context()

			first := b.run(t, domain.SyncMode{}) // no run yet: full
			if want := (domain.SyncCounts{Seen: catalogSize, Created: catalogSize}); first.Mode != domain.SyncFull || first.Counts != want {
				t.Fatalf("first sync: %s %+v, want full %+v", first.Mode, first.Counts, want)
			}
			all, err := b.catalog.List(ctx, "", 0)
			if err != nil || len(all) != catalogSize {
				t.Fatalf("catalog holds %d products (%v), want %d", len(all), err, catalogSize)
			}
			p, err := b.catalog.Get(ctx, generatedID(42)) // cost 43.25 × 1.10 = 47.575
			if err != nil || p.Price().String() != "47.99" || p.Stock() != 52 || !p.InStock() {
				t.Fatalf("product 42: %v, %v; want 47.99 with 52 in stock", p.Snapshot(), err)
			}

			var before map[string]string
			if b.db != nil {
				before = b.rowVersions(t)
			}
			second := b.run(t, domain.SyncFull)
			if want := (domain.SyncCounts{Seen: catalogSize}); second.Counts != want {
				t.Fatalf("second full sync: %+v, want nothing but %d seen", second.Counts, catalogSize)
			}
			if b.db != nil {
				if after := b.rowVersions(t); !maps.Equal(before, after) {
					t.Fatal("a full sync of an unchanged catalog rewrote rows")
				}
			}

			// Three products change after the last run started: a price
			// rise, a restock and a sell-out.
			changedAt := b.clock.Now().Add(time.Minute)
			b.kinguin.SetProduct(generatedID(7), 30.00, 17, changedAt)
			b.kinguin.SetProduct(generatedID(8), 9.25, 500, changedAt)
			b.kinguin.SetProduct(generatedID(9), 10.25, 0, changedAt)
			b.clock.Advance(time.Hour)
			if b.db != nil {
				before = b.rowVersions(t)
			}
			inc := b.run(t, domain.SyncMode{})
			if want := (domain.SyncCounts{Seen: 3, Changed: 3, Deactivated: 1}); inc.Mode != domain.SyncIncremental || inc.Counts != want {
				t.Fatalf("incremental sync: %s %+v, want incremental %+v", inc.Mode, inc.Counts, want)
			}
			if b.db != nil {
				after := b.rowVersions(t)
				var moved []string
				for sku, v := range after {
					if before[sku] != v {
						moved = append(moved, sku)
					}
				}
				if len(moved) != 3 {
					t.Fatalf("incremental sync wrote %d rows (%v), want the 3 changed", len(moved), moved)
				}
			}
			if p, _ := b.catalog.Get(ctx, generatedID(7)); p.Price().String() != "33.99" || p.Stock() != 17 {
				t.Errorf("after a price rise: %s with %d, want 33.99 with 17", p.Price(), p.Stock())
			}
			if p, _ := b.catalog.Get(ctx, generatedID(9)); p.InStock() {
				t.Error("a sold-out product is still in stock")
			}
		})
	}
}

func TestFullSyncTakesVanishedProductsOutOfStockAndKeepsPinnedPrices(t *testing.T) {
	t.Parallel()
	const size = 300
	b := newSyncBench(t, false, size)
	ctx := t.Context()
	b.run(t, domain.SyncFull)
	pin := decimal.RequireFromString("5.00")
	if _, err := b.update.Handle(ctx, application.UpdateProductCommand{SKU: generatedID(3), Price: &pin, Actor: "admin:test"}); err != nil {
		t.Fatal(err)
	}
	b.kinguin.RemoveProduct(generatedID(5))
	b.kinguin.SetProduct(generatedID(3), 40.00, 3, b.clock.Now().Add(time.Minute))
	b.clock.Advance(time.Hour)

	res := b.run(t, domain.SyncFull)
	if want := (domain.SyncCounts{Seen: size - 1, Changed: 1, Deactivated: 1}); res.Counts != want {
		t.Fatalf("full sync: %+v, want %+v", res.Counts, want)
	}
	gone, err := b.catalog.Get(ctx, generatedID(5))
	if err != nil {
		t.Fatalf("a vanished product was deleted: %v", err)
	}
	if gone.InStock() || gone.Stock() != 0 {
		t.Errorf("vanished product: stock %d, in stock %v; want 0, false", gone.Stock(), gone.InStock())
	}
	pinned, _ := b.catalog.Get(ctx, generatedID(3))
	if pinned.Price().String() != "5.00" || !pinned.PricePinned() || pinned.Source().Cost.String() != "40.00" {
		t.Errorf("pinned product after a cost rise: price %s (pinned %v), cost %s; want 5.00 pinned at cost 40.00",
			pinned.Price(), pinned.PricePinned(), pinned.Source().Cost)
	}
	if again := b.run(t, domain.SyncFull); again.Counts.Deactivated != 0 || again.Counts.Changed != 0 {
		t.Errorf("a second full sync counts %+v: the vanished product was taken out again", again.Counts)
	}

	// Unpinning goes back to the computed price at once.
	p, err := b.update.Handle(ctx, application.UpdateProductCommand{SKU: generatedID(3), Unpin: true, Actor: "admin:test"})
	if err != nil || p.PricePinned() || p.Price().String() != "44.99" {
		t.Fatalf("unpinned: %v, %v; want 44.99 (40.00 × 1.10)", p.Snapshot(), err)
	}
}

// BenchmarkFullSync reports how long a full sync of 10,000 products into
// an empty PostgreSQL catalog takes, through the Kinguin adapter and its
// test server (which answers in-process: the supplier's own latency is
// not in it).
func BenchmarkFullSync(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		s := newSyncBench(b, true, catalogSize)
		b.StartTimer()
		start := time.Now()
		res := s.run(b, domain.SyncFull)
		elapsed := time.Since(start)
		if res.Counts.Created != catalogSize {
			b.Fatalf("created %d", res.Counts.Created)
		}
		b.ReportMetric(elapsed.Seconds(), "s/sync")
		b.ReportMetric(float64(catalogSize)/elapsed.Seconds(), "products/s")
	}
}
