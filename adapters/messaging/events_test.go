package messaging_test

import (
	"fmt"
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
