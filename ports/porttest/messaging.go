package porttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Broker is a Watermill pub/sub under test. keyward's pipeline is a
// Watermill router on message.Publisher and message.Subscriber, so the
// suite speaks that interface: it checks what the router relies on
// (acknowledge after the handler, redeliver what was not acknowledged,
// share a topic between processes, one message of a topic at a time).
type Broker struct {
	// Connect opens a publisher and a subscriber standing for one keyward
	// process (their own connections), closed when the test ends (closing
	// twice must be harmless).
	Connect func(t *testing.T) (message.Publisher, message.Subscriber)
	// Remove deletes what the broker keeps for topic; the suite calls it
	// when a test ends.
	Remove func(t *testing.T, topic string)
	// Durable: a message published before anyone subscribes waits for
	// the first subscriber, and one a subscriber took but never
	// acknowledged (it crashed) goes to the next. False for gochannel,
	// whose messages live in one process's memory.
	Durable bool
	// Shared: subscribers in different processes form one consumer
	// group, each message handled by one of them. False for gochannel,
	// which does not reach beyond its process.
	Shared bool
	// Ordered: the messages of a topic are handed out in the order they
	// were published. False for gochannel, which sends each message from
	// a goroutine of its own (in one process, where keyward's memory mode
	// runs, nothing depends on it).
	Ordered bool
}

// suiteWait bounds every wait of the suite; NATS hands a crashed
// subscriber's message out again only after its ack wait.
const suiteWait = 30 * time.Second

// Messaging runs the messaging contract against b.
func Messaging(t *testing.T, b Broker) {
	t.Run("delivers what is published, id, payload and metadata intact", func(t *testing.T) {
		topic := newTopic(t, b)
		pub, sub := b.Connect(t)
		msgs := subscribe(t, sub, topic)
		publish(t, pub, topic, 3)
		seen := map[string]bool{}
		for range 3 {
			m := receive(t, msgs)
			i := string(m.Payload)
			if m.UUID != "m-"+i || m.Metadata.Get("order_id") != "order-"+i || seen[i] {
				t.Fatalf("message arrived as %s %q %v", m.UUID, m.Payload, m.Metadata)
			}
			seen[i] = true
			m.Ack()
		}
	})

	t.Run("keeps messages until someone subscribes", func(t *testing.T) {
		if !b.Durable {
			t.Log("not durable (Broker.Durable is false): a message nobody subscribed to is gone")
			return
		}
		topic := newTopic(t, b)
		pub, _ := b.Connect(t)
		publish(t, pub, topic, 2)
		_, sub := b.Connect(t)
		msgs := subscribe(t, sub, topic)
		got := map[string]bool{}
		for range 2 {
			m := receive(t, msgs)
			got[m.UUID] = true
			m.Ack()
		}
		if !got["m-0"] || !got["m-1"] {
			t.Fatalf("got %v, want m-0 and m-1", got)
		}
	})

	t.Run("redelivers after a handler error", func(t *testing.T) {
		topic := newTopic(t, b)
		pub, sub := b.Connect(t)
		msgs := subscribe(t, sub, topic)
		publish(t, pub, topic, 1)
		first := receive(t, msgs)
		first.Nack()
		again := receive(t, msgs)
		if again.UUID != first.UUID || string(again.Payload) != string(first.Payload) {
			t.Fatalf("after a nack got %s, want %s again", again.UUID, first.UUID)
		}
		again.Ack()
		assertOnlyMarkerLeft(t, pub, msgs, topic)
	})

	t.Run("redelivers to the next process after a crash", func(t *testing.T) {
		if !b.Durable {
			t.Log("not durable (Broker.Durable is false): a crashed process takes its messages with it")
			return
		}
		topic := newTopic(t, b)
		pub, crashing := b.Connect(t)
		ctx, crash := context.WithCancel(t.Context())
		msgs, err := crashing.Subscribe(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		publish(t, pub, topic, 1)
		taken := receive(t, msgs)
		// The process dies with the message in hand: no ack, no nack.
		crash()
		if err := crashing.Close(); err != nil {
			t.Logf("close after crash: %v", err)
		}
		_, next := b.Connect(t)
		got := receive(t, subscribe(t, next, topic))
		if got.UUID != taken.UUID {
			t.Fatalf("the next process got %s, want the unacknowledged %s", got.UUID, taken.UUID)
		}
		got.Ack()
	})

	t.Run("competing processes handle each message once", func(t *testing.T) {
		if !b.Shared {
			t.Log("not shared (Broker.Shared is false): one process only, nothing to compete for")
			return
		}
		topic := newTopic(t, b)
		const n = 20
		pub, subA := b.Connect(t)
		_, subB := b.Connect(t)
		var mu sync.Mutex
		handled := map[string]int{}
		done := make(chan struct{})
		handle := func(m *message.Message) {
			mu.Lock()
			handled[m.UUID]++
			if len(handled) == n {
				close(done)
			}
			mu.Unlock()
			m.Ack()
		}
		consume(subscribe(t, subA, topic), handle)
		consume(subscribe(t, subB, topic), handle)
		publish(t, pub, topic, n)
		select {
		case <-done:
		case <-time.After(suiteWait):
			t.Fatalf("handled %d of %d messages", len(handled), n)
		}
		mu.Lock()
		defer mu.Unlock()
		for id, times := range handled {
			if times != 1 {
				t.Errorf("%s handled %d times", id, times)
			}
		}
	})

	t.Run("one message of a topic at a time, in order", func(t *testing.T) {
		// The router handles a subscription's messages one after the
		// other; across processes only the broker can keep a topic (one
		// partition of an event name, so one order's events) to one
		// message at a time.
		topic := newTopic(t, b)
		const n = 8
		pub, subA := b.Connect(t)
		streams := []<-chan *message.Message{subscribe(t, subA, topic)}
		if b.Shared {
			_, subB := b.Connect(t)
			streams = append(streams, subscribe(t, subB, topic))
		}
		var inFlight, most atomic.Int32
		var mu sync.Mutex
		var order []string
		done := make(chan struct{})
		handle := func(m *message.Message) {
			now := inFlight.Add(1)
			if now > most.Load() {
				most.Store(now)
			}
			// Stands for the handler's work: a broker that hands out the
			// next message of the topic meanwhile is caught here.
			select {
			case <-time.After(20 * time.Millisecond):
			case <-t.Context().Done():
			}
			mu.Lock()
			order = append(order, string(m.Payload))
			if len(order) == n {
				close(done)
			}
			mu.Unlock()
			inFlight.Add(-1)
			m.Ack()
		}
		for _, s := range streams {
			consume(s, handle)
		}
		publish(t, pub, topic, n)
		select {
		case <-done:
		case <-time.After(suiteWait):
			t.Fatalf("handled %d of %d messages", len(order), n)
		}
		if most.Load() != 1 {
			t.Errorf("%d messages of one topic were handled at once", most.Load())
		}
		mu.Lock()
		defer mu.Unlock()
		if !b.Ordered {
			t.Logf("not ordered (Broker.Ordered is false): handled as %v", order)
			return
		}
		for i, p := range order {
			if p != strconv.Itoa(i) {
				t.Fatalf("handled in the order %v", order)
			}
		}
	})
}

// newTopic returns a topic no other test uses, shaped like keyward's
// (dotted), removed from the broker when the test ends.
func newTopic(t *testing.T, b Broker) string {
	t.Helper()
	var r [5]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatal(err)
	}
	topic := "porttest." + hex.EncodeToString(r[:]) + ".p0"
	t.Cleanup(func() { b.Remove(t, topic) })
	return topic
}

// subscribe subscribes until the test ends.
func subscribe(t *testing.T, sub message.Subscriber, topic string) <-chan *message.Message {
	t.Helper()
	msgs, err := sub.Subscribe(t.Context(), topic)
	if err != nil {
		t.Fatalf("subscribe %s: %v", topic, err)
	}
	return msgs
}

// publish publishes n messages m-0..m-(n-1) with payloads 0..n-1 (JSON:
// the SQL queue stores payloads as JSON).
func publish(t *testing.T, pub message.Publisher, topic string, n int) {
	t.Helper()
	for i := range n {
		m := message.NewMessage("m-"+strconv.Itoa(i), []byte(strconv.Itoa(i)))
		m.Metadata.Set("order_id", "order-"+strconv.Itoa(i))
		if err := pub.Publish(topic, m); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
	}
}

func receive(t *testing.T, msgs <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-msgs:
		if !ok {
			t.Fatal("the subscription ended")
		}
		return m
	case <-time.After(suiteWait):
		t.Fatalf("no message within %s", suiteWait)
	}
	return nil
}

// consume hands every message to handle, one at a time, like a router.
func consume(msgs <-chan *message.Message, handle func(*message.Message)) {
	go func() {
		for m := range msgs {
			handle(m)
		}
	}()
}

// assertOnlyMarkerLeft publishes a marker behind what was handled and
// checks that the marker is the next message: nothing acknowledged comes
// back.
func assertOnlyMarkerLeft(t *testing.T, pub message.Publisher, msgs <-chan *message.Message, topic string) {
	t.Helper()
	marker := message.NewMessage("marker", []byte(`"marker"`))
	if err := pub.Publish(topic, marker); err != nil {
		t.Fatal(err)
	}
	if m := receive(t, msgs); m.UUID != "marker" {
		t.Fatalf("got %s again after it was acknowledged", m.UUID)
	} else {
		m.Ack()
	}
}
