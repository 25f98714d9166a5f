package bootstrap

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
)

// sqlCountsModule counts what the process sends to Postgres (every
// statement of the pool, BEGIN and COMMIT included; the outbox listener's
// own connection apart) and the messages it publishes, and exports both
// with the metrics: keyward_sql_statements_total,
// keyward_sql_round_trips_total, keyward_sql_prepared_statements_total,
// keyward_sql_idle_statements_total, keyward_sql_idle_round_trips_total,
// keyward_sql_transactions_total{kind} and
// keyward_messages_published_total{topic}. The per-order budget
// (perf/budget.json) and keyward bench read them.
var sqlCountsModule = fx.Options(
	fx.Provide(func() *postgres.SQLCounter { return &postgres.SQLCounter{} }),
	fx.Invoke(registerSQLCounts),
)

func registerSQLCounts(m *metrics.Metrics, c *postgres.SQLCounter) {
	counter := func(name, help string, labels prometheus.Labels, read func(postgres.SQLCounts) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "keyward", Subsystem: "sql", Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(read(c.Counts())) })
	}
	m.Registry().MustRegister(
		counter("statements_total", "Statements sent to Postgres, BEGIN, COMMIT and ROLLBACK included (the outbox listener's connection apart).", nil,
			func(s postgres.SQLCounts) uint64 { return s.Statements }),
		counter("round_trips_total", "Round trips to Postgres: two for a statement with arguments sent unnamed (parse, then bind and execute), one otherwise (a prepared statement's execution included).", nil,
			func(s postgres.SQLCounts) uint64 { return s.RoundTrips }),
		counter("prepared_statements_total", "Statements that prepare a named statement on a connection, or close one (counted in keyward_sql_statements_total too).", nil,
			func(s postgres.SQLCounts) uint64 { return s.Prepares }),
		counter("idle_statements_total", "Statements of transactions that wrote nothing and read no row (a queue consumer's poll that found no message), counted in keyward_sql_statements_total too.", nil,
			func(s postgres.SQLCounts) uint64 { return s.IdleStatements }),
		counter("idle_round_trips_total", "Round trips of those transactions, counted in keyward_sql_round_trips_total too.", nil,
			func(s postgres.SQLCounts) uint64 { return s.IdleRoundTrips }),
		counter("transactions_total", "Transactions ended, by kind: write (a commit after a statement other than a read, or a write on its own), read (a commit after reads only), rollback.",
			prometheus.Labels{"kind": "write"}, func(s postgres.SQLCounts) uint64 { return s.WriteTransactions }),
		counter("transactions_total", "Transactions ended, by kind: write (a commit after a statement other than a read, or a write on its own), read (a commit after reads only), rollback.",
			prometheus.Labels{"kind": "read"}, func(s postgres.SQLCounts) uint64 { return s.ReadTransactions }),
		counter("transactions_total", "Transactions ended, by kind: write (a commit after a statement other than a read, or a write on its own), read (a commit after reads only), rollback.",
			prometheus.Labels{"kind": "rollback"}, func(s postgres.SQLCounts) uint64 { return s.Rollbacks }),
	)
}
