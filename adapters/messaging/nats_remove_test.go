package messaging_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyward/keyward/adapters/messaging"
)

// natsStreams lists the names of the streams on the test server that
// start with prefix.
func natsStreams(t *testing.T, prefix string) []string {
	t.Helper()
	conn, err := nats.Connect(natsURL())
	if err != nil {
		t.Fatalf("NATS at %s (KEYWARD_TEST_NATS_URL) must run for this test: %v", redactedNATSURL(), err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	names := js.StreamNames(t.Context())
	for n := range names.Name() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestRemoveNATSStreamsRemovesItsPrefixOnly: the streams an installation
// made under its prefix are deleted, on the real server, and those of
// another prefix, even one that begins like it, are left alone.
func TestRemoveNATSStreamsRemovesItsPrefixOnly(t *testing.T) {
	t.Parallel()
	run := fmt.Sprintf("rmtest%x", time.Now().UnixNano()&0xffffffff)
	mine, other := run+"-a.", run+"-ab."
	for _, prefix := range []string{mine, other} {
		n, err := messaging.NewNATS(messaging.NATSConfig{URL: natsURL(), Prefix: prefix}, quiet())
		if err != nil {
			t.Fatalf("NATS at %s (KEYWARD_TEST_NATS_URL) must run for this test: %v", redactedNATSURL(), err)
		}
		for _, topic := range []string{"order.placed.p0", "order.paid.p0"} {
			if err := n.Publish(topic, message.NewMessage(watermill.NewUUID(), []byte(`{}`))); err != nil {
				t.Fatal(err)
			}
		}
		_ = n.Close()
	}
	t.Cleanup(func() { _, _ = messaging.RemoveNATSStreams(context.Background(), natsURL(), run) })
	if got := natsStreams(t, run); len(got) != 4 {
		t.Fatalf("streams made: %q, want 4", got)
	}

	deleted, err := messaging.RemoveNATSStreams(t.Context(), natsURL(), mine)
	if err != nil || deleted != 2 {
		t.Fatalf("RemoveNATSStreams = %d, %v; want 2 deleted", deleted, err)
	}
	left := natsStreams(t, run)
	want := []string{run + "-ab_order_paid_p0", run + "-ab_order_placed_p0"}
	if !slices.Equal(left, want) {
		t.Fatalf("streams left: %q, want only the other prefix's %q", left, want)
	}
	if _, err := messaging.RemoveNATSStreams(t.Context(), natsURL(), ""); err == nil {
		t.Fatal("an empty prefix was taken: it would delete every stream")
	}
}
