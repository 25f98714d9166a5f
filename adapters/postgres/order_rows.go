package postgres

import (
	"database/sql"
	"encoding/json"
	"fmt"
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

// itemRow is a row of order_items.
type itemRow struct {
	ID                string              `db:"id"`
	OrderID           string              `db:"order_id"`
	Position          int                 `db:"position"`
	SKU               string              `db:"sku"`
	Name              string              `db:"name"`
	SourceKind        string              `db:"source_kind"`
	Supplier          string              `db:"supplier"`
	SupplierProductID string              `db:"supplier_product_id"`
	CostAmount        decimal.NullDecimal `db:"cost_amount"`
	CostCurrency      sql.NullString      `db:"cost_currency"`
	Quantity          int                 `db:"quantity"`
	UnitPrice         decimal.Decimal     `db:"unit_price"`
	Currency          string              `db:"currency"`
	Status            string              `db:"status"`
	FailureReason     sql.NullString      `db:"failure_reason"`
	FailureRetryable  sql.NullBool        `db:"failure_retryable"`
	SupplierOrderID   string              `db:"supplier_order_id"`
	Keys              string              `db:"keys"` // jsonb; a string so lib/pq sends text, not bytea
}

// sealedKeyJSON is one element of order_items.keys: where a sealed key is,
// never the key.
type sealedKeyJSON struct {
	Slot        int    `json:"slot"`
	BlobRef     string `json:"blob_ref"`
	ContentType string `json:"content_type"`
}

// timelineRow is a row of order_timeline.
type timelineRow struct {
	OrderID  string    `db:"order_id"`
	Type     string    `db:"type"`
	Status   string    `db:"status"`
	Metadata string    `db:"metadata"` // jsonb object of strings
	At       time.Time `db:"at"`
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
		keys[i] = sealedKeyJSON{Slot: k.Slot, BlobRef: k.BlobRef, ContentType: k.ContentType}
	}
	keysJSON, err := json.Marshal(keys)
	if err != nil {
		return itemRow{}, fmt.Errorf("encode keys of item %s: %w", s.ID, err)
	}
	r := itemRow{
		ID: s.ID, OrderID: orderID, Position: position, SKU: s.SKU, Name: s.Name,
		SourceKind: s.Source.Kind.String(), Supplier: s.Source.Supplier, SupplierProductID: s.Source.SupplierProductID,
		Quantity: s.Quantity, UnitPrice: s.UnitPrice.Amount(), Currency: s.UnitPrice.Currency().String(),
		Status: s.Status.String(), SupplierOrderID: s.SupplierOrderID, Keys: string(keysJSON),
	}
	r.CostAmount, r.CostCurrency = nullMoney(s.Source.Cost)
	if s.Failure != nil {
		r.FailureReason = sql.NullString{String: s.Failure.Reason, Valid: true}
		r.FailureRetryable = sql.NullBool{Bool: s.Failure.Retryable, Valid: true}
	}
	return r, nil
}

func timelineToRow(orderID string, e domain.FulfillmentEvent) (timelineRow, error) {
	b, err := json.Marshal(e.Metadata())
	if err != nil {
		return timelineRow{}, fmt.Errorf("encode timeline metadata: %w", err)
	}
	return timelineRow{OrderID: orderID, Type: e.Kind().String(), Status: e.Status().String(), Metadata: string(b), At: e.At()}, nil
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
	cost, err := moneyFromNull(r.CostAmount, r.CostCurrency)
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
		SupplierOrderID: r.SupplierOrderID,
	}
	for _, k := range keys {
		s.Keys = append(s.Keys, domain.SealedKey{Slot: k.Slot, BlobRef: k.BlobRef, ContentType: k.ContentType})
	}
	if r.FailureReason.Valid {
		s.Failure = &domain.ItemFailure{Reason: r.FailureReason.String, Retryable: r.FailureRetryable.Bool}
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
