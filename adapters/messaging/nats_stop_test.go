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
	"github.com/keyward/keyward/internal/testkit"
)

// TestNATSStopsWhileMessagesArrive: a subscription whose context ends from
// elsewhere (as a router's stop does), and then the adapter's Close, while
// messages keep arriving. Watermill's JetStream subscriber closed the
// channel it returned as its context ended while its NATS callbacks could
// still be sending on it: a data race (which the race detector, on in make
// test, reports) and, when a message came at that moment, a panic (send on
// a closed channel); this test did both on it. Then the topic flows again
// for the next subscriber. Several rounds, since the race needs a message in flight as
// the subscription ends.
func TestNATSStopsWhileMessagesArrive(t *testing.T) {
	t.Parallel()
	run := fmt.Sprintf("kwstop%d_", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = messaging.RemoveNATSStreams(context.Background(), natsURL(), run) })
	for round := range 4 {
		prefix := fmt.Sprintf("%sr%d_", run, round)
		n := natsFor(t, prefix, 2*time.Second)
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
		stopOnce := sync.OnceFunc(func() { close(stop) })
		defer stopOnce()
		var publishing sync.WaitGroup
		publishing.Go(func() {
			for range 300 { // bounded, for the next subscriber to read through
				select {
				case <-stop:
					return
				default:
				}
				_ = n.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte("more")))
			}
		})
		got := 0
		deadline := time.After(20 * time.Second)
	read:
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					break read
				}
				m.Ack()
				if got++; got == 5 {
					time.AfterFunc(20*time.Millisecond, cancel)
				}
			case <-deadline:
				t.Fatalf("round %d: the channel still open 20 s on, %d messages read", round, got)
			}
		}
		if got < 5 {
			t.Fatalf("round %d: %d messages before the channel closed, want at least 5", round, got)
		}
		stopOnce()
		publishing.Wait()
		if err := n.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		// The topic flows again for the next subscriber, up to a message
		// published after the close: what the subscription left is handed
		// back, and a message NATS sent as its unsubscribe travelled (which
		// the client drops: JetStream's pull consumers cannot avoid it)
		// comes back after the ack wait (2 s here, MaxAckPending 1 holding
		// the topic meanwhile).
		next := natsFor(t, prefix, 2*time.Second)
		last := message.NewMessage(watermill.NewUUID(), []byte("last"))
		if err := next.Publish(topic, last); err != nil {
			t.Fatal(err)
		}
		msgs, err = next.Subscribe(t.Context(), topic)
		if err != nil {
			t.Fatal(err)
		}
		deadline = time.After(30 * time.Second)
	flow:
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					t.Fatalf("round %d: the subscription ended before the message published after the close", round)
				}
				m.Ack()
				if m.UUID == last.UUID {
					break flow
				}
			case <-deadline:
				t.Fatalf("round %d: the message published after the close not read within 30 s: the topic is held", round)
			}
		}
	}
}

// TestNATSCloseHandsBackWhatWasLeftUnanswered: a message handed out and
// never answered when the adapter closes goes back to NATS, for another
// process to take a second later, not after the ack wait (a minute here).
func TestNATSCloseHandsBackWhatWasLeftUnanswered(t *testing.T) {
	t.Parallel()
	prefix := fmt.Sprintf("kwback%d_", time.Now().UnixNano())
	t.Cleanup(func() { _, _ = messaging.RemoveNATSStreams(context.Background(), natsURL(), prefix) })
	const topic = "back.test"
	first := natsFor(t, prefix, time.Minute)
	sent := message.NewMessage(watermill.NewUUID(), []byte("left unanswered"))
	if err := first.Publish(topic, sent); err != nil {
		t.Fatal(err)
	}
	msgs, err := first.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	if m := testkit.Receive(t, msgs, 10*time.Second, "the message"); m.UUID != sent.UUID {
		t.Fatalf("got %s, want %s", m.UUID, sent.UUID)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-msgs; ok {
		t.Fatal("the channel gave another message after the close, want it closed")
	}
	second := natsFor(t, prefix, time.Minute)
	again, err := second.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatal(err)
	}
	// Within 20 s, the ack wait being a minute: the close handed it back.
	m := testkit.Receive(t, again, 20*time.Second, "the message left unanswered, handed back by the close,")
	if m.UUID != sent.UUID {
		t.Fatalf("got %s, want %s", m.UUID, sent.UUID)
	}
	m.Ack()
}
