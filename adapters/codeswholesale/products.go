package codeswholesale

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// product is the part of CodesWholesale's product object keyward uses.
type product struct {
	ProductID string   `json:"productId"`
	Name      string   `json:"name"`
	Platform  string   `json:"platform"`
	Quantity  int      `json:"quantity"`
	Regions   []string `json:"regions"`
	Prices    []struct {
		Value float64 `json:"value"`
		From  int     `json:"from"`
		To    *int    `json:"to"`
	} `json:"prices"`
}

type productsPage struct {
	Items             []json.RawMessage `json:"items"`
	ContinuationToken string            `json:"continuationToken"`
}

// cursor is our cursor over CodesWholesale's pages: its continuation token
// (the page) and how many products of that page were returned already.
// CodesWholesale takes no page size, so a page larger than the caller's
// limit is handed out in parts, the page read again for each.
type cursor struct {
	Token string `json:"t"`
	Skip  int    `json:"s,omitempty"`
}

const cursorPrefix = "cw1."

func (c cursor) String() string {
	js, _ := json.Marshal(c)
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(js)
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	raw, ok := strings.CutPrefix(s, cursorPrefix)
	if !ok {
		return c, errors.New("not a codeswholesale cursor")
	}
	js, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || json.Unmarshal(js, &c) != nil || c.Token == "" || c.Skip < 0 {
		return cursor{}, errors.New("not a codeswholesale cursor")
	}
	return c, nil
}

// Products returns one page of GET /v3/products (updatedSince as RFC
// 3339), at most q.Limit products of it; the cursor carries the
// continuation token. Products without an id, a name or a unit price are
// left out (they cannot be ordered).
func (c *Client) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	var cur cursor
	if q.Cursor != "" {
		var err error
		if cur, err = parseCursor(q.Cursor); err != nil {
			return ports.ProductPage{}, fmt.Errorf("codeswholesale products: %w: cursor %q: %v", ports.ErrSupplierPermanent, supplierhttp.Truncate(q.Cursor, 40), err)
		}
	}
	v := url.Values{}
	if !q.UpdatedSince.IsZero() {
		v.Set("updatedSince", q.UpdatedSince.UTC().Format(time.RFC3339))
	}
	if cur.Token != "" && cur.Token != firstPage {
		v.Set("continuationToken", cur.Token)
	}
	var body productsPage
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v3/products", Query: v}, &body); err != nil {
		return ports.ProductPage{}, err
	}
	items := body.Items
	if cur.Skip > len(items) {
		cur.Skip = len(items)
	}
	items = items[cur.Skip:]
	out := ports.ProductPage{}
	if q.Limit > 0 && len(items) > q.Limit {
		items = items[:q.Limit]
		page := cur.Token
		if page == "" {
			page = firstPage
		}
		out.Next = cursor{Token: page, Skip: cur.Skip + q.Limit}.String()
	} else if body.ContinuationToken != "" {
		out.Next = cursor{Token: body.ContinuationToken}.String()
	}
	out.Products = make([]ports.SupplierProduct, 0, len(items))
	for _, raw := range items {
		c.noteUnknown(ctx, "product", raw, productFields)
		var p product
		if err := json.Unmarshal(raw, &p); err != nil {
			c.log.DebugContext(ctx, "codeswholesale product not read", "err", err)
			continue
		}
		sp, err := p.toPort()
		if err != nil {
			c.log.DebugContext(ctx, "codeswholesale product left out", "reason", err)
			continue
		}
		out.Products = append(out.Products, sp)
	}
	return out, nil
}

// firstPage stands for "no continuation token" in a cursor into the first
// page.
const firstPage = "-"

// Product returns GET /v3/products/{productId}; domain.ErrNotFound when
// CodesWholesale no longer sells it (404, or code 20001).
func (c *Client) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return ports.SupplierProduct{}, fmt.Errorf("codeswholesale product %q: %w", id, domain.ErrNotFound)
	}
	var raw json.RawMessage
	err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v3/products/" + url.PathEscape(id)}, &raw)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Code == CodeProductNotFound || ae.Status == 404) {
		return ports.SupplierProduct{}, fmt.Errorf("codeswholesale product %s: %w: %v", id, domain.ErrNotFound, err)
	}
	if err != nil {
		return ports.SupplierProduct{}, err
	}
	c.noteUnknown(ctx, "product", raw, productFields)
	var p product
	if err := json.Unmarshal(raw, &p); err != nil {
		return ports.SupplierProduct{}, fmt.Errorf("codeswholesale product %s: %w: %v", id, ports.ErrSupplierTemporary, err)
	}
	sp, err := p.toPort()
	if err != nil {
		return ports.SupplierProduct{}, fmt.Errorf("codeswholesale product %s: %w: %v", id, ports.ErrSupplierTemporary, err)
	}
	return sp, nil
}

// unitPrice is the price of one key: the tier that starts at 1 (else the
// one that starts lowest).
func (p product) unitPrice() (float64, bool) {
	best, from := 0.0, math.MaxInt
	for _, t := range p.Prices {
		if t.Value > 0 && t.From < from {
			best, from = t.Value, t.From
		}
	}
	return best, best > 0
}

// toPort maps a product; prices are EUR floats, rounded up to the cent so
// that the price we offer when ordering is never below CodesWholesale's.
// Regions are joined (WORLDWIDE, EU ...); CodesWholesale does not say when
// a product changed, so UpdatedAt is zero.
func (p product) toPort() (ports.SupplierProduct, error) {
	price, ok := p.unitPrice()
	if p.ProductID == "" || strings.TrimSpace(p.Name) == "" || !ok {
		return ports.SupplierProduct{}, fmt.Errorf("product %q lacks an id, a name or a unit price", p.ProductID)
	}
	cost, err := domain.MoneyFromDecimal(decimal.NewFromFloat(price).RoundCeil(2), domain.EUR)
	if err != nil {
		return ports.SupplierProduct{}, fmt.Errorf("product %s price: %w", p.ProductID, err)
	}
	return ports.SupplierProduct{
		ID: p.ProductID, Name: strings.TrimSpace(p.Name), Platform: p.Platform, Region: strings.Join(p.Regions, ", "),
		Cost: cost, Qty: max(p.Quantity, 0),
	}, nil
}
