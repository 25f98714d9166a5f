package messaging_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/keyward/keyward/adapters/messaging"
)

func TestPartitionedTopic(t *testing.T) {
	t.Parallel()
	if got := messaging.PartitionedTopic("order.paid", "o-1", 1); got != "order.paid" {
		t.Fatalf("one partition: %q", got)
	}
	all := map[string]bool{}
	for _, p := range messaging.PartitionTopics("order.paid", 4) {
		all[p] = true
	}
	used := map[string]int{}
	for i := range 400 {
		id := fmt.Sprintf("order-%d", i)
		topic := messaging.PartitionedTopic("order.paid", id, 4)
		if topic != messaging.PartitionedTopic("order.paid", id, 4) {
			t.Fatal("an order moved between partitions")
		}
		if !all[topic] {
			t.Fatalf("%q is not one of %v", topic, all)
		}
		used[topic]++
	}
	for topic, n := range used {
		if n < 50 {
			t.Fatalf("partition %s got %d of 400 orders: badly spread %v", topic, n, used)
		}
	}
	if len(used) != 4 {
		t.Fatalf("only %d partitions used", len(used))
	}
}

// TestOtherPartitionTopics: the topics of an event under every partition
// count but the given one, each once: the bare name and .p0 to .p31 less
// the current ones.
func TestOtherPartitionTopics(t *testing.T) {
	t.Parallel()
	for _, partitions := range []int{1, 4, messaging.MaxPartitions} {
		current := messaging.PartitionTopics("order.paid", partitions)
		other := messaging.OtherPartitionTopics("order.paid", partitions)
		seen := map[string]bool{}
		for _, topic := range append(slices.Clone(current), other...) {
			if seen[topic] {
				t.Errorf("%d partitions: %s listed twice", partitions, topic)
			}
			seen[topic] = true
		}
		// Every topic some count spreads the event over is one or the other.
		for n := 1; n <= messaging.MaxPartitions; n++ {
			for _, topic := range messaging.PartitionTopics("order.paid", n) {
				if !seen[topic] {
					t.Errorf("%d partitions: %s (of %d partitions) is neither current nor other", partitions, topic, n)
				}
			}
		}
		if want := 1 + messaging.MaxPartitions; len(seen) != want {
			t.Errorf("%d partitions: %d topics in all, want %d", partitions, len(seen), want)
		}
	}
	if other := messaging.OtherPartitionTopics("order.paid", 4); !slices.Contains(other, "order.paid") || slices.Contains(other, "order.paid.p3") || !slices.Contains(other, "order.paid.p4") {
		t.Errorf("other topics under 4 partitions: %v", other)
	}
}
