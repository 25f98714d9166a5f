package postgres

import (
	"cmp"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/domain"
)

// orderRow is a row of orders.
type orderRow struct {
	ID              string          `db:"id"`
	Email           string          `db:"email"`
	AccessTokenHash []byte          `db:"access_token_hash"`
	TotalAmount     decimal.Decimal `db:"total_amount"`
	Currency        string          `db:"currency"`
	PaymentProvider string          `db:"payment_provider"`
	PaymentID       string          `db:"payment_id"`
	PayAddress      string          `db:"pay_address"`
	PayAmount       decimal.Decimal `db:"pay_amount"`
	PayCurrency     string          `db:"pay_currency"`
	PayinExtraID    string          `db:"payin_extra_id"`
	PaymentStatus   string          `db:"payment_status"`
	ActuallyPaid    decimal.Decimal `db:"actually_paid"`
	Status          string          `db:"status"`
	Version         int             `db:"version"`
	CreatedAt       time.Time       `db:"created_at"`
	UpdatedAt       time.Time       `db:"updated_at"`
	DeliveryClaim   string          `db:"delivery_claim"`      // "" when none
	DeliveryClaimAt sql.NullTime    `db:"delivery_claimed_at"` // NULL when none
}

// orderLoadRow is a row of the statements that load orders (see
// orderLoadColumns): the order's columns, then its items and timeline as
// JSON arrays of itemRow and timelineRow, in no particular order.
type orderLoadRow struct {
	orderRow
	Items    []byte `db:"items"`
	Timeline []byte `db:"timeline"`
	// Current is false when a locking load saw items and a timeline older
	// than the row it locked; only the locking query selects it.
	Current bool `db:"current"`
}

// itemRow is a row of order_items: written with its db names, read back as
// an element of orderLoadRow.Items with its json names.
type itemRow struct {
	ID                string              `db:"id" json:"id"`
	OrderID           string              `db:"order_id" json:"order_id"`
	Position          int                 `db:"position" json:"position"`
	SKU               string              `db:"sku" json:"sku"`
	Name              string              `db:"name" json:"name"`
	SourceKind        string              `db:"source_kind" json:"source_kind"`
	Supplier          string              `db:"supplier" json:"supplier"`
	SupplierProductID string              `db:"supplier_product_id" json:"supplier_product_id"`
	CostAmount        decimal.NullDecimal `db:"cost_amount" json:"cost_amount"`
	CostCurrency      *string             `db:"cost_currency" json:"cost_currency"` // nil: NULL
	Quantity          int                 `db:"quantity" json:"quantity"`
	UnitPrice         decimal.Decimal     `db:"unit_price" json:"unit_price"`
	Currency          string              `db:"currency" json:"currency"`
	Status            string              `db:"status" json:"status"`
	FailureReason     *string             `db:"failure_reason" json:"failure_reason"`       // nil: NULL
	FailureRetryable  *bool               `db:"failure_retryable" json:"failure_retryable"` // nil: NULL
	SupplierOrderID   string              `db:"supplier_order_id" json:"supplier_order_id"`
	BoughtFrom        string              `db:"bought_from" json:"bought_from"`
	Keys              jsonText            `db:"keys" json:"keys"`
	ReleaseDate       nullDate            `db:"release_date" json:"release_date"`
}

// nullDate is a date column that may be NULL (the zero time): written as
// YYYY-MM-DD, read from the JSON an order loads with.
type nullDate struct{ time.Time }

// Value writes the day, or NULL for the zero time.
func (d nullDate) Value() (driver.Value, error) {
	if d.IsZero() {
		return nil, nil
	}
	return d.UTC().Format(domain.DateLayout), nil
}

// UnmarshalJSON reads null or a date ("2027-02-14", as json_build_object
// writes a date column).
func (d *nullDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		d.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t, err := time.Parse(domain.DateLayout, s)
	if err != nil {
		return err
	}
	d.Time = t
	return nil
}

// sealedKeyJSON is one element of order_items.keys: where a sealed key is,
// never the key.
type sealedKeyJSON struct {
	Slot        int    `json:"slot"`
	BlobRef     string `json:"blob_ref"`
	ContentType string `json:"content_type"`
	Bad         bool   `json:"bad,omitempty"`
	ClaimID     string `json:"claim_id,omitempty"`
}

// timelineRow is a row of order_timeline: written with its db names (the
// id is the database's), read back (without its order id) as an element
// of orderLoadRow.Timeline.
type timelineRow struct {
	ID       int64     `db:"id" json:"id"` // set by the database, in the timeline's order
	OrderID  string    `db:"order_id" json:"-"`
	Type     string    `db:"type" json:"type"`
	Status   string    `db:"status" json:"status"`
	Metadata jsonText  `db:"metadata" json:"metadata"` // jsonb object of strings
	At       time.Time `db:"at" json:"at"`
}

// jsonText is the text of a jsonb value. It is a string so that lib/pq
// sends it as text (a []byte would go as bytea), and it takes a JSON value
// embedded in a larger document as it is, to be decoded later.
type jsonText string

// UnmarshalJSON keeps the value's JSON text.
func (j *jsonText) UnmarshalJSON(b []byte) error {
	*j = jsonText(b)
	return nil
}

// orderToRow maps an order about to be saved; the row carries the version
// the order was loaded at.
func orderToRow(o *domain.Order) orderRow {
	s := o.Snapshot()
	return orderRow{
		ID: s.ID, Email: s.Email.String(), AccessTokenHash: s.AccessTokenHash[:],
		TotalAmount: s.Total.Amount(), Currency: s.Total.Currency().String(),
		PaymentProvider: s.Payment.Provider, PaymentID: s.Payment.PaymentID, PayAddress: s.Payment.PayAddress,
		PayAmount: s.Payment.PayAmount, PayCurrency: s.Payment.PayCurrency, PayinExtraID: s.Payment.PayinExtraID,
		PaymentStatus: s.Payment.Status.String(),
		ActuallyPaid:  s.Payment.ActuallyPaid, Status: s.Status.String(), Version: s.Version,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, DeliveryClaim: s.DeliveryClaim.ID,
		DeliveryClaimAt: sql.NullTime{Time: s.DeliveryClaim.ClaimedAt, Valid: s.DeliveryClaim.ID != ""},
	}
}

func itemToRow(orderID string, position int, s domain.ItemSnapshot) (itemRow, error) {
	keys := make([]sealedKeyJSON, len(s.Keys))
	for i, k := range s.Keys {
		keys[i] = sealedKeyJSON{Slot: k.Slot, BlobRef: k.BlobRef, ContentType: k.ContentType, Bad: k.Bad, ClaimID: k.ClaimID}
	}
	keysJSON, err := json.Marshal(keys)
	if err != nil {
		return itemRow{}, fmt.Errorf("encode keys of item %s: %w", s.ID, err)
	}
	r := itemRow{
		ID: s.ID, OrderID: orderID, Position: position, SKU: s.SKU, Name: s.Name,
		SourceKind: s.Source.Kind.String(), Supplier: s.Source.Supplier, SupplierProductID: s.Source.SupplierProductID,
		Quantity: s.Quantity, UnitPrice: s.UnitPrice.Amount(), Currency: s.UnitPrice.Currency().String(),
		Status: s.Status.String(), SupplierOrderID: s.SupplierOrderID, BoughtFrom: s.BoughtFrom, Keys: jsonText(keysJSON),
		ReleaseDate: nullDate{s.ReleaseDate},
	}
	var cur sql.NullString
	if r.CostAmount, cur = nullMoney(s.Source.Cost); cur.Valid {
		r.CostCurrency = &cur.String
	}
	if s.Failure != nil {
		r.FailureReason, r.FailureRetryable = &s.Failure.Reason, &s.Failure.Retryable
	}
	return r, nil
}

func timelineToRow(orderID string, e domain.FulfillmentEvent) (timelineRow, error) {
	b, err := json.Marshal(e.Metadata())
	if err != nil {
		return timelineRow{}, fmt.Errorf("encode timeline metadata: %w", err)
	}
	return timelineRow{OrderID: orderID, Type: e.Kind().String(), Status: e.Status().String(), Metadata: jsonText(b), At: e.At()}, nil
}

// order decodes the row's items and timeline and rehydrates the order; it
// returns domain.ErrInvalidOrder for data the domain would never write.
func (r orderLoadRow) order() (*domain.Order, error) {
	var items []itemRow
	if err := json.Unmarshal(r.Items, &items); err != nil {
		return nil, fmt.Errorf("%w: items of order %s: %v", domain.ErrInvalidOrder, r.ID, err)
	}
	var timeline []timelineRow
	if err := json.Unmarshal(r.Timeline, &timeline); err != nil {
		return nil, fmt.Errorf("%w: timeline of order %s: %v", domain.ErrInvalidOrder, r.ID, err)
	}
	for i := range timeline {
		timeline[i].OrderID = r.ID
	}
	slices.SortFunc(items, func(a, b itemRow) int { return cmp.Compare(a.Position, b.Position) })
	slices.SortFunc(timeline, func(a, b timelineRow) int { return cmp.Compare(a.ID, b.ID) })
	o, err := orderFromRows(r.orderRow, items, timeline)
	if err != nil {
		return nil, fmt.Errorf("read order %s: %w", r.ID, err)
	}
	return o, nil
}

// orderFromRows rehydrates an order; it returns domain.ErrInvalidOrder
// (or a money or email error) for rows the domain would never write.
func orderFromRows(r orderRow, items []itemRow, timeline []timelineRow) (*domain.Order, error) {
	email, err := domain.ParseEmail(r.Email)
	if err != nil {
		return nil, err
	}
	var hash domain.TokenHash
	if len(r.AccessTokenHash) != len(hash) {
		return nil, fmt.Errorf("%w: access token hash of order %s", domain.ErrInvalidOrder, r.ID)
	}
	copy(hash[:], r.AccessTokenHash)
	total, err := money(r.TotalAmount, r.Currency)
	if err != nil {
		return nil, err
	}
	status, err := domain.ParseOrderStatus(r.Status)
	if err != nil {
		return nil, err
	}
	payment := domain.Payment{
		Provider: r.PaymentProvider, PaymentID: r.PaymentID, PayAddress: r.PayAddress, PayAmount: r.PayAmount,
		PayCurrency: r.PayCurrency, PayinExtraID: r.PayinExtraID, ActuallyPaid: r.ActuallyPaid,
	}
	if r.PaymentStatus != "" {
		if payment.Status, err = domain.ParsePaymentStatus(r.PaymentStatus); err != nil {
			return nil, err
		}
	}
	s := domain.OrderSnapshot{
		ID: r.ID, Email: email, AccessTokenHash: hash, Total: total, Payment: payment, Status: status,
		Version: r.Version, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
	}
	s.DeliveryClaim.ID = r.DeliveryClaim
	if r.DeliveryClaimAt.Valid {
		s.DeliveryClaim.ClaimedAt = r.DeliveryClaimAt.Time.UTC()
	}
	for _, ir := range items {
		it, err := itemFromRow(ir)
		if err != nil {
			return nil, err
		}
		s.Items = append(s.Items, it)
	}
	for _, tr := range timeline {
		e, err := timelineFromRow(tr)
		if err != nil {
			return nil, err
		}
		s.Timeline = append(s.Timeline, e)
	}
	return domain.UnmarshalOrder(s)
}

// itemFromRow maps a row to the item's snapshot; UnmarshalOrder checks it.
func itemFromRow(r itemRow) (domain.ItemSnapshot, error) {
	kind, err := domain.ParseSourceKind(r.SourceKind)
	if err != nil {
		return domain.ItemSnapshot{}, err
	}
	var cur sql.NullString
	if r.CostCurrency != nil {
		cur = sql.NullString{String: *r.CostCurrency, Valid: true}
	}
	cost, err := moneyFromNull(r.CostAmount, cur)
	if err != nil {
		return domain.ItemSnapshot{}, err
	}
	price, err := money(r.UnitPrice, r.Currency)
	if err != nil {
		return domain.ItemSnapshot{}, err
	}
	status, err := domain.ParseItemStatus(r.Status)
	if err != nil {
		return domain.ItemSnapshot{}, err
	}
	var keys []sealedKeyJSON
	if err := json.Unmarshal([]byte(r.Keys), &keys); err != nil {
		return domain.ItemSnapshot{}, fmt.Errorf("%w: keys of item %s: %v", domain.ErrInvalidOrder, r.ID, err)
	}
	s := domain.ItemSnapshot{
		ID: r.ID, SKU: r.SKU, Name: r.Name, Quantity: r.Quantity, UnitPrice: price, Status: status,
		Source:          domain.ProductSource{Kind: kind, Supplier: r.Supplier, SupplierProductID: r.SupplierProductID, Cost: cost},
		SupplierOrderID: r.SupplierOrderID, BoughtFrom: r.BoughtFrom, ReleaseDate: r.ReleaseDate.Time,
	}
	for _, k := range keys {
		s.Keys = append(s.Keys, domain.SealedKey{Slot: k.Slot, BlobRef: k.BlobRef, ContentType: k.ContentType, Bad: k.Bad, ClaimID: k.ClaimID})
	}
	if r.FailureReason != nil {
		s.Failure = &domain.ItemFailure{Reason: *r.FailureReason, Retryable: r.FailureRetryable != nil && *r.FailureRetryable}
	}
	return s, nil
}

func timelineFromRow(r timelineRow) (domain.FulfillmentEvent, error) {
	kind, err := domain.ParseEventKind(r.Type)
	if err != nil {
		return domain.FulfillmentEvent{}, err
	}
	status, err := domain.ParseOrderStatus(r.Status)
	if err != nil {
		return domain.FulfillmentEvent{}, err
	}
	var meta map[string]string
	if err := json.Unmarshal([]byte(r.Metadata), &meta); err != nil {
		return domain.FulfillmentEvent{}, fmt.Errorf("%w: timeline metadata of order %s: %v", domain.ErrInvalidOrder, r.OrderID, err)
	}
	return domain.UnmarshalFulfillmentEvent(kind, status, meta, r.At.UTC())
}
