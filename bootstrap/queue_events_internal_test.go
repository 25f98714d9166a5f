package bootstrap

import (
	"slices"
	"testing"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// TestTheQueueCarriesWhatIsConsumed: the events keyward's consumer groups
// read are exactly those that go on the queue (domain.QueueEventNames): an
// event read but not queued would never be handled, one queued but not
// read would be written for no one.
func TestTheQueueCarriesWhatIsConsumed(t *testing.T) {
	t.Parallel()
	var read []string
	for _, r := range slices.Concat(pipelineRoutes(application.App{}), notificationRoutes(application.App{})) {
		if slices.Contains(read, r.event) {
			t.Errorf("%s is read by two routes", r.event)
		}
		read = append(read, r.event)
	}
	slices.Sort(read)
	queued := slices.Sorted(slices.Values(domain.QueueEventNames))
	for _, ev := range read {
		if !slices.Contains(queued, ev) {
			t.Errorf("%s is read by a consumer but never queued: add it to domain.QueueEventNames", ev)
		}
	}
	for _, ev := range queued {
		if !slices.Contains(read, ev) {
			t.Errorf("%s is queued but read by no consumer", ev)
		}
	}
}

// TestQueueTopicsNameTheirReaders: the queue's pruning holds each topic to
// the consumer group that reads it now (the pipeline's or the
// notifications'), every partition alike under every partition count, and
// an event that is not queued to none, so that its old messages go by age
// alone.
func TestQueueTopicsNameTheirReaders(t *testing.T) {
	t.Parallel()
	topics := queueTopics(application.App{})
	byName := map[string][]string{}
	for _, tp := range topics {
		if _, dup := byName[tp.Name]; dup {
			t.Errorf("topic %s listed twice", tp.Name)
		}
		byName[tp.Name] = tp.Groups
	}
	want := map[string][]string{
		domain.EventOrderPaid:               {messaging.ConsumerGroup},
		domain.EventFulfilmentRetried:       {messaging.ConsumerGroup},
		domain.EventPaymentCreated:          {notificationConsumerGroup},
		domain.EventCustomerAccessRequested: {notificationConsumerGroup},
		domain.EventOrderDelivered:          nil,
		domain.EventOrderFulfilled:          nil,
	}
	every := func(ev string) []string { return append(messaging.OtherPartitionTopics(ev, 1), ev) }
	for ev, groups := range want {
		for _, topic := range every(ev) {
			got, ok := byName[topic]
			if !ok || !slices.Equal(got, groups) {
				t.Errorf("%s: groups %v (listed %v), want %v", topic, got, ok, groups)
			}
		}
	}
	for _, ev := range domain.QueueEventNames {
		for _, topic := range every(ev) {
			if len(byName[topic]) == 0 {
				t.Errorf("queued %s has no reading group: the prune would delete its unread messages by age", topic)
			}
		}
	}
	if n := len(slices.Concat(domain.OrderEventNames, domain.CustomerEventNames)) * (1 + messaging.MaxPartitions); len(topics) != n {
		t.Errorf("%d topics, want %d", len(topics), n)
	}
}
