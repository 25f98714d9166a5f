// Package memory holds in-process implementations of the storage ports:
// the embedded default and the reference for the contract suites. State is
// lost when the process stops.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Orders is an OrderRepository in memory. It keeps each order's snapshot,
// a value that shares nothing with the order, so loading and saving need
// no copying. Events collected by an order are published after it is saved
// (there is no transaction to share).
type Orders struct {
	mu        sync.Mutex
	orders    map[string]domain.OrderSnapshot
	publisher ports.EventPublisher
}

// NewOrders returns an empty repository that publishes through p (nil: events
// are dropped).
func NewOrders(p ports.EventPublisher) *Orders {
	return &Orders{orders: map[string]domain.OrderSnapshot{}, publisher: p}
}

// Create stores o; domain.ErrConflict if the id exists.
func (r *Orders) Create(ctx context.Context, o *domain.Order) error {
	r.mu.Lock()
	if _, ok := r.orders[o.ID()]; ok {
		r.mu.Unlock()
		return fmt.Errorf("%w: order %s exists", domain.ErrConflict, o.ID())
	}
	o.MarkSaved()
	r.orders[o.ID()] = o.Snapshot()
	r.mu.Unlock()
	return r.publish(ctx, o)
}

// CountByStatus returns how many orders are in each status.
func (r *Orders) CountByStatus(context.Context) (map[domain.OrderStatus]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[domain.OrderStatus]int{}
	for _, s := range r.orders {
		out[s.Status]++
	}
	return out, nil
}

// CountAwaitingRelease returns how many fulfilling orders wait only for
// pre-orders' release (domain.Order.AwaitingReleaseUntil).
func (r *Orders) CountAwaitingRelease(context.Context) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.orders {
		if s.Status != domain.StatusFulfilling {
			continue
		}
		o, err := domain.UnmarshalOrder(s)
		if err != nil {
			return 0, fmt.Errorf("count orders awaiting release: %w", err)
		}
		if _, waiting := o.AwaitingReleaseUntil(); waiting {
			n++
		}
	}
	return n, nil
}

// CountItemsBought returns how many items have a purchase recorded at each
// supplier.
func (r *Orders) CountItemsBought(context.Context) (map[string]int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for _, s := range r.orders {
		for _, it := range s.Items {
			if it.BoughtFrom != "" && it.SupplierOrderID != "" {
				out[it.BoughtFrom]++
			}
		}
	}
	return out, nil
}

// Get returns a copy of the order or domain.ErrNotFound.
func (r *Orders) Get(_ context.Context, id string) (*domain.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.load(id)
}

// Update runs fn on a copy under the repository lock and saves it when fn
// succeeds.
func (r *Orders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	r.mu.Lock()
	o, err := r.load(id)
	if err != nil {
		r.mu.Unlock()
		return nil, err
	}
	if err := fn(o); err != nil {
		r.mu.Unlock()
		return nil, err
	}
	o.MarkSaved()
	r.orders[id] = o.Snapshot()
	r.mu.Unlock()
	return o, r.publish(ctx, o)
}

// List returns orders newest first (ids are time-ordered).
func (r *Orders) List(_ context.Context, q ports.OrderQuery) ([]*domain.Order, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.orders))
	for id, s := range r.orders {
		if !matches(q, s) {
			continue
		}
		if q.After != "" && id >= q.After {
			continue
		}
		if q.ItemID != "" && !slices.ContainsFunc(s.Items, func(it domain.ItemSnapshot) bool { return it.ID == q.ItemID }) {
			continue
		}
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	if q.Limit > 0 && len(ids) > q.Limit {
		ids = ids[:q.Limit]
	}
	out := make([]*domain.Order, 0, len(ids))
	for _, id := range ids {
		o, err := r.load(id)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

func (r *Orders) load(id string) (*domain.Order, error) {
	s, ok := r.orders[id]
	if !ok {
		return nil, fmt.Errorf("%w: order %s", domain.ErrNotFound, id)
	}
	return domain.UnmarshalOrder(s)
}

func (r *Orders) publish(ctx context.Context, o *domain.Order) error {
	events := o.PopEvents()
	if r.publisher == nil || len(events) == 0 {
		return nil
	}
	if err := r.publisher.Publish(ctx, events...); err != nil {
		return fmt.Errorf("publish events of order %s: %w", o.ID(), err)
	}
	return nil
}

// matches reports whether an order passes q's filters (not its cursor).
func matches(q ports.OrderQuery, s domain.OrderSnapshot) bool {
	switch {
	case q.Status != nil && s.Status != *q.Status:
		return false
	case q.Email != "" && strings.ToLower(s.Email.String()) != strings.ToLower(q.Email):
		return false
	case !q.CreatedFrom.IsZero() && s.CreatedAt.Before(q.CreatedFrom):
		return false
	case !q.CreatedTo.IsZero() && !s.CreatedAt.Before(q.CreatedTo):
		return false
	}
	return true
}
