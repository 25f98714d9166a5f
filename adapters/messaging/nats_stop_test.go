package messaging_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/keyward/keyward/adapters/messaging"
)

// TestNATSStopsWhileMessagesArrive: a subscription whose context ends,
// and then the adapter's Close, while messages keep arriving. The
// Watermill JetStream subscriber closes the channel it returns as its
// context ends, while its NATS callbacks may still be sending on it: a
// data race (which the race detector, on in make test, reports) and, when
// a message comes at that moment, a panic (send on a closed channel). The
// adapter keeps the subscriber's context open and drains the connection
// before the subscriber closes, so that no callback sends then. Several
// rounds, since the race needs a message in flight as it stops.
func TestNATSStopsWhileMessagesArrive(t *testing.T) {
	t.Parallel()
	run := fmt.Sprintf("kwstop%d_", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = messaging.RemoveNATSStreams(context.Background(), natsURL(), run) })
	for round := range 4 {
		n, err := messaging.NewNATS(messaging.NATSConfig{URL: natsURL(), Prefix: fmt.Sprintf("%sr%d_", run, round), AckWait: 2 * time.Second}, quiet())
		if err != nil {
			t.Fatalf("NATS at %s (KEYWARD_TEST_NATS_URL) must run for this test: %v", natsURL(), err)
		}
		const topic = "stop.test"
		if err := n.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte("first"))); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		msgs, err := n.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		var publishing sync.WaitGroup
		publishing.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				_ = n.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte("more")))
			}
		})
		got := 0
		for m := range msgs {
			m.Ack()
			if got++; got == 5 {
				// The subscription ends as messages keep coming, from
				// elsewhere (as a router's stop does), not after a
				// message read here.
				time.AfterFunc(20*time.Millisecond, cancel)
			}
		}
		if got < 5 {
			t.Fatalf("round %d: %d messages before the channel closed, want at least 5", round, got)
		}
		close(stop)
		publishing.Wait()
		if err := n.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
}
