package messaging_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

var errPermanent = errors.New("permanent")

// routerRig runs a router on gochannel with a handler that fails as told,
// and collects dead letters.
type routerRig struct {
	pub     *gochannel.GoChannel
	calls   atomic.Int32
	mu      sync.Mutex
	letters []ports.DeadLetter
	causes  []error
	runs    []string // ports.RunID of each call
	dead    chan struct{}
}

func newRouterRig(t *testing.T, fail func(attempt int32) error, stopping <-chan struct{}) *routerRig {
	t.Helper()
	g := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16, Persistent: true}, watermill.NopLogger{})
	rig := &routerRig{pub: g, dead: make(chan struct{}, 16)}
	failures := messaging.Failures{
		Retryable: func(err error) bool { return !errors.Is(err, errPermanent) },
		DeadLetter: func(_ context.Context, l ports.DeadLetter, cause error) error {
			rig.mu.Lock()
			rig.letters, rig.causes = append(rig.letters, l), append(rig.causes, cause)
			rig.mu.Unlock()
			rig.dead <- struct{}{}
			return nil
		},
		Stopping: stopping,
	}
	policy := messaging.RetryPolicy{MaxRetries: 3, InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond}
	r, err := messaging.NewRouter(g, policy, failures, quiet(), messaging.Handler{Name: "h", Topic: "order.paid",
		Handle: func(ctx context.Context, _ domain.OrderEvent) error {
			rig.mu.Lock()
			rig.runs = append(rig.runs, ports.RunID(ctx))
			rig.mu.Unlock()
			return fail(rig.calls.Add(1))
		}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.Run(context.Background()) }()
	<-r.Running()
	t.Cleanup(func() { _ = r.Close(); _ = g.Close() })
	return rig
}

func (rig *routerRig) publish(t *testing.T, orderID string) {
	t.Helper()
	msg, err := messaging.NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: orderID, At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := rig.pub.Publish("order.paid", msg); err != nil {
		t.Fatal(err)
	}
}

func (rig *routerRig) waitDead(t *testing.T) ports.DeadLetter {
	t.Helper()
	testkit.Receive(t, rig.dead, 10*time.Second, "a dead letter")
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return rig.letters[len(rig.letters)-1]
}

// TestRouterDeadLettersPermanentFailuresAtOnce: a permanent failure is not
// retried; its dead letter carries the topic, order, reason and message.
func TestRouterDeadLettersPermanentFailuresAtOnce(t *testing.T) {
	t.Parallel()
	rig := newRouterRig(t, func(int32) error { return errPermanent }, nil)
	rig.publish(t, "order-1")
	l := rig.waitDead(t)
	if rig.calls.Load() != 1 || l.Attempts != 1 {
		t.Fatalf("handled %d times, %d attempts; want 1", rig.calls.Load(), l.Attempts)
	}
	if l.Topic != "order.paid" || l.OrderID != "order-1" || l.Reason != "permanent" || len(l.Payload) == 0 {
		t.Fatalf("letter %+v", l)
	}
}

// TestRouterRetriesTransientFailures: a transient failure is retried up
// to the policy, then dead-lettered; one that recovers is not.
func TestRouterRetriesTransientFailures(t *testing.T) {
	t.Parallel()
	rig := newRouterRig(t, func(int32) error { return errors.New("supplier down") }, nil)
	rig.publish(t, "order-2")
	l := rig.waitDead(t)
	if l.Attempts != 4 || rig.calls.Load() != 4 {
		t.Fatalf("attempts %d, calls %d; want 1 + 3 retries", l.Attempts, rig.calls.Load())
	}
	// The tries of one delivery of the message are one run (ports.RunID),
	// named by the handler and the message; another delivery is another.
	rig.mu.Lock()
	for _, run := range rig.runs {
		if run != rig.runs[0] || !strings.HasPrefix(run, "h/"+l.ID+"/") {
			t.Errorf("tries ran as %q, want each the same run of h/%s/", rig.runs, l.ID)
			break
		}
	}
	first := rig.runs[0]
	rig.runs = nil
	rig.mu.Unlock()
	// The same message delivered again (its id kept, as a broker's
	// redelivery keeps it) runs as another run of h and that message.
	again, err := messaging.NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: "order-2", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	again.UUID = l.ID
	if err := rig.pub.Publish("order.paid", again); err != nil {
		t.Fatal(err)
	}
	rig.waitDead(t)
	rig.mu.Lock()
	if len(rig.runs) == 0 || rig.runs[0] == first || !strings.HasPrefix(rig.runs[0], "h/"+l.ID+"/") {
		t.Errorf("the redelivery ran as %q, the first delivery as %q: want another run of h/%s/", rig.runs, first, l.ID)
	}
	rig.mu.Unlock()

	recovered := make(chan struct{})
	rig2 := newRouterRig(t, func(n int32) error {
		if n < 3 {
			return errors.New("supplier down")
		}
		close(recovered)
		return nil
	}, nil)
	rig2.publish(t, "order-3")
	select {
	case <-recovered:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler never succeeded")
	}
	select {
	case <-rig2.dead:
		t.Fatal("a recovered message was dead-lettered")
	default:
	}
}

// TestRouterHandsMessagesBackWhenStopping: a handler waiting between
// retries gives its message back at once when the process stops, instead
// of waiting out its backoff or dead-lettering it.
func TestRouterHandsMessagesBackWhenStopping(t *testing.T) {
	t.Parallel()
	stopping := make(chan struct{})
	g := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 16}, watermill.NopLogger{})
	t.Cleanup(func() { _ = g.Close() })
	first := make(chan struct{}, 1)
	var dead atomic.Int32
	failures := messaging.Failures{
		Retryable:  func(error) bool { return true },
		DeadLetter: func(context.Context, ports.DeadLetter, error) error { dead.Add(1); return nil },
		Stopping:   stopping,
	}
	policy := messaging.RetryPolicy{MaxRetries: 5, InitialInterval: time.Hour, MaxInterval: time.Hour}
	r, err := messaging.NewRouter(g, policy, failures, quiet(), messaging.Handler{Name: "h", Topic: "order.paid",
		Handle: func(context.Context, domain.OrderEvent) error {
			select {
			case first <- struct{}{}:
			default:
			}
			return errors.New("down")
		}})
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.Run(context.Background()) }()
	<-r.Running()
	msg, _ := messaging.NewMessage(domain.OrderEvent{Name: domain.EventOrderPaid, OrderID: "o", At: time.Now()})
	if err := g.Publish("order.paid", msg); err != nil {
		t.Fatal(err)
	}
	<-first
	close(stopping)
	closed := make(chan error, 1)
	go func() { closed <- r.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the router waited out the backoff")
	}
	if dead.Load() != 0 {
		t.Fatal("a message handed back at shutdown was dead-lettered")
	}
}

var _ message.Publisher = (*gochannel.GoChannel)(nil)
