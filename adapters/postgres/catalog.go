package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
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
	PricePinned       bool                `db:"price_pinned"`
	Preorder          bool                `db:"preorder"`
	ReleaseDate       sql.NullTime        `db:"release_date"` // NULL: none
}

const productColumns = `sku, name, platform, region, price_amount, currency, source_kind, supplier,
	supplier_product_id, cost_amount, cost_currency, stock, active, updated_at, price_pinned, preorder, release_date`

func productToRow(p *domain.Product) productRow {
	s := p.Snapshot()
	r := productRow{
		SKU: s.SKU, Name: s.Name, Platform: s.Platform, Region: s.Region,
		PriceAmount: s.Price.Amount(), Currency: s.Price.Currency().String(),
		SourceKind: s.Source.Kind.String(), Supplier: s.Source.Supplier, SupplierProductID: s.Source.SupplierProductID,
		Stock: s.Stock, Active: s.Active, UpdatedAt: sql.NullTime{Time: s.UpdatedAt, Valid: !s.UpdatedAt.IsZero()},
		PricePinned: s.PricePinned, Preorder: s.Preorder,
		ReleaseDate: sql.NullTime{Time: s.ReleaseDate, Valid: !s.ReleaseDate.IsZero()},
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
		Stock:  r.Stock, Active: r.Active, PricePinned: r.PricePinned, Preorder: r.Preorder,
	}
	if r.UpdatedAt.Valid {
		s.UpdatedAt = r.UpdatedAt.Time.UTC()
	}
	if r.ReleaseDate.Valid {
		s.ReleaseDate = domain.ReleaseDay(r.ReleaseDate.Time)
	}
	return domain.NewProduct(s)
}

// Upsert inserts or replaces products by sku in one statement (the rows
// travel as arrays), so a sync writes a page per round trip. A row whose
// values would not change is left alone, its updated_at included.
func (c *Catalog) Upsert(ctx context.Context, ps ...*domain.Product) error {
	if len(ps) == 0 {
		return nil
	}
	var a productArrays
	for _, p := range ps {
		a.add(productToRow(p))
	}
	if _, err := ext(ctx, c.db).ExecContext(ctx, `INSERT INTO products (`+productColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::numeric[], $6::text[], $7::text[],
			$8::text[], $9::text[], $10::numeric[], $11::text[], $12::integer[], $13::boolean[], $14::timestamptz[], $15::boolean[], $16::boolean[], $17::date[])
		ON CONFLICT (sku) DO UPDATE SET name = EXCLUDED.name, platform = EXCLUDED.platform,
			region = EXCLUDED.region, price_amount = EXCLUDED.price_amount, currency = EXCLUDED.currency,
			source_kind = EXCLUDED.source_kind, supplier = EXCLUDED.supplier,
			supplier_product_id = EXCLUDED.supplier_product_id, cost_amount = EXCLUDED.cost_amount,
			cost_currency = EXCLUDED.cost_currency, stock = EXCLUDED.stock, active = EXCLUDED.active,
			updated_at = EXCLUDED.updated_at, price_pinned = EXCLUDED.price_pinned,
			preorder = EXCLUDED.preorder, release_date = EXCLUDED.release_date
		WHERE (products.name, products.platform, products.region, products.price_amount, products.currency,
			products.source_kind, products.supplier, products.supplier_product_id, products.cost_amount,
			products.cost_currency, products.stock, products.active, products.updated_at, products.price_pinned,
			products.preorder, products.release_date)
			IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.platform, EXCLUDED.region, EXCLUDED.price_amount, EXCLUDED.currency,
			EXCLUDED.source_kind, EXCLUDED.supplier, EXCLUDED.supplier_product_id, EXCLUDED.cost_amount,
			EXCLUDED.cost_currency, EXCLUDED.stock, EXCLUDED.active, EXCLUDED.updated_at, EXCLUDED.price_pinned,
			EXCLUDED.preorder, EXCLUDED.release_date)`,
		a.args()...); err != nil {
		return fmt.Errorf("upsert %d products (first %s): %w", len(ps), ps[0].SKU(), translate(err))
	}
	return nil
}

// productArrays are product rows by column, for unnest.
type productArrays struct {
	sku, name, platform, region, price, currency, kind, supplier, supplierID []string
	cost, costCurrency, updated, release                                     []sql.NullString
	stock                                                                    []int64
	active, pinned, preorder                                                 []bool
}

func (a *productArrays) add(r productRow) {
	a.sku, a.name, a.platform, a.region = append(a.sku, r.SKU), append(a.name, r.Name), append(a.platform, r.Platform), append(a.region, r.Region)
	a.price, a.currency = append(a.price, r.PriceAmount.String()), append(a.currency, r.Currency)
	a.kind, a.supplier, a.supplierID = append(a.kind, r.SourceKind), append(a.supplier, r.Supplier), append(a.supplierID, r.SupplierProductID)
	a.cost = append(a.cost, sql.NullString{String: r.CostAmount.Decimal.String(), Valid: r.CostAmount.Valid})
	a.costCurrency = append(a.costCurrency, r.CostCurrency)
	a.updated = append(a.updated, sql.NullString{String: r.UpdatedAt.Time.UTC().Format(time.RFC3339Nano), Valid: r.UpdatedAt.Valid})
	a.stock, a.active, a.pinned = append(a.stock, int64(r.Stock)), append(a.active, r.Active), append(a.pinned, r.PricePinned)
	a.preorder = append(a.preorder, r.Preorder)
	a.release = append(a.release, sql.NullString{String: r.ReleaseDate.Time.UTC().Format(domain.DateLayout), Valid: r.ReleaseDate.Valid})
}

func (a *productArrays) args() []any {
	return []any{pq.Array(a.sku), pq.Array(a.name), pq.Array(a.platform), pq.Array(a.region), pq.Array(a.price),
		pq.Array(a.currency), pq.Array(a.kind), pq.Array(a.supplier), pq.Array(a.supplierID), pq.Array(a.cost),
		pq.Array(a.costCurrency), pq.Array(a.stock), pq.Array(a.active), pq.Array(a.updated), pq.Array(a.pinned),
		pq.Array(a.preorder), pq.Array(a.release)}
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
	return productsFromRows(rows)
}

func productsFromRows(rows []productRow) ([]*domain.Product, error) {
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

// GetMany returns the products of skus that exist.
func (c *Catalog) GetMany(ctx context.Context, skus []string) ([]*domain.Product, error) {
	if len(skus) == 0 {
		return nil, nil
	}
	var rows []productRow
	if err := sqlx.SelectContext(ctx, ext(ctx, c.db), &rows, `SELECT `+productColumns+` FROM products
		WHERE sku = ANY($1::text[])`, pq.Array(skus)); err != nil {
		return nil, fmt.Errorf("read %d products: %w", len(skus), translate(err))
	}
	return productsFromRows(rows)
}

// likeEscaper makes a search term match itself in LIKE.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// Find returns up to q.Limit products by sku after q.After matching q.
// The name search is ILIKE on a trigram index (migration 00010), the
// platform a lower(platform) index, in stock a partial index.
func (c *Catalog) Find(ctx context.Context, q ports.CatalogQuery) ([]*domain.Product, error) {
	where, args := []string{"sku > $1"}, []any{q.After}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	if q.Search != "" {
		where = append(where, "name ILIKE "+arg("%"+likeEscaper.Replace(q.Search)+"%"))
	}
	if q.Platform != "" {
		where = append(where, "lower(platform) = lower("+arg(q.Platform)+")")
	}
	if q.InStock != nil {
		cond := "(active AND stock > 0)"
		if !*q.InStock {
			cond = "NOT " + cond
		}
		where = append(where, cond)
	}
	var lim any
	if q.Limit > 0 {
		lim = q.Limit
	}
	var rows []productRow
	if err := sqlx.SelectContext(ctx, ext(ctx, c.db), &rows, `SELECT `+productColumns+` FROM products WHERE `+
		strings.Join(where, " AND ")+` ORDER BY sku LIMIT `+arg(lim), args...); err != nil {
		return nil, fmt.Errorf("find products: %w", translate(err))
	}
	return productsFromRows(rows)
}
