package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/sqlmark"
	"github.com/keyward/keyward/ports"
)

// Offers is a ports.OfferRepository on PostgreSQL: supplier_offers and
// product_offers (migration 00020).
type Offers struct{ db *sqlx.DB }

var _ ports.OfferRepository = (*Offers)(nil)

// NewOffers returns the repository.
func NewOffers(db *sqlx.DB) *Offers { return &Offers{db: db} }

type offerRow struct {
	Supplier          string          `db:"supplier"`
	SupplierProductID string          `db:"supplier_product_id"`
	Name              string          `db:"name"`
	CostAmount        decimal.Decimal `db:"cost_amount"`
	CostCurrency      string          `db:"cost_currency"`
	Stock             int             `db:"stock"`
	Region            string          `db:"region"`
	Platform          string          `db:"platform"`
	Preorder          bool            `db:"preorder"`
	UpdatedAt         sql.NullTime    `db:"updated_at"`
}

const offerColumns = `supplier, supplier_product_id, name, cost_amount, cost_currency, stock, region, platform, preorder, updated_at`

func offerFromRow(r offerRow) (domain.Offer, error) {
	cost, err := money(r.CostAmount, r.CostCurrency)
	if err != nil {
		return domain.Offer{}, err
	}
	o := domain.Offer{
		Supplier: r.Supplier, SupplierProductID: r.SupplierProductID, Name: r.Name, Cost: cost, Stock: r.Stock,
		Region: r.Region, Platform: r.Platform, Preorder: r.Preorder,
	}
	if r.UpdatedAt.Valid {
		o.UpdatedAt = r.UpdatedAt.Time.UTC()
	}
	return o, nil
}

func offersFromRows(rows []offerRow) ([]domain.Offer, error) {
	out := make([]domain.Offer, 0, len(rows))
	for _, r := range rows {
		o, err := offerFromRow(r)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Upsert inserts or replaces offers in one statement (rows as arrays).
func (s *Offers) Upsert(ctx context.Context, offers ...domain.Offer) error {
	if len(offers) == 0 {
		return nil
	}
	var sup, id, name, cost, cur, region, platform []string
	var updated []sql.NullString
	var stock []int64
	var pre []bool
	for _, o := range offers {
		if err := o.Validate(); err != nil {
			return err
		}
		sup, id, name = append(sup, o.Supplier), append(id, o.SupplierProductID), append(name, o.Name)
		cost, cur = append(cost, o.Cost.Amount().String()), append(cur, o.Cost.Currency().String())
		region, platform = append(region, o.Region), append(platform, o.Platform)
		stock, pre = append(stock, int64(o.Stock)), append(pre, o.Preorder)
		updated = append(updated, sql.NullString{String: o.UpdatedAt.UTC().Format(time.RFC3339Nano), Valid: !o.UpdatedAt.IsZero()})
	}
	if _, err := ext(ctx, s.db).ExecContext(ctx, `INSERT INTO supplier_offers (`+offerColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::text[], $6::integer[], $7::text[],
			$8::text[], $9::boolean[], $10::timestamptz[])
		ON CONFLICT (supplier, supplier_product_id) DO UPDATE SET name = EXCLUDED.name, cost_amount = EXCLUDED.cost_amount,
			cost_currency = EXCLUDED.cost_currency, stock = EXCLUDED.stock, region = EXCLUDED.region,
			platform = EXCLUDED.platform, preorder = EXCLUDED.preorder, updated_at = EXCLUDED.updated_at
		WHERE (supplier_offers.name, supplier_offers.cost_amount, supplier_offers.cost_currency, supplier_offers.stock,
			supplier_offers.region, supplier_offers.platform, supplier_offers.preorder, supplier_offers.updated_at)
			IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.cost_amount, EXCLUDED.cost_currency, EXCLUDED.stock,
			EXCLUDED.region, EXCLUDED.platform, EXCLUDED.preorder, EXCLUDED.updated_at)`,
		pq.Array(sup), pq.Array(id), pq.Array(name), pq.Array(cost), pq.Array(cur), pq.Array(stock), pq.Array(region),
		pq.Array(platform), pq.Array(pre), pq.Array(updated)); err != nil {
		return fmt.Errorf("upsert %d offers (first %s): %w", len(offers), offers[0].Ref(), translate(err))
	}
	return nil
}

// Get returns one offer or domain.ErrNotFound.
func (s *Offers) Get(ctx context.Context, ref domain.OfferRef) (domain.Offer, error) {
	var row offerRow
	if err := sqlx.GetContext(ctx, ext(ctx, s.db), &row, `SELECT `+offerColumns+` FROM supplier_offers
		WHERE supplier = $1 AND supplier_product_id = $2`, ref.Supplier, ref.SupplierProductID); err != nil {
		return domain.Offer{}, fmt.Errorf("offer %s: %w", ref, translate(err))
	}
	return offerFromRow(row)
}

// List returns up to limit offers by supplier then product id, after after.
func (s *Offers) List(ctx context.Context, after domain.OfferRef, limit int) ([]domain.Offer, error) {
	if limit <= 0 {
		limit = 1000
	}
	var rows []offerRow
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &rows, `SELECT `+offerColumns+` FROM supplier_offers
		WHERE (supplier, supplier_product_id) > ($1, $2) ORDER BY supplier, supplier_product_id LIMIT $3`,
		after.Supplier, after.SupplierProductID, limit); err != nil {
		return nil, fmt.Errorf("list offers: %w", translate(err))
	}
	return offersFromRows(rows)
}

// Link adds links in one statement; those that exist are left alone.
func (s *Offers) Link(ctx context.Context, links ...ports.OfferLink) error {
	if len(links) == 0 {
		return nil
	}
	var sku, sup, id []string
	for _, l := range links {
		sku, sup, id = append(sku, l.SKU), append(sup, l.Offer.Supplier), append(id, l.Offer.SupplierProductID)
	}
	if _, err := ext(ctx, s.db).ExecContext(ctx, sqlmark.SendNow(`INSERT INTO product_offers (sku, supplier, supplier_product_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING`),
		pq.Array(sku), pq.Array(sup), pq.Array(id)); err != nil {
		return fmt.Errorf("link %d offers (first %s to %s): %w", len(links), links[0].Offer, links[0].SKU, translateLink(err))
	}
	return nil
}

// SetLinks replaces the product's links in one transaction.
func (s *Offers) SetLinks(ctx context.Context, sku string, refs []domain.OfferRef) error {
	var sup, id []string
	for _, r := range refs {
		sup, id = append(sup, r.Supplier), append(id, r.SupplierProductID)
	}
	return withTx(ctx, s.db, func(tx *sqlx.Tx) error {
		var found bool
		if err := tx.GetContext(ctx, &found, `SELECT true FROM products WHERE sku = $1 FOR UPDATE`, sku); err != nil {
			return fmt.Errorf("product %q: %w", sku, translate(err))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM product_offers WHERE sku = $1`, sku); err != nil {
			return fmt.Errorf("unlink offers of %s: %w", sku, translate(err))
		}
		if _, err := tx.ExecContext(ctx, sqlmark.SendNow(`INSERT INTO product_offers (sku, supplier, supplier_product_id)
			SELECT $1, * FROM unnest($2::text[], $3::text[]) ON CONFLICT DO NOTHING`),
			sku, pq.Array(sup), pq.Array(id)); err != nil {
			return fmt.Errorf("link offers to %s: %w", sku, translateLink(err))
		}
		return nil
	})
}

// translateLink reads a foreign key violation as a missing product or offer.
func translateLink(err error) error {
	if e := pq.As(err, pqerror.ForeignKeyViolation); e != nil {
		return fmt.Errorf("%w: %s", domain.ErrNotFound, e.Detail)
	}
	return translate(err)
}

// Linked returns the product's offers, cheapest first.
func (s *Offers) Linked(ctx context.Context, sku string) ([]domain.Offer, error) {
	var rows []offerRow
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &rows, `SELECT o.supplier, o.supplier_product_id, o.name, o.cost_amount,
			o.cost_currency, o.stock, o.region, o.platform, o.preorder, o.updated_at
		FROM product_offers l JOIN supplier_offers o USING (supplier, supplier_product_id)
		WHERE l.sku = $1`, sku); err != nil {
		return nil, fmt.Errorf("offers of %s: %w", sku, translate(err))
	}
	out, err := offersFromRows(rows)
	if err != nil {
		return nil, err
	}
	domain.SortOffersByCost(out)
	return out, nil
}

// LinkedTo returns the skus linked to any of refs, in one statement.
func (s *Offers) LinkedTo(ctx context.Context, refs []domain.OfferRef) ([]string, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	var sup, id []string
	for _, r := range refs {
		sup, id = append(sup, r.Supplier), append(id, r.SupplierProductID)
	}
	var out []string
	if err := sqlx.SelectContext(ctx, ext(ctx, s.db), &out, `SELECT DISTINCT l.sku FROM product_offers l
		JOIN unnest($1::text[], $2::text[]) AS r(supplier, supplier_product_id) USING (supplier, supplier_product_id)`,
		pq.Array(sup), pq.Array(id)); err != nil {
		return nil, fmt.Errorf("products linked to %d offers: %w", len(refs), translate(err))
	}
	return out, nil
}
