package kinguin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// order is the part of Kinguin's order object keyward uses.
type order struct {
	OrderID         string `json:"orderId"`
	OrderExternalID string `json:"orderExternalId"`
	Status          string `json:"status"`
	TotalQty        int    `json:"totalQty"`
	// IsPreorder and PreorderReleaseDate: an order for a pre-order, its
	// keys released on that day (null or unreadable: unknown).
	IsPreorder          bool            `json:"isPreorder"`
	PreorderReleaseDate json.RawMessage `json:"preorderReleaseDate"`
	Products            []struct {
		IsPreorder  bool            `json:"isPreorder"`
		ReleaseDate json.RawMessage `json:"releaseDate"`
	} `json:"products"`
}

// preorder reports whether the order, or one of its lines, is a pre-order.
func (o order) preorder() bool {
	for _, p := range o.Products {
		if p.IsPreorder {
			return true
		}
	}
	return o.IsPreorder
}

// releaseDate returns the day a pre-order's keys are released: the
// order's preorderReleaseDate, else the first pre-ordered line's
// releaseDate; zero when the order is no pre-order or names no date.
func (o order) releaseDate() time.Time {
	if d := parseDate(o.PreorderReleaseDate); o.IsPreorder && !d.IsZero() {
		return d
	}
	for _, p := range o.Products {
		if d := parseDate(p.ReleaseDate); (p.IsPreorder || o.IsPreorder) && !d.IsZero() {
			return d
		}
	}
	return time.Time{}
}

func (o order) toPort() ports.SupplierOrder {
	return ports.SupplierOrder{ID: o.OrderID, ExternalID: o.OrderExternalID, Status: purchaseStatus(o.Status)}
}

// Kinguin's order statuses.
const (
	statusProcessing = "processing"
	statusCompleted  = "completed"
	statusCanceled   = "canceled"
	statusRefunded   = "refunded"
)

// purchaseStatus maps a Kinguin order status onto keyward's; one it does
// not know (processing among them) is pending.
func purchaseStatus(s string) ports.PurchaseStatus {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case statusCompleted:
		return ports.PurchaseCompleted
	case statusCanceled:
		return ports.PurchaseCanceled
	case statusRefunded:
		return ports.PurchaseRefunded
	}
	return ports.PurchasePending
}

type orderLine struct {
	ProductID string      `json:"productId"`
	Qty       int         `json:"qty"`
	Price     json.Number `json:"price"`
}

type orderRequest struct {
	Products        []orderLine `json:"products"`
	OrderExternalID string      `json:"orderExternalId"`
}

// PlaceOrder sends POST /v2/order with r.ExternalID as orderExternalId and
// r.Price as the most paid per key (any key type: text or image). Every
// request holds the one product of one order item, never more: a
// pre-order is thus always alone in its request, as Kinguin requires,
// and no keyType is sent (pre-orders take none). Kinguin
// does not document its answer to a repeated orderExternalId, so after any
// failed POST the order is looked up by external id before anything else:
// found, it is returned; not found after a retryable failure, the POST is
// tried again (with backoff) within Config.MaxAttempts. A final refusal
// returns ports.ErrSupplierPermanent only once the lookup showed that no
// order exists; when the lookup itself fails the outcome is unknown and
// ports.ErrSupplierTemporary is returned, so the caller looks again later.
func (c *Client) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	if r.ExternalID == "" || r.ProductID == "" || r.Qty < 1 || r.Price.Amount().Sign() <= 0 {
		return ports.SupplierOrder{}, fmt.Errorf("kinguin place order %q: %w: external id, product, quantity and price are required", r.ExternalID, ports.ErrSupplierPermanent)
	}
	if r.Price.Currency() != domain.EUR {
		return ports.SupplierOrder{}, fmt.Errorf("kinguin place order %s: %w: Kinguin prices are EUR, not %s", r.ExternalID, ports.ErrSupplierPermanent, r.Price.Currency())
	}
	body := orderRequest{
		Products:        []orderLine{{ProductID: r.ProductID, Qty: r.Qty, Price: json.Number(r.Price.Amount().StringFixed(2))}},
		OrderExternalID: r.ExternalID,
	}
	var err error
	for attempt := 0; ; attempt++ {
		var o order
		var asked time.Duration
		asked, err = c.try(ctx, supplierhttp.Request{Method: "POST", Path: "/v2/order", Body: body}, &o)
		if err == nil {
			if o.OrderID == "" {
				err = fmt.Errorf("kinguin place order %s: %w: answer has no orderId", r.ExternalID, ports.ErrSupplierTemporary)
			} else {
				return o.toPort(), nil
			}
		}
		if ctx.Err() != nil {
			return ports.SupplierOrder{}, err
		}
		found, ferr := c.FindOrder(ctx, r.ExternalID)
		switch {
		case ferr == nil:
			return found, nil
		case errors.Is(ferr, ports.ErrSupplierPermanent) && errors.Is(err, ports.ErrSupplierPermanent):
			// Both refused outright (a wrong key, say): nothing was made.
			return ports.SupplierOrder{}, fmt.Errorf("kinguin place order %s: %w", r.ExternalID, err)
		case !errors.Is(ferr, domain.ErrNotFound):
			// Unknown outcome: report it as retryable whatever the POST said.
			return ports.SupplierOrder{}, fmt.Errorf("kinguin place order %s: %w: %v; and the lookup by external id failed: %v", r.ExternalID, ports.ErrSupplierTemporary, err, ferr)
		}
		if !errors.Is(err, ports.ErrSupplierTemporary) || attempt+1 >= c.retry.Attempts {
			return ports.SupplierOrder{}, fmt.Errorf("kinguin place order %s: %w", r.ExternalID, err)
		}
		switch perr := c.retry.Pause(ctx, attempt, asked); {
		case errors.Is(perr, supplierhttp.ErrWaitTooLong):
			return ports.SupplierOrder{}, fmt.Errorf("kinguin place order %s: %w", r.ExternalID, err)
		case perr != nil:
			return ports.SupplierOrder{}, errors.Join(err, perr)
		}
	}
}

type ordersPage struct {
	Results   []order `json:"results"`
	ItemCount int     `json:"item_count"`
}

// FindOrder searches GET /v1/order?orderExternalId=; domain.ErrNotFound
// when no order carries externalID.
func (c *Client) FindOrder(ctx context.Context, externalID string) (ports.SupplierOrder, error) {
	var page ordersPage
	v := url.Values{"orderExternalId": {externalID}, "page": {"1"}, "limit": {"25"}}
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v1/order", Query: v}, &page); err != nil {
		return ports.SupplierOrder{}, fmt.Errorf("kinguin find order %s: %w", externalID, err)
	}
	for _, o := range page.Results {
		if o.OrderExternalID == externalID && o.OrderID != "" {
			return o.toPort(), nil
		}
	}
	return ports.SupplierOrder{}, fmt.Errorf("kinguin find order %s: %w", externalID, domain.ErrNotFound)
}

// Order returns GET /v1/order/{orderId}; domain.ErrNotFound for an
// unknown id.
func (c *Client) Order(ctx context.Context, supplierOrderID string) (ports.SupplierOrder, error) {
	o, err := c.order(ctx, supplierOrderID)
	return o.toPort(), err
}

func (c *Client) order(ctx context.Context, id string) (order, error) {
	if id == "" || strings.ContainsAny(id, "/?#") {
		return order{}, fmt.Errorf("kinguin order %q: %w", id, domain.ErrNotFound)
	}
	var o order
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v1/order/" + url.PathEscape(id)}, &o); err != nil {
		return order{}, fmt.Errorf("kinguin order %s: %w", id, err)
	}
	return o, nil
}

// key is one delivered key; serial is the text, or base64 image bytes.
type key struct {
	ID     string `json:"id"`
	Serial string `json:"serial"`
	Type   string `json:"type"`
}

// Keys returns every key of the order once all are delivered, reading
// GET /v2/order/{id}/keys page by page until a short page. While fewer
// keys than the order's quantity are out it returns ports.ErrKeysPending
// (and no keys); a canceled or refunded order returns
// ports.ErrPurchaseCanceled (with ports.ErrSupplierPermanent). Image keys
// are decoded from base64 and keep their content type.
func (c *Client) Keys(ctx context.Context, supplierOrderID string) ([]ports.SupplierKey, error) {
	o, err := c.order(ctx, supplierOrderID)
	if err != nil {
		return nil, err
	}
	if purchaseStatus(o.Status).Final() {
		return nil, fmt.Errorf("kinguin keys of %s: %w: %w: the order is %s: retrying buys again only after an operator checks it", supplierOrderID, ports.ErrPurchaseCanceled, ports.ErrSupplierPermanent, o.Status)
	}
	var raw []key
	limit := c.cfg.PageSize
	for page := 1; ; page++ {
		var batch []key
		v := url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}}
		if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v2/order/" + url.PathEscape(supplierOrderID) + "/keys", Query: v}, &batch); err != nil {
			if _, dated := ports.ReleaseDateOf(err); !dated && errors.Is(err, ports.ErrKeysPending) && !o.releaseDate().IsZero() {
				// ProcessingPreorder without a date of its own: the order's.
				return nil, fmt.Errorf("kinguin keys of %s: %w: %v", supplierOrderID, &ports.ReleasePendingError{ReleaseDate: o.releaseDate(), Detail: "Kinguin pre-order"}, err)
			}
			return nil, fmt.Errorf("kinguin keys of %s page %d: %w", supplierOrderID, page, err)
		}
		raw = append(raw, batch...)
		if len(batch) < limit {
			break
		}
	}
	if o.TotalQty > 0 && len(raw) < o.TotalQty || o.TotalQty == 0 && purchaseStatus(o.Status) != ports.PurchaseCompleted {
		pending := fmt.Errorf("kinguin keys of %s: %w: %d of %d delivered, order %s", supplierOrderID, ports.ErrKeysPending, len(raw), o.TotalQty, o.Status)
		if d := o.releaseDate(); !d.IsZero() || o.preorder() {
			// A pre-order: its keys come after the release (its date
			// unknown when the order names none).
			pending = fmt.Errorf("kinguin keys of %s: %w: %d of %d delivered, order %s", supplierOrderID,
				&ports.ReleasePendingError{ReleaseDate: d, Detail: "Kinguin pre-order"}, len(raw), o.TotalQty, o.Status)
		}
		return nil, pending
	}
	out := make([]ports.SupplierKey, 0, len(raw))
	for _, k := range raw {
		sk, err := k.toPort()
		if err != nil {
			for _, done := range out {
				clear(done.Data)
			}
			return nil, fmt.Errorf("kinguin keys of %s: %w: %v", supplierOrderID, ports.ErrSupplierPermanent, err)
		}
		out = append(out, sk)
	}
	return out, nil
}

// toPort decodes a key. The error names the key's id, never its serial.
func (k key) toPort() (ports.SupplierKey, error) {
	ct, _, err := mime.ParseMediaType(k.Type)
	if err != nil {
		return ports.SupplierKey{}, fmt.Errorf("key %s has content type %q", k.ID, k.Type)
	}
	if k.Serial == "" {
		return ports.SupplierKey{}, fmt.Errorf("key %s is empty", k.ID)
	}
	if !strings.HasPrefix(ct, "image/") {
		return ports.SupplierKey{ContentType: ct, Data: []byte(k.Serial)}, nil
	}
	data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k.Serial))
	if err != nil {
		return ports.SupplierKey{}, fmt.Errorf("image key %s is not base64", k.ID)
	}
	return ports.SupplierKey{ContentType: ct, Data: data}, nil
}

// Balance returns the account balance in EUR (GET /v1/balance), one try.
func (c *Client) Balance(ctx context.Context) (float64, error) {
	var b struct {
		Balance *float64 `json:"balance"`
	}
	if err := c.call(ctx, supplierhttp.Request{Method: "GET", Path: "/v1/balance", Once: true}, &b); err != nil {
		return 0, err
	}
	if b.Balance == nil {
		return 0, fmt.Errorf("kinguin balance: %w: answer has no balance", ports.ErrSupplierTemporary)
	}
	return *b.Balance, nil
}

// Health returns nil when Kinguin answers and the balance can be read:
// the API is reachable and the key is accepted.
func (c *Client) Health(ctx context.Context) error {
	_, err := c.Balance(ctx)
	return err
}
