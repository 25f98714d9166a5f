package bootstrap_test

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// TestWorkerPrunesTheQueue: a worker deletes the queue's messages once the
// consumer groups reading them have acknowledged them and they are past
// KEYWARD_QUEUE_RETENTION, and the old messages of a topic no group reads
// any more (one an earlier version queued); the consumers go on reading
// after it: a second order is delivered as the first was.
func TestWorkerPrunesTheQueue(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	// What an earlier version left on a topic it queued and this one does
	// not.
	retired := messaging.PartitionTopics(domain.EventOrderDelivered, bootstrap.Defaults().QueuePartitions)[0]
	pub, err := messaging.NewSQLPublisher(db.DB, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := messaging.NewMessage(domain.OrderEvent{Name: domain.EventOrderDelivered, OrderID: "old-order", At: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(retired, msg); err != nil {
		t.Fatal(err)
	}

	h := start(t, func(c *bootstrap.Config) {
		c.DatabaseURL = url
		c.Operations.QueueRetention = time.Millisecond
		c.Operations.QueuePrune = 200 * time.Millisecond
	})
	var topics []string
	for _, ev := range domain.QueueEventNames {
		topics = append(topics, messaging.PartitionTopics(ev, h.cfg.QueuePartitions)...)
	}
	// left counts the messages of the queued topics (their tables are made
	// at the start) and of the retired one.
	left := func() (queued, old int) {
		t.Helper()
		for _, topic := range topics {
			var n int
			if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM "watermill_`+topic+`"`); err != nil {
				t.Fatal(err)
			}
			queued += n
		}
		if err := db.GetContext(t.Context(), &old, `SELECT count(*) FROM "watermill_`+retired+`"`); err != nil {
			t.Fatal(err)
		}
		return queued, old
	}
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	for i := range 2 {
		email := fmt.Sprintf("prune-%d@example.com", i)
		// The payment's instructions (its message read by the
		// notifications' group) before the payment: paid first, the order
		// would have outgrown them, and they would not be sent.
		o := h.placeOrder(email, line(sku, 1))
		testkit.Eventually(t, 30*time.Second, "the payment's instructions to "+email, func() bool { return len(h.allMailsTo(email)) == 1 })
		h.pay(o)
		h.waitStatus(o, "delivered", 30*time.Second)
		testkit.Eventually(t, 30*time.Second, "the keys' email to "+email, func() bool { return len(h.allMailsTo(email)) == 2 })
		var queued, old int
		testkit.EventuallyWith(t, 30*time.Second, func() string {
			return fmt.Sprintf("after order %d: %d queued messages and %d of the retired topic left", i+1, queued, old)
		}, func() bool {
			queued, old = left()
			return queued == 0 && old == 0
		})
	}
}
