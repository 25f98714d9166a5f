package codeswholesale

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// order is the part of CodesWholesale's order object keyward uses.
type order struct {
	OrderID       string `json:"orderId"`
	ClientOrderID string `json:"clientOrderId"`
	Status        string `json:"status"`
	Products      []struct {
		ProductID string            `json:"productId"`
		Codes     []json.RawMessage `json:"codes"`
	} `json:"products"`
}

// code is one code of an order: a key, an image of one, or a pre-order's
// promise of one.
type code struct {
	CodeID   string `json:"codeId"`
	CodeType string `json:"codeType"`
	Label    string `json:"status"`
	Code     string `json:"code"`
	Filename string `json:"filename"`
}

// CodesWholesale's order statuses as seen (Fulfilling, Completed) and as
// watched for by others (Cancelled, Failed); compared case-insensitively.
const (
	statusFulfilling = "fulfilling"
	statusCompleted  = "completed"
)

// purchaseStatus maps an order status onto keyward's; one it does not
// know is pending (and logged): keys are asked for again, never assumed.
func (c *Client) purchaseStatus(ctx context.Context, s string) ports.PurchaseStatus {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case statusCompleted:
		return ports.PurchaseCompleted
	case "cancelled", "canceled", "failed":
		return ports.PurchaseCanceled
	case "refunded":
		return ports.PurchaseRefunded
	case statusFulfilling:
	default:
		c.noteValue(ctx, "order.status", s)
	}
	return ports.PurchasePending
}

func (c *Client) toPort(ctx context.Context, o order) ports.SupplierOrder {
	return ports.SupplierOrder{ID: o.OrderID, ExternalID: o.ClientOrderID, Status: c.purchaseStatus(ctx, o.Status)}
}

type orderLine struct {
	ProductID string      `json:"productId"`
	Quantity  int         `json:"quantity"`
	Price     json.Number `json:"price"`
}

type orderRequest struct {
	AllowPreOrder bool        `json:"allowPreOrder"`
	OrderID       string      `json:"orderId"`
	Products      []orderLine `json:"products"`
}

// PlaceOrder buys with POST /v3/orders, r.ExternalID as orderId (echoed
// as clientOrderId) and r.Price as the price to validate, pre-orders
// allowed. CodesWholesale documents no de-duplication, so the order is
// first looked up in the order history by r.ExternalID (found, it is
// returned), and the product's current price is checked against r.Price
// (a higher one is refused here: what CodesWholesale does with a price
// below its own is unknown). The POST is made once per call and never
// repeated in it: after a timeout, a 5xx or an answer without an order,
// the history is searched once more, and an order not found there returns
// ports.ErrSupplierTemporary, so that a later call looks it up again
// before it posts. A refusal (4xx) returns ports.ErrSupplierPermanent,
// unless an earlier POST of this client for the same external id went
// unanswered: that order may exist, so the refusal is temporary too. When
// a lookup fails the outcome is unknown and ports.ErrSupplierTemporary is
// returned; a purchase begun (ports.PurchaseBegun) longer ago than
// Config.History returns ports.ErrPurchaseUnverifiable.
func (c *Client) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	if r.ExternalID == "" || r.ProductID == "" || r.Qty < 1 || r.Price.Amount().Sign() <= 0 {
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %q: %w: external id, product, quantity and price are required", r.ExternalID, ports.ErrSupplierPermanent)
	}
	if r.Price.Currency() != domain.EUR {
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w: CodesWholesale prices are EUR, not %s", r.ExternalID, ports.ErrSupplierPermanent, r.Price.Currency())
	}
	if found, err := c.FindOrder(ctx, r.ExternalID); err == nil {
		c.unclear.Delete(r.ExternalID)
		return found, nil
	} else if errors.Is(err, ports.ErrSupplierPermanent) || errors.Is(err, ports.ErrPurchaseUnverifiable) {
		// Refused (credentials), or too old to look up: either way, no POST.
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w", r.ExternalID, err)
	} else if !errors.Is(err, domain.ErrNotFound) {
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w: cannot tell whether it was bought: %v", r.ExternalID, ports.ErrSupplierTemporary, err)
	}
	p, err := c.Product(ctx, r.ProductID)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w: product %s is no longer sold: %v", r.ExternalID, ports.ErrSupplierPermanent, r.ProductID, err)
	case err != nil:
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w", r.ExternalID, err)
	case p.Cost.Amount().GreaterThan(r.Price.Amount()):
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w: %s costs %s EUR, more than %s EUR: the price rose since the catalog was priced",
			r.ExternalID, ports.ErrSupplierPermanent, r.ProductID, p.Cost, r.Price)
	}
	body := orderRequest{AllowPreOrder: true, OrderID: r.ExternalID,
		Products: []orderLine{{ProductID: r.ProductID, Quantity: r.Qty, Price: json.Number(r.Price.Amount().StringFixed(2))}}}
	var raw json.RawMessage
	err = c.call(ctx, supplierhttp.Request{Method: "POST", Path: "/v3/orders", Body: body, Once: true}, &raw)
	if err == nil {
		var o order
		if jerr := json.Unmarshal(raw, &o); jerr != nil || o.OrderID == "" {
			err = fmt.Errorf("codeswholesale place order %s: %w: the answer holds no order", r.ExternalID, ports.ErrSupplierTemporary)
		} else {
			c.unclear.Delete(r.ExternalID)
			c.noteUnknown(ctx, "order", raw, orderFields)
			if o.ClientOrderID != "" && o.ClientOrderID != r.ExternalID {
				c.log.InfoContext(ctx, "codeswholesale echoed another clientOrderId", "order_id", o.OrderID, "sent", r.ExternalID)
			}
			so := c.toPort(ctx, o)
			so.ExternalID = r.ExternalID
			return so, nil
		}
	}
	if errors.Is(err, ports.ErrSupplierPermanent) || errors.Is(err, domain.ErrNotFound) {
		if _, before := c.unclear.Load(r.ExternalID); before {
			// An earlier POST for this id went unanswered: its order may
			// exist and not be listed yet. Refused now, it still may.
			return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w: refused (%v) after an earlier unanswered order: it may exist; looked up again later",
				r.ExternalID, ports.ErrSupplierTemporary, err)
		}
		// Refused outright: nothing was made.
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w", r.ExternalID, err)
	}
	// A timeout, a 5xx, a lost or empty answer: the order may exist. It is
	// looked up once; not listed (yet), it is never posted again here.
	c.unclear.Store(r.ExternalID, struct{}{})
	lookup := ctx
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		lookup, cancel = context.WithTimeout(context.WithoutCancel(ctx), c.http.Timeout)
		defer cancel()
	}
	found, ferr := c.FindOrder(lookup, r.ExternalID)
	if ferr == nil {
		c.unclear.Delete(r.ExternalID)
		c.log.InfoContext(ctx, "codeswholesale order found by clientOrderId after a failed POST", "order_id", found.ID, "external_id", r.ExternalID)
		return found, nil
	}
	return ports.SupplierOrder{}, fmt.Errorf("codeswholesale place order %s: %w: %v; it may have been bought, and is looked up again before any other order: %v",
		r.ExternalID, ports.ErrSupplierTemporary, err, ferr)
}

// historyLayout is the date format of startFrom and endOn (the official
// SDK's).
const historyLayout = "2006-01-02"

// maxHistoryPages bounds the pages of one history search.
const maxHistoryPages = 100

// FindOrder searches the order history (GET /v3/orders?startFrom=&endOn=,
// following continuationToken) for the order whose clientOrderId is
// externalID. The window starts a day before the purchase was begun when
// the context says (ports.PurchaseBegun), else Config.History back, and
// ends tomorrow. It returns domain.ErrNotFound only when every listed
// order could be read and none matched; a listed order without
// clientOrderId or orderId, a page without items or a repeated
// continuationToken make the answer unknown (ports.ErrSupplierTemporary).
// A purchase begun longer ago than Config.History returns
// ports.ErrPurchaseUnverifiable: its order could no longer be found.
func (c *Client) FindOrder(ctx context.Context, externalID string) (ports.SupplierOrder, error) {
	now := c.cfg.Now().UTC()
	from := now.Add(-c.cfg.History)
	if begun, ok := ports.PurchaseBegun(ctx); ok {
		if begun.Before(from) {
			return ports.SupplierOrder{}, fmt.Errorf("codeswholesale find order %s: %w: its purchase began %s, before the %s of order history searched: an operator must check the CodesWholesale account",
				externalID, ports.ErrPurchaseUnverifiable, begun.UTC().Format(time.RFC3339), c.cfg.History)
		}
		from = begun.UTC().Add(-24 * time.Hour)
	}
	v := url.Values{"startFrom": {from.Format(historyLayout)}, "endOn": {now.Add(24 * time.Hour).Format(historyLayout)}}
	unclear := ""
	seen := map[string]bool{}
	for page := 0; ; page++ {
		items, next, err := c.historyPage(ctx, v)
		if err != nil {
			return ports.SupplierOrder{}, fmt.Errorf("codeswholesale find order %s: %w", externalID, err)
		}
		for _, o := range items {
			switch {
			case o.ClientOrderID == externalID && o.OrderID != "":
				return c.toPort(ctx, o), nil
			case o.ClientOrderID == "" || o.OrderID == "":
				unclear = "a listed order has no clientOrderId or orderId"
			}
		}
		if next == "" {
			break
		}
		if seen[next] || page+1 >= maxHistoryPages {
			return ports.SupplierOrder{}, fmt.Errorf("codeswholesale find order %s: %w: the order history does not end (continuationToken repeated or over %d pages)",
				externalID, ports.ErrSupplierTemporary, maxHistoryPages)
		}
		seen[next] = true
		v.Set("continuationToken", next)
	}
	if unclear != "" {
		c.log.WarnContext(ctx, "codeswholesale order history unclear", "external_id", externalID, "why", unclear)
		return ports.SupplierOrder{}, fmt.Errorf("codeswholesale find order %s: %w: cannot tell whether it was bought: %s", externalID, ports.ErrSupplierTemporary, unclear)
	}
	return ports.SupplierOrder{}, fmt.Errorf("codeswholesale find order %s: %w", externalID, domain.ErrNotFound)
}

// historyPage reads one page of the order history: its orders and the
// continuation token of the next ("" on the last). A page that is not a
// list of orders, or an object without items, is an unknown answer.
func (c *Client) historyPage(ctx context.Context, v url.Values) ([]order, string, error) {
	var raw json.RawMessage
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v3/orders", Query: v}, &raw); err != nil {
		return nil, "", err
	}
	var page struct {
		Items             *[]order `json:"items"`
		ContinuationToken *string  `json:"continuationToken"`
	}
	if err := json.Unmarshal(raw, &page); err != nil {
		// Tolerated: a bare array of orders.
		var items []order
		if aerr := json.Unmarshal(raw, &items); aerr != nil {
			return nil, "", fmt.Errorf("%w: malformed history: %v", ports.ErrSupplierTemporary, err)
		}
		return items, "", nil
	}
	if page.Items == nil {
		return nil, "", fmt.Errorf("%w: a history page without items", ports.ErrSupplierTemporary)
	}
	next := ""
	if page.ContinuationToken != nil {
		next = strings.TrimSpace(*page.ContinuationToken)
	}
	return *page.Items, next, nil
}

// Order returns GET /v3/orders/{orderId}; domain.ErrNotFound for an
// unknown id.
func (c *Client) Order(ctx context.Context, supplierOrderID string) (ports.SupplierOrder, error) {
	o, err := c.order(ctx, supplierOrderID)
	if err != nil {
		return ports.SupplierOrder{}, err
	}
	return c.toPort(ctx, o), nil
}

func (c *Client) order(ctx context.Context, id string) (order, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return order{}, fmt.Errorf("codeswholesale order %q: %w", id, domain.ErrNotFound)
	}
	var raw json.RawMessage
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v3/orders/" + url.PathEscape(id)}, &raw); err != nil {
		return order{}, fmt.Errorf("codeswholesale order %s: %w", id, err)
	}
	c.noteUnknown(ctx, "order", raw, orderFields)
	var o order
	if err := json.Unmarshal(raw, &o); err != nil {
		return order{}, fmt.Errorf("codeswholesale order %s: %w: %v", id, ports.ErrSupplierTemporary, err)
	}
	return o, nil
}

// Keys returns every key of the order once it is Completed. CodesWholesale
// fulfils orders asynchronously: while the order is Fulfilling (or in a
// status keyward does not know) it is read again with backoff for up to
// Config.KeysWait (and no later than a second before the context's
// deadline), then ports.ErrKeysPending is returned. A pre-order code
// (PRE_ORDER) is a key to come after the release: ports.ErrKeysPending.
// An image code arrives as base64, read from GET /v3/codes/{codeId} when
// the order leaves it out. A cancelled or failed order returns
// ports.ErrPurchaseCanceled (with ports.ErrSupplierPermanent).
func (c *Client) Keys(ctx context.Context, supplierOrderID string) ([]ports.SupplierKey, error) {
	deadline := time.Now().Add(c.cfg.KeysWait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-time.Second).Before(deadline) {
		// The caller's deadline comes first: report pending before it.
		deadline = dl.Add(-time.Second)
	}
	for attempt := 0; ; attempt++ {
		o, err := c.order(ctx, supplierOrderID)
		if err != nil {
			return nil, err
		}
		switch st := c.purchaseStatus(ctx, o.Status); {
		case st.Final():
			return nil, fmt.Errorf("codeswholesale keys of %s: %w: %w: the order is %s: retrying buys again only after an operator checks it",
				supplierOrderID, ports.ErrPurchaseCanceled, ports.ErrSupplierPermanent, o.Status)
		case st == ports.PurchaseCompleted:
			return c.codes(ctx, o)
		}
		wait := c.retry.Delay(attempt)
		if time.Until(deadline) < wait {
			return nil, fmt.Errorf("codeswholesale keys of %s: %w: order %s", supplierOrderID, ports.ErrKeysPending, o.Status)
		}
		if err := c.retry.Wait(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// codes reads the keys of a completed order. Errors name codes by id,
// never by content.
func (c *Client) codes(ctx context.Context, o order) (keys []ports.SupplierKey, err error) {
	defer func() {
		if err != nil {
			for _, k := range keys {
				clear(k.Data)
			}
			keys = nil
		}
	}()
	preorders := 0
	for _, p := range o.Products {
		for _, raw := range p.Codes {
			c.noteUnknown(ctx, "code", raw, codeFields)
			var cd code
			if err := json.Unmarshal(raw, &cd); err != nil {
				return keys, fmt.Errorf("codeswholesale keys of %s: %w: a code does not parse", o.OrderID, ports.ErrSupplierTemporary)
			}
			switch c.kind(ctx, cd) {
			case kindPreOrder:
				preorders++
			case kindText:
				k, err := c.content(ctx, o.OrderID, cd)
				if err != nil {
					return keys, err
				}
				keys = append(keys, ports.SupplierKey{ContentType: "text/plain", Data: []byte(k.Code)})
			case kindImage:
				k, err := c.content(ctx, o.OrderID, cd)
				if err != nil {
					return keys, err
				}
				key, err := imageKey(k)
				if err != nil {
					return keys, fmt.Errorf("codeswholesale keys of %s: %w: %v", o.OrderID, ports.ErrSupplierPermanent, err)
				}
				keys = append(keys, key)
			default:
				return keys, fmt.Errorf("codeswholesale keys of %s: %w: code %s is of a type keyward does not know: an operator must check it",
					o.OrderID, ports.ErrSupplierPermanent, cd.CodeID)
			}
		}
	}
	if preorders > 0 {
		// A pre-order's wait; CodesWholesale's release date format is not
		// documented, so no date is read: keyward takes the catalog's.
		return keys, fmt.Errorf("codeswholesale keys of %s: %w: %d pre-ordered, keys come after the release", o.OrderID,
			&ports.ReleasePendingError{Detail: "CodesWholesale pre-ordered code"}, preorders)
	}
	return keys, nil
}

type codeKind int

const (
	kindUnknown codeKind = iota
	kindText
	kindImage
	kindPreOrder
)

// kind reads a code's type: codeType (v3), else the status label (v2);
// both pre-order spellings are taken.
func (c *Client) kind(ctx context.Context, cd code) codeKind {
	switch strings.ToUpper(strings.TrimSpace(cd.CodeType)) {
	case "CODE_TEXT":
		return kindText
	case "CODE_IMAGE":
		return kindImage
	case "PRE_ORDER", "CODE_PREORDER":
		return kindPreOrder
	case "":
	default:
		c.noteValue(ctx, "code.codeType", cd.CodeType)
	}
	switch strings.ToLower(strings.TrimSpace(cd.Label)) {
	case "text code":
		return kindText
	case "image code":
		return kindImage
	case "pre-ordered code":
		return kindPreOrder
	}
	c.noteValue(ctx, "code.status", cd.Label)
	return kindUnknown
}

// content returns the code with its content, read from GET
// /v3/codes/{codeId} when the order left it out.
func (c *Client) content(ctx context.Context, orderID string, cd code) (code, error) {
	if strings.TrimSpace(cd.Code) != "" {
		return cd, nil
	}
	if cd.CodeID == "" || strings.ContainsAny(cd.CodeID, "/?#") {
		return cd, fmt.Errorf("codeswholesale keys of %s: %w: a code has neither content nor id", orderID, ports.ErrSupplierPermanent)
	}
	var full code
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v3/codes/" + url.PathEscape(cd.CodeID)}, &full); err != nil {
		return cd, fmt.Errorf("codeswholesale code %s of %s: %w", cd.CodeID, orderID, err)
	}
	if strings.TrimSpace(full.Code) == "" {
		return cd, fmt.Errorf("codeswholesale keys of %s: %w: code %s is empty", orderID, ports.ErrKeysPending, cd.CodeID)
	}
	if full.Filename == "" {
		full.Filename = cd.Filename
	}
	return full, nil
}

// imageKey decodes an image code's base64; its content type comes from
// the file name, else from the bytes.
func imageKey(cd code) (ports.SupplierKey, error) {
	enc := strings.Join(strings.Fields(cd.Code), "")
	data, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		data, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(enc, "="))
	}
	if err != nil || len(data) == 0 {
		return ports.SupplierKey{}, fmt.Errorf("image code %s is not base64", cd.CodeID)
	}
	ct := mime.TypeByExtension(strings.ToLower(path.Ext(cd.Filename)))
	if ct, _, _ = mime.ParseMediaType(ct); !strings.HasPrefix(ct, "image/") {
		ct = http.DetectContentType(data)
	}
	if !strings.HasPrefix(ct, "image/") {
		clear(data)
		return ports.SupplierKey{}, fmt.Errorf("image code %s is not an image", cd.CodeID)
	}
	return ports.SupplierKey{ContentType: ct, Data: data}, nil
}

// Balance returns the account's current balance in EUR (GET
// /v3/accounts/current), one try.
func (c *Client) Balance(ctx context.Context) (float64, error) {
	var raw json.RawMessage
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v3/accounts/current", Once: true}, &raw); err != nil {
		return 0, err
	}
	var a struct {
		CurrentBalance *float64 `json:"currentBalance"`
	}
	if err := json.Unmarshal(raw, &a); err != nil || a.CurrentBalance == nil {
		return 0, fmt.Errorf("codeswholesale balance: %w: answer has no currentBalance", ports.ErrSupplierTemporary)
	}
	return *a.CurrentBalance, nil
}

// Health returns nil when CodesWholesale answers and the balance can be
// read: the API is reachable and the credentials are accepted.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.Balance(ctx)
	return err
}
