package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jmoiron/sqlx"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Catalog is a ports.CatalogRepository on PostgreSQL.
type Catalog struct{ db *sqlx.DB }

var _ ports.CatalogRepository = (*Catalog)(nil)

// NewCatalog returns the repository.
func NewCatalog(db *sqlx.DB) *Catalog { return &Catalog{db: db} }

// productRow is a row of products.
type productRow struct {
	SKU               string              `db:"sku"`
	Name              string              `db:"name"`
	Platform          string              `db:"platform"`
	Region            string              `db:"region"`
	PriceAmount       decimal.Decimal     `db:"price_amount"`
	Currency          string              `db:"currency"`
	SourceKind        string              `db:"source_kind"`
	Supplier          string              `db:"supplier"`
	SupplierProductID string              `db:"supplier_product_id"`
	CostAmount        decimal.NullDecimal `db:"cost_amount"`
	CostCurrency      sql.NullString      `db:"cost_currency"`
	Stock             int                 `db:"stock"`
	Active            bool                `db:"active"`
	UpdatedAt         sql.NullTime        `db:"updated_at"` // NULL: never set
}

const productColumns = `sku, name, platform, region, price_amount, currency, source_kind, supplier,
	supplier_product_id, cost_amount, cost_currency, stock, active, updated_at`

func productToRow(p *domain.Product) productRow {
	s := p.Snapshot()
	r := productRow{
		SKU: s.SKU, Name: s.Name, Platform: s.Platform, Region: s.Region,
		PriceAmount: s.Price.Amount(), Currency: s.Price.Currency().String(),
		SourceKind: s.Source.Kind.String(), Supplier: s.Source.Supplier, SupplierProductID: s.Source.SupplierProductID,
		Stock: s.Stock, Active: s.Active, UpdatedAt: sql.NullTime{Time: s.UpdatedAt, Valid: !s.UpdatedAt.IsZero()},
	}
	r.CostAmount, r.CostCurrency = nullMoney(s.Source.Cost)
	return r
}

func productFromRow(r productRow) (*domain.Product, error) {
	price, err := money(r.PriceAmount, r.Currency)
	if err != nil {
		return nil, err
	}
	kind, err := domain.ParseSourceKind(r.SourceKind)
	if err != nil {
		return nil, err
	}
	cost, err := moneyFromNull(r.CostAmount, r.CostCurrency)
	if err != nil {
		return nil, err
	}
	s := domain.ProductSnapshot{
		SKU: r.SKU, Name: r.Name, Platform: r.Platform, Region: r.Region, Price: price,
		Source: domain.ProductSource{Kind: kind, Supplier: r.Supplier, SupplierProductID: r.SupplierProductID, Cost: cost},
		Stock:  r.Stock, Active: r.Active,
	}
	if r.UpdatedAt.Valid {
		s.UpdatedAt = r.UpdatedAt.Time.UTC()
	}
	return domain.NewProduct(s)
}

// Upsert inserts or replaces products by sku, all in one transaction.
func (c *Catalog) Upsert(ctx context.Context, ps ...*domain.Product) error {
	return withTx(ctx, c.db, func(tx *sqlx.Tx) error {
		for _, p := range ps {
			if _, err := tx.NamedExecContext(ctx, `INSERT INTO products (`+productColumns+`) VALUES (:sku, :name,
				:platform, :region, :price_amount, :currency, :source_kind, :supplier, :supplier_product_id,
				:cost_amount, :cost_currency, :stock, :active, :updated_at)
				ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, platform = EXCLUDED.platform,
				region = EXCLUDED.region, price_amount = EXCLUDED.price_amount, currency = EXCLUDED.currency,
				source_kind = EXCLUDED.source_kind, supplier = EXCLUDED.supplier,
				supplier_product_id = EXCLUDED.supplier_product_id, cost_amount = EXCLUDED.cost_amount,
				cost_currency = EXCLUDED.cost_currency, stock = EXCLUDED.stock, active = EXCLUDED.active,
				updated_at = EXCLUDED.updated_at`, productToRow(p)); err != nil {
				return fmt.Errorf("upsert product %s: %w", p.SKU(), translate(err))
			}
		}
		return nil
	})
}

// Get returns the product or domain.ErrNotFound.
func (c *Catalog) Get(ctx context.Context, sku string) (*domain.Product, error) {
	var row productRow
	if err := sqlx.GetContext(ctx, ext(ctx, c.db), &row, `SELECT `+productColumns+` FROM products WHERE sku = $1`, sku); err != nil {
		return nil, fmt.Errorf("product %q: %w", sku, translate(err))
	}
	return productFromRow(row)
}

// List returns up to limit products by sku after afterSKU; a limit of 0
// or less means all.
func (c *Catalog) List(ctx context.Context, afterSKU string, limit int) ([]*domain.Product, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = limit
	}
	var rows []productRow
	if err := sqlx.SelectContext(ctx, ext(ctx, c.db), &rows, `SELECT `+productColumns+` FROM products
		WHERE sku > $1 ORDER BY sku LIMIT $2`, afterSKU, lim); err != nil {
		return nil, fmt.Errorf("list products: %w", translate(err))
	}
	out := make([]*domain.Product, 0, len(rows))
	for _, row := range rows {
		p, err := productFromRow(row)
		if err != nil {
			return nil, fmt.Errorf("read product %s: %w", row.SKU, err)
		}
		out = append(out, p)
	}
	return out, nil
}
