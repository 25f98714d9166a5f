package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/ports"
)

// Brokers (KEYWARD_BROKER).
const (
	BrokerSQL  = "sql"
	BrokerNATS = "nats"
	BrokerAMQP = "amqp"
)

// MessagingConfig chooses how order events travel and what this process
// runs.
type MessagingConfig struct {
	Broker  string `env:"KEYWARD_BROKER" envDefault:"sql" doc:"\x60sql\x60 (the Postgres queue; in process without a database), \x60nats\x60 (NATS JetStream) or \x60amqp\x60 (RabbitMQ); the brokers need \x60KEYWARD_DATABASE_URL\x60: events commit to its outbox and are forwarded"`
	NATSURL string `env:"KEYWARD_NATS_URL" envDefault:"nats://127.0.0.1:4222" secret:"url" doc:"NATS server, with \x60KEYWARD_BROKER=nats\x60 (JetStream enabled)"`
	AMQPURL string `env:"KEYWARD_AMQP_URL" envDefault:"amqp://guest:guest@127.0.0.1:5672/" secret:"url" doc:"RabbitMQ, with \x60KEYWARD_BROKER=amqp\x60"`
	Prefix  string `env:"KEYWARD_BROKER_PREFIX" doc:"put before every stream, consumer, exchange and queue name keyward makes on the broker, so several installations can share one"`
	Role    string `env:"KEYWARD_ROLE" envDefault:"all" doc:"\x60all\x60 (API and workers), \x60api\x60 (API only: no consumers, no reconciler) or \x60worker\x60 (what \x60keyward worker\x60 runs)"`
}

// validateMessaging checks the broker settings, then the role (roles.go).
func (c Config) validateMessaging() error {
	m := c.Messaging
	switch m.Broker {
	case BrokerSQL:
	case BrokerNATS, BrokerAMQP:
		if c.DatabaseURL == "" {
			return fmt.Errorf("KEYWARD_BROKER=%s needs KEYWARD_DATABASE_URL: events commit with the orders in its outbox, from where they are forwarded to the broker", m.Broker)
		}
	default:
		return fmt.Errorf("KEYWARD_BROKER must be sql, nats or amqp, not %q", m.Broker)
	}
	for _, r := range m.Prefix {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("KEYWARD_BROKER_PREFIX may hold letters, digits, '-', '_' and '.' only")
		}
	}
	return c.validateRole()
}

// checkBrokerURL checks that u parses with one of schemes, without
// echoing it (it may carry a password).
func checkBrokerURL(name, u string, schemes ...string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return fmt.Errorf("%s is not a URL such as %s://host:port", name, schemes[0])
	}
	for _, s := range schemes {
		if p.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("%s must start with %s://, not %s://", name, schemes[0], p.Scheme)
}

// messagingModule chooses how events travel: gochannel in process without
// a database; otherwise the Postgres outbox, consumed directly (sql) or
// forwarded to NATS or RabbitMQ and consumed there. An api process only
// writes the outbox: it never connects to a broker.
func messagingModule(cfg Config) fx.Option {
	if cfg.DatabaseURL == "" {
		return GoChannelModule
	}
	switch {
	case cfg.Messaging.Role == RoleAPI:
		return SQLMessagingModule
	case cfg.Messaging.Broker == BrokerNATS:
		return fx.Options(SQLMessagingModule, NATSModule)
	case cfg.Messaging.Broker == BrokerAMQP:
		return fx.Options(SQLMessagingModule, AMQPModule)
	}
	return fx.Options(SQLMessagingModule, fx.Provide(func(s *wsql.Subscriber) message.Subscriber { return s }))
}

// broker is a message broker's adapter: Watermill publisher and
// subscriber on its own connections.
type broker interface {
	message.Publisher
	message.Subscriber
	Check(context.Context) error
}

// NATSModule consumes from NATS JetStream what the outbox forwards there.
var NATSModule = fx.Module("messaging.nats",
	fx.Decorate(quietOnStop),
	fx.Provide(
		func(cfg Config) messaging.NATSConfig {
			return messaging.NATSConfig{URL: cfg.Messaging.NATSURL, AckWait: messaging.AckDeadline, Prefix: cfg.Messaging.Prefix}
		},
		func(c messaging.NATSConfig, log *slog.Logger) (broker, error) {
			n, err := messaging.NewNATS(c, log.With("component", "nats"))
			if err != nil {
				return nil, unavailable("KEYWARD_NATS_URL", "NATS", urlAddress(c.URL), err)
			}
			return n, nil
		},
	),
	brokerOptions("nats"),
)

// AMQPModule consumes from RabbitMQ what the outbox forwards there.
var AMQPModule = fx.Module("messaging.amqp",
	fx.Decorate(quietOnStop),
	fx.Provide(
		func(cfg Config) messaging.AMQPConfig {
			return messaging.AMQPConfig{URL: cfg.Messaging.AMQPURL, Prefix: cfg.Messaging.Prefix}
		},
		func(c messaging.AMQPConfig, log *slog.Logger) (broker, error) {
			a, err := messaging.NewAMQP(c, log.With("component", "amqp"))
			if err != nil {
				return nil, unavailable("KEYWARD_AMQP_URL", "RabbitMQ", urlAddress(c.URL), err)
			}
			return a, nil
		},
	),
	brokerOptions("amqp"),
)

// brokerOptions make the broker the pipeline's subscriber, forwarding from
// the outbox each topic the pipeline consumes, and report its connection
// at /readyz.
func brokerOptions(name string) fx.Option {
	return fx.Options(
		fx.Provide(
			func(lc fx.Lifecycle, b broker, outbox *wsql.Subscriber, log *slog.Logger) message.Subscriber {
				f := messaging.NewForwarding(b, outbox, log.With("component", "forwarder"))
				lc.Append(fx.Hook{OnStop: func(context.Context) error { return f.Close() }})
				return f
			},
			fx.Annotate(func(b broker) ports.HealthCheck {
				return ports.HealthCheck{Name: name, Check: b.Check}
			}, fx.ResultTags(`group:"health"`)),
		),
	)
}
