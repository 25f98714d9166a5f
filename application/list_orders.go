package application

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ErrInvalidFilter is returned for a query whose filters or cursor cannot
// be used (an unknown status, a malformed email or cursor, an empty time
// window).
var ErrInvalidFilter = errors.New("invalid filter")

// OrderFilter is what the support desk asks ListOrders for; zero fields do
// not filter.
type OrderFilter struct {
	Status      string
	Email       string
	CreatedFrom time.Time // inclusive
	CreatedTo   time.Time // exclusive
	Cursor      string    // NextCursor of the previous page
	Limit       int       // default 50, at most 200
}

// OrderPage is one page of orders, newest first; NextCursor is empty on
// the last page.
type OrderPage struct {
	Orders     []*domain.Order
	NextCursor string
}

// ListOrders lists orders for operators, newest first.
type ListOrders struct{ orders ports.OrderRepository }

// NewListOrders wires ListOrders; it panics when a dependency is nil.
func NewListOrders(orders ports.OrderRepository) ListOrders {
	require("ListOrders", "orders", orders)
	return ListOrders{orders: orders}
}

// Handle returns the page f asks for. It returns an error wrapping
// ErrInvalidFilter for unusable filters.
func (h ListOrders) Handle(ctx context.Context, f OrderFilter) (OrderPage, error) {
	q := ports.OrderQuery{CreatedFrom: f.CreatedFrom, CreatedTo: f.CreatedTo, Limit: f.Limit}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	q.Limit = min(q.Limit, 200)
	if f.Status != "" {
		s, err := domain.ParseOrderStatus(f.Status)
		if err != nil {
			return OrderPage{}, fmt.Errorf("%w: status: %v", ErrInvalidFilter, err)
		}
		q.Status = &s
	}
	if f.Email != "" {
		e, err := domain.ParseEmail(f.Email)
		if err != nil {
			return OrderPage{}, fmt.Errorf("%w: email: %v", ErrInvalidFilter, err)
		}
		q.Email = e.String()
	}
	if !f.CreatedFrom.IsZero() && !f.CreatedTo.IsZero() && !f.CreatedFrom.Before(f.CreatedTo) {
		return OrderPage{}, fmt.Errorf("%w: created_from must be before created_to", ErrInvalidFilter)
	}
	if f.Cursor != "" {
		after, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || len(after) == 0 {
			return OrderPage{}, fmt.Errorf("%w: cursor is not one this API returned", ErrInvalidFilter)
		}
		q.After = string(after)
	}
	want := q.Limit
	q.Limit++ // one more tells whether there is a next page
	orders, err := h.orders.List(ctx, q)
	if err != nil {
		return OrderPage{}, fmt.Errorf("list orders: %w", err)
	}
	page := OrderPage{Orders: orders}
	if len(orders) > want {
		page.Orders = orders[:want]
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(orders[want-1].ID()))
	}
	return page, nil
}
