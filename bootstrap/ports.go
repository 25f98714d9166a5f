package bootstrap

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// processModule is what a process runs on the ports the adapter modules
// provide: the application and its role (serve, worker, or an operator
// tool's use case). Every port is seen in it decorated by portDecorators,
// the same in every process.
//
// The decorations are bound in this module, around everything that uses
// the ports, rather than in each adapter's own module: fx keeps a module's
// decorations inside it, and an adapter's own wiring (the audit MAC key
// made from a data key, the key vault's start-up checks) must see the
// port it provides as it is. A decoration given to the app from outside
// (a test freezing a process at a port, a tool counting its progress) is
// bound at the root and sits beneath these.
func processModule(opts ...fx.Option) fx.Option {
	return fx.Module("process", append([]fx.Option{portDecorators}, opts...)...)
}

// portDecorators are the decorators of each port the application drives,
// outermost last: each call is measured (metrics), a dependency in
// trouble is cut off by its circuit breaker (breakers.go), and every
// change of an order's status, data key made and email sent is audited in
// the unit of work that makes it (application.AuditOrders and its
// siblings), and reveals, reissued links and low stock write their
// webhook messages in theirs (application.WebhookRevelations and its
// siblings). A new port with a decorator gets its fx.Decorate here: one
// per port, since fx binds one decorator per type in a module.
var portDecorators = fx.Options(
	fx.Decorate(func(o ports.OrderRepository, m *metrics.Metrics, tx ports.Transactor, a ports.AuditLog) ports.OrderRepository {
		return application.AuditOrders(m.Orders(o), tx, a)
	}),
	fx.Decorate(func(d ports.DataKeyRepository, tx ports.Transactor, a ports.AuditLog) ports.DataKeyRepository {
		return application.AuditDataKeys(d, tx, a)
	}),
	fx.Decorate(func(r ports.RevelationLog, m *metrics.Metrics, s ports.WebhookStore, ids ports.IDs) ports.RevelationLog {
		return m.Revelations(application.WebhookRevelations(r, s, ids))
	}),
	fx.Decorate(func(a ports.AuditLog, s ports.WebhookStore, ids ports.IDs) ports.AuditLog {
		return application.WebhookAudit(a, s, ids)
	}),
	fx.Decorate(func(st ports.StockRepository, s ports.WebhookStore, clock ports.Clock, c Config) ports.StockRepository {
		return application.WebhookStock(st, s, clock, c.Webhooks.StockLow)
	}),
	fx.Decorate(func(b ports.BlobStore, m *metrics.Metrics) ports.BlobStore { return m.BlobStore(b) }),
	fx.Decorate(func(s ports.Suppliers, m *metrics.Metrics, b *breakers) ports.Suppliers {
		return s.Wrap(func(one ports.Supplier) ports.Supplier {
			return breakerSupplier{Supplier: m.SupplierAs(one, supplierDependency(s, one.Name())), b: b.bySupplier[one.Name()]}
		})
	}),
	fx.Decorate(func(g ports.PaymentGateway, m *metrics.Metrics, b *breakers) ports.PaymentGateway {
		return breakerGateway{PaymentGateway: m.Gateway(g), b: b.gateway}
	}),
	fx.Decorate(func(v ports.KeyVault, m *metrics.Metrics, b *breakers) ports.KeyVault {
		return b.guardVault(m.KeyVault(v))
	}),
	fx.Decorate(decorateMailer),
)

// decorateMailer wraps the mailer as every process sends with it: metrics,
// breaker, then the audit record of each email, which must still reach
// the marks of a mailer that keeps them (ports.AuditMarkingMailer)
// through the two wrappers.
func decorateMailer(ml ports.Mailer, m *metrics.Metrics, b *breakers, tx ports.Transactor, a ports.AuditLog, log *slog.Logger) ports.Mailer {
	return application.AuditMailer(breakerMailer{m: m.Mailer(ml), b: b.mailer}, tx, a, log)
}
