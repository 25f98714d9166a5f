package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Revelations is a RevelationLog in memory.
type Revelations struct {
	mu   sync.Mutex
	ids  map[string]bool
	list []domain.KeyRevelation
}

// NewRevelations returns an empty log.
func NewRevelations() *Revelations { return &Revelations{ids: map[string]bool{}} }

// Append stores rs atomically; domain.ErrConflict on a duplicate id.
func (r *Revelations) Append(_ context.Context, rs ...domain.KeyRevelation) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rv := range rs {
		if r.ids[rv.ID()] {
			return fmt.Errorf("%w: revelation %s", domain.ErrConflict, rv.ID())
		}
	}
	for _, rv := range rs {
		r.ids[rv.ID()] = true
		r.list = append(r.list, rv)
	}
	return nil
}

// ListByOrder returns the order's revelations, oldest first.
func (r *Revelations) ListByOrder(_ context.Context, orderID string) ([]domain.KeyRevelation, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []domain.KeyRevelation
	for _, rv := range r.list {
		if rv.OrderID() == orderID {
			out = append(out, rv)
		}
	}
	return out, nil
}

// Notifications is a PaymentNotificationLog in memory.
type Notifications struct {
	mu   sync.Mutex
	seen map[string]bool
	all  []ports.PaymentNotification
}

// NewNotifications returns an empty log.
func NewNotifications() *Notifications { return &Notifications{seen: map[string]bool{}} }

// Record stores n once per provider, payment id, status and body hash.
// It takes part in ctx's unit of work (Transactor): undone when it fails,
// as the row in Postgres is, so that the gateway's retry is new again.
func (r *Notifications) Record(ctx context.Context, n ports.PaymentNotification) (bool, error) {
	key := notificationKey(n)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[key] {
		return false, nil
	}
	r.seen[key] = true
	n.Body = append([]byte(nil), n.Body...)
	r.all = append(r.all, n)
	if u := unitFrom(ctx); u != nil {
		u.onRollback(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			delete(r.seen, key)
			r.all = slices.DeleteFunc(r.all, func(m ports.PaymentNotification) bool { return notificationKey(m) == key })
		})
	}
	return true, nil
}

// notificationKey is what a notification is stored once by.
func notificationKey(n ports.PaymentNotification) string {
	return fmt.Sprintf("%s|%s|%s|%x", n.Provider, n.PaymentID, n.Status, n.BodySHA256)
}

// ListByOrder returns the order's notifications, oldest first.
func (r *Notifications) ListByOrder(_ context.Context, orderID string) ([]ports.PaymentNotification, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ports.PaymentNotification
	for _, n := range r.all {
		if n.OrderID == orderID {
			n.Body = append([]byte(nil), n.Body...)
			out = append(out, n)
		}
	}
	return out, nil
}

// Count returns how many distinct notifications are stored.
func (r *Notifications) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all)
}
