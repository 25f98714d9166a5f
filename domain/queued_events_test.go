package domain_test

import (
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// TestQueuedEvents: only the events of QueueEventNames go on the queue,
// and order.placed only when its save did not also set the payment up.
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
		{"work", []domain.Event{ev(paid, "a"), ev(domain.EventOrderFailed, "b")}, []string{paid + "@a", domain.EventOrderFailed + "@b"}},
		{"events no one consumes", []domain.Event{ev(domain.EventOrderFulfilled, "a"), ev(domain.EventOrderDelivered, "a")}, nil},
		{"work among the rest", []domain.Event{ev(domain.EventOrderFulfilled, "a"), ev(domain.EventOrderRevoked, "a"), ev(domain.EventClaimOpened, "a")}, []string{domain.EventOrderRevoked + "@a"}},
		{"a sign-in request", []domain.Event{ev(domain.EventCustomerAccessRequested, "c")}, []string{domain.EventCustomerAccessRequested + "@c"}},
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
