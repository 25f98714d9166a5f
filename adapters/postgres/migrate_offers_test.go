package postgres_test

import (
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// offersMigration is the version of migrations/00020_supplier_offers.sql.
const offersMigration = 20

// TestOffersAreBackfilledFromTheSources: every product bought from a
// supplier before offers existed gets its source as its one linked offer
// (today's routing kept); own stock gets none.
func TestOffersAreBackfilledFromTheSources(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	supplied, err := domain.NewProduct(domain.ProductSnapshot{
		SKU: "kg-game", Name: "Game", Platform: "Steam", Region: "Region free", Price: domain.MustMoney("12.99", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "kinguin", SupplierProductID: "kg-game", Cost: domain.MustMoney("10.50", "EUR")},
		Stock:  7, Active: true, UpdatedAt: t0,
	})
	if err != nil {
		t.Fatal(err)
	}
	own, err := domain.NewProduct(domain.ProductSnapshot{SKU: "own-game", Name: "Own", Price: domain.MustMoney("5.00", "EUR"),
		Source: domain.ProductSource{Kind: domain.SourceOwnStock}, Active: true})
	if err != nil {
		t.Fatal(err)
	}
	migrateDownTo(t, db, offersMigration-1)
	// Stored as the products of that schema were (no later column).
	for _, p := range []*domain.Product{supplied, own} {
		s := p.Snapshot()
		var cost, currency any
		if !s.Source.Cost.Currency().IsZero() {
			cost, currency = s.Source.Cost.Amount().String(), s.Source.Cost.Currency().String()
		}
		if _, err := db.ExecContext(t.Context(), `INSERT INTO products (sku, name, platform, region, price_amount, currency,
			source_kind, supplier, supplier_product_id, cost_amount, cost_currency, stock, active, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			s.SKU, s.Name, s.Platform, s.Region, s.Price.Amount().String(), s.Price.Currency().String(), s.Source.Kind.String(),
			s.Source.Supplier, s.Source.SupplierProductID, cost, currency, s.Stock, s.Active, t0); err != nil {
			t.Fatal(err)
		}
	}
	if err := postgres.Migrate(t.Context(), db.DB, postgres.DirectionUp); err != nil {
		t.Fatal(err)
	}
	offers := postgres.NewOffers(db)
	linked, err := offers.Linked(t.Context(), "kg-game")
	if err != nil {
		t.Fatal(err)
	}
	if len(linked) != 1 || linked[0].Ref() != (domain.OfferRef{Supplier: "kinguin", SupplierProductID: "kg-game"}) ||
		!linked[0].Cost.Equal(domain.MustMoney("10.50", "EUR")) || linked[0].Stock != 7 || linked[0].Region != "Region free" {
		t.Fatalf("kg-game's offers after the backfill = %+v, want its Kinguin source", linked)
	}
	if none, err := offers.Linked(t.Context(), "own-game"); err != nil || len(none) != 0 {
		t.Fatalf("own-game's offers = %+v, %v; want none", none, err)
	}
}
