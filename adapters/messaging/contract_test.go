package messaging_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/ports/porttest"
)

// The brokers of this machine; the tests fail when they do not answer.
func natsURL() string { return envOr("KEYWARD_TEST_NATS_URL", "nats://127.0.0.1:4222") }
func amqpURL() string { return envOr("KEYWARD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/") }

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestMessagingContractGoChannel(t *testing.T) {
	t.Parallel()
	porttest.Messaging(t, porttest.Broker{
		Connect: func(t *testing.T) (message.Publisher, message.Subscriber) {
			g := gochannel.NewGoChannel(gochannel.Config{OutputChannelBuffer: 1024}, watermill.NopLogger{})
			t.Cleanup(func() { _ = g.Close() })
			return g, g
		},
		Remove: func(*testing.T, string) {},
	})
}

func TestMessagingContractSQL(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	porttest.Messaging(t, porttest.Broker{
		Connect: func(t *testing.T) (message.Publisher, message.Subscriber) {
			db, err := sql.Open("postgres", url) // a pool of its own: one process
			if err != nil {
				t.Fatal(err)
			}
			pub, err := messaging.NewSQLPublisher(db, quiet())
			if err != nil {
				t.Fatal(err)
			}
			sub, err := messaging.NewSQLSubscriber(db, quiet(), messaging.SQLQueueOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = sub.Close(); _ = pub.Close(); _ = db.Close() })
			return pub, sub
		},
		Remove: func(t *testing.T, topic string) {
			db, err := sql.Open("postgres", url)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			schema := wsql.DefaultPostgreSQLSchema{}
			offsets := wsql.DefaultPostgreSQLOffsetsAdapter{}
			for _, table := range []string{schema.MessagesTable(topic), offsets.MessagesOffsetsTable(topic)} {
				if _, err := db.Exec(`DROP TABLE IF EXISTS ` + table); err != nil {
					t.Errorf("drop %s: %v", table, err)
				}
			}
		},
		Durable: true, Shared: true, Ordered: true,
	})
}

func TestMessagingContractNATS(t *testing.T) {
	t.Parallel()
	porttest.Messaging(t, porttest.Broker{
		Connect: func(t *testing.T) (message.Publisher, message.Subscriber) {
			n := newNATS(t)
			return n, n
		},
		Remove: func(t *testing.T, topic string) {
			if err := newNATS(t).Remove(context.Background(), topic); err != nil {
				t.Error(err)
			}
		},
		Durable: true, Shared: true, Ordered: true,
	})
}

func TestMessagingContractAMQP(t *testing.T) {
	t.Parallel()
	porttest.Messaging(t, porttest.Broker{
		Connect: func(t *testing.T) (message.Publisher, message.Subscriber) {
			a := newAMQP(t)
			return a, a
		},
		Remove: func(t *testing.T, topic string) {
			if err := newAMQP(t).Remove(context.Background(), topic); err != nil {
				t.Error(err)
			}
		},
		Durable: true, Shared: true, Ordered: true,
	})
}

// newNATS connects to the test server with a short ack wait, so a crashed
// subscriber's message comes back within the test.
func newNATS(t *testing.T) *messaging.NATS { return natsFor(t, "", 2*time.Second) }

// natsFor connects an adapter whose streams are named with prefix, closed
// with the test.
func natsFor(t *testing.T, prefix string, ackWait time.Duration) *messaging.NATS {
	t.Helper()
	n, err := messaging.NewNATS(messaging.NATSConfig{URL: natsURL(), Prefix: prefix, AckWait: ackWait}, quiet())
	if err != nil {
		t.Fatalf("NATS at %s (KEYWARD_TEST_NATS_URL) must run for these tests: %v", redactedNATSURL(), err)
	}
	t.Cleanup(func() { _ = n.Close() })
	return n
}

// redactedNATSURL is natsURL without a password, for messages.
func redactedNATSURL() string {
	u, err := url.Parse(natsURL())
	if err != nil {
		return "(KEYWARD_TEST_NATS_URL unparsable)"
	}
	return u.Redacted()
}

func newAMQP(t *testing.T) *messaging.AMQP {
	t.Helper()
	a, err := messaging.NewAMQP(messaging.AMQPConfig{URL: amqpURL()}, quiet())
	if err != nil {
		t.Fatalf("RabbitMQ at KEYWARD_TEST_AMQP_URL must run for these tests: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}
