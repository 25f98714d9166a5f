package bootstrap

import (
	"slices"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// TestTheQueueCarriesWhatIsConsumed: the events keyward's consumer groups
// read are exactly those that go on the queue (domain.QueueEventNames): an
// event read but not queued would never be handled, one queued but not
// read would be written for no one.
func TestTheQueueCarriesWhatIsConsumed(t *testing.T) {
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
