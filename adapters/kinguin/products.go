package kinguin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// product is the part of Kinguin's product object keyward uses.
type product struct {
	KinguinID           int     `json:"kinguinId"`
	ProductID           string  `json:"productId"`
	Name                string  `json:"name"`
	Platform            string  `json:"platform"`
	RegionalLimitations string  `json:"regionalLimitations"`
	Price               float64 `json:"price"`
	Qty                 int     `json:"qty"`
	UpdatedAt           string  `json:"updatedAt"`
	// IsPreorder and ReleaseDate (Y-m-d) say a game sold before its
	// release; a date in another form is taken as unknown.
	IsPreorder  bool            `json:"isPreorder"`
	ReleaseDate json.RawMessage `json:"releaseDate"`
}

type productsPage struct {
	Results   []product `json:"results"`
	ItemCount int       `json:"item_count"`
}

// updatedSinceLayout is one of the formats updatedSince takes (UTC).
const updatedSinceLayout = "2006-01-02T15:04:05"

// Products returns one page of GET /v1/products, sorted by kinguinId so
// that pages do not shift while they are read; the cursor is the page
// number. Products without a productId or a price are left out (they
// cannot be ordered through /v2/order).
func (c *Client) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	page := 1
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 1 {
			return ports.ProductPage{}, fmt.Errorf("kinguin products: %w: cursor %q is not a page number", ports.ErrSupplierPermanent, q.Cursor)
		}
		page = n
	}
	limit := q.Limit
	if limit <= 0 || limit > c.cfg.PageSize {
		limit = c.cfg.PageSize
	}
	v := url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}, "sortBy": {"kinguinId"}, "sortType": {"asc"}}
	if !q.UpdatedSince.IsZero() {
		v.Set("updatedSince", q.UpdatedSince.UTC().Format(updatedSinceLayout))
	}
	var body productsPage
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v1/products", Query: v}, &body); err != nil {
		return ports.ProductPage{}, err
	}
	out := ports.ProductPage{Products: make([]ports.SupplierProduct, 0, len(body.Results))}
	for _, p := range body.Results {
		sp, err := p.toPort()
		if err != nil {
			continue
		}
		out.Products = append(out.Products, sp)
	}
	// No page count is returned: pages = ceil(item_count/limit).
	if len(body.Results) > 0 && page*limit < body.ItemCount {
		out.Next = strconv.Itoa(page + 1)
	}
	return out, nil
}

// Product returns GET /v2/products/{productId}; domain.ErrNotFound when
// Kinguin no longer sells it (404 or ProductUnavailable).
func (c *Client) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return ports.SupplierProduct{}, fmt.Errorf("kinguin product %q: %w", id, domain.ErrNotFound)
	}
	var p product
	err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v2/products/" + url.PathEscape(id)}, &p)
	var ae *APIError
	if errors.As(err, &ae) && ae.Kind == "ProductUnavailable" {
		return ports.SupplierProduct{}, fmt.Errorf("kinguin product %s: %w: %v", id, domain.ErrNotFound, err)
	}
	if err != nil {
		return ports.SupplierProduct{}, err
	}
	sp, err := p.toPort()
	if err != nil {
		return ports.SupplierProduct{}, fmt.Errorf("kinguin product %s: %w: %v", id, ports.ErrSupplierTemporary, err)
	}
	return sp, nil
}

// toPort maps a product; prices are EUR floats, rounded up to the cent so
// that the price we offer when ordering is never below Kinguin's.
func (p product) toPort() (ports.SupplierProduct, error) {
	if p.ProductID == "" || p.Name == "" || p.Price <= 0 {
		return ports.SupplierProduct{}, fmt.Errorf("product %d lacks an id, a name or a price", p.KinguinID)
	}
	cost, err := domain.MoneyFromDecimal(decimal.NewFromFloat(p.Price).RoundCeil(2), domain.EUR)
	if err != nil {
		return ports.SupplierProduct{}, fmt.Errorf("product %s price: %w", p.ProductID, err)
	}
	updated, _ := time.Parse(time.RFC3339, p.UpdatedAt) // unknown format: zero, "unknown"
	return ports.SupplierProduct{
		ID: p.ProductID, Name: p.Name, Platform: p.Platform, Region: p.RegionalLimitations,
		Cost: cost, Qty: max(p.Qty, 0), UpdatedAt: updated.UTC(),
		Preorder: p.IsPreorder, ReleaseDate: parseDate(p.ReleaseDate),
	}, nil
}
