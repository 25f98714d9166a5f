package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// TestQueuedEvents: order.placed goes on the queue only when its save did
// not also set the payment up; everything else always goes.
func TestQueuedEvents(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ev := func(name, order string) domain.Event { return domain.OrderEvent{Name: name, OrderID: order, At: at} }
	placed, created, paid := domain.EventOrderPlaced, domain.EventPaymentCreated, domain.EventOrderPaid
	tests := []struct {
		name   string
		events []domain.Event
		want   []string // name@order
	}{
		{"payment set up at placement", []domain.Event{ev(placed, "a"), ev(created, "a")}, []string{created + "@a"}},
		{"gateway down at placement", []domain.Event{ev(placed, "a")}, []string{placed + "@a"}},
		{"another order's payment", []domain.Event{ev(placed, "a"), ev(created, "b")}, []string{placed + "@a", created + "@b"}},
		{"payment set up later", []domain.Event{ev(created, "a")}, []string{created + "@a"}},
		{"other events", []domain.Event{ev(paid, "a"), ev(domain.EventOrderFulfilled, "a")}, []string{paid + "@a", domain.EventOrderFulfilled + "@a"}},
		{"none", nil, nil},
	}
	for _, tt := range tests {
		var got []string
		for _, e := range domain.QueuedEvents(tt.events) {
			got = append(got, e.EventName()+"@"+e.AggregateID())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: queued %v, want %v", tt.name, got, tt.want)
		}
	}
}
