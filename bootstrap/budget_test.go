package bootstrap_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// orderBudget is perf/budget.json: what one paid single-item order may
// cost, as the code stands (Limit, which the suite enforces) and as
// issue 22 asks (Target).
type orderBudget struct {
	Order  string      `json:"order"`
	Target orderCounts `json:"target"`
	Limit  orderCounts `json:"limit"`
}

// orderCounts is the work one order costs keyward's processes. A zero
// field of a budget is not checked.
type orderCounts struct {
	SQLStatements     float64 `json:"sql_statements"`
	RoundTrips        float64 `json:"round_trips,omitempty"`
	WriteTransactions float64 `json:"write_transactions"`
	MessagesPublished float64 `json:"messages_published,omitempty"`
	QueueHops         float64 `json:"queue_hops"`
	KeyVaultCalls     float64 `json:"key_vault_calls,omitempty"`
}

// budgetOrders is how many orders the budget test measures after a first
// one that warms the pool up; the dearest of them is held to the budget.
const budgetOrders = 3

// TestOrderBudget walks paid single-item orders through the whole pipeline
// on Postgres (order, IPN, purchase, seal, email, reveal) with the sandbox
// supplier and the local keyring, one at a time, and counts what keyward
// sends for each: SQL statements (BEGIN and COMMIT included), round trips
// and write transactions at the driver, messages published, queue hops
// (messages handed to a handler) and key-vault calls. Orders may differ a
// little (how their webhook messages fall into claims and records), so the
// dearest of them is held to the budget.
//
// Left out of the SQL counts, and so from what is compared: the queue's
// idle reads (transactions that wrote nothing and found no row, see
// postgres.SQLCounter), whose number depends on timing and not on the
// order; the preparations of the hot queries, made once on each
// connection of the pool (so per order only while it warms up); the
// background passes (sweeper, reconciler, catalog sync, the queue's
// prune, the audit sealer's pass), which are turned off; and the test's own read of
// the sandbox payment it pays, measured and subtracted. It waits for the
// email in the mail directory, which costs no SQL. The audit sealer, which
// chains the records of many orders in one pass, is run once for all of
// them and its cost shared out.
//
// It fails when a count exceeds perf/budget.json's limit; with
// KEYWARD_TEST_BUDGET=target it holds the counts to the target
// instead.
func TestOrderBudget(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "perf", "budget.json"))
	if err != nil {
		t.Fatal(err)
	}
	var budget orderBudget
	if err := json.Unmarshal(raw, &budget); err != nil {
		t.Fatalf("perf/budget.json: %v", err)
	}
	url, own := pgtest.NewDatabase(t) // own: the test's connection, not counted
	var (
		counter *postgres.SQLCounter
		m       *metrics.Metrics
		audit   *postgres.AuditLog
		db      *sqlx.DB
	)
	h := start(t, func(c *bootstrap.Config) {
		c.DatabaseURL = url
		c.ReconcileInterval = 0
		c.Operations.SweepInterval = 0
		c.Catalog.SyncInterval = 0
		c.Operations.QueuePrune = 0
		c.Tuning.AuditSealPass = time.Hour
		c.Tuning.AuditSealGather = time.Hour // sealed below, once for every order
		withWebhooks("1s")(c)
	}, fx.Populate(&counter, &m, &audit, &db))

	read := func() orderCounts {
		s, n := counter.Counts(), m.Totals()
		return orderCounts{
			SQLStatements: float64(s.Statements - s.IdleStatements - s.Prepares), RoundTrips: float64(s.RoundTrips - s.IdleRoundTrips - s.Prepares),
			WriteTransactions: float64(s.WriteTransactions),
			MessagesPublished: n.MessagesPublished, QueueHops: n.MessagesHandled, KeyVaultCalls: n.VaultCalls,
		}
	}
	// quiet waits until keyward has nothing left to do: every message the
	// pipeline's router was given is acknowledged, no webhook message is
	// pending and the counts have stood still for half a second (the customer
	// notifications' consumer group is not seen by the probe). The pool's
	// connections in use are not waited on: the queue's idle polls, which
	// are not counted, hold them now and then, and under load nearly
	// always one.
	quiet := func() {
		t.Helper()
		last, since := read(), time.Now()
		var (
			left, pending int
			err           error
		)
		testkit.EventuallyWith(t, 30*time.Second, func() string {
			return fmt.Sprintf("keyward still busy: %d messages unacknowledged, %d webhook messages pending (%v), counts %+v since %s", left, pending, err, last, since)
		}, func() bool {
			if _, left, err = h.pipeline.unacknowledged(t.Context()); err != nil {
				return false
			}
			if err = own.GetContext(t.Context(), &pending, `SELECT count(*) FROM webhook_messages WHERE status = 'pending'`); err != nil {
				return false
			}
			if now := read(); now != last {
				last, since = now, time.Now()
			}
			// A woken queue consumer that found its message looks again
			// after 10, 50 and 200 ms (messaging's recheckBackoff).
			return left == 0 && pending == 0 && time.Since(since) > 500*time.Millisecond
		})
	}

	// The budget's order has one outbound webhook endpoint registered,
	// subscribed to every event: its messages are written and delivered
	// with the rest, and counted with them.
	receiver := newHookReceiver(t)
	h.registerWebhook(receiver, "*")
	sku := h.firstSKU(func(p product) bool { return p.InStock && !strings.Contains(strings.ToLower(p.Platform), "nintendo") }).SKU
	order := func(i int) orderCounts {
		email := fmt.Sprintf("budget-%d@example.com", i)
		quiet()
		before := read()
		if i == budgetOrders && os.Getenv("KEYWARD_TEST_BUDGET_TRACE") != "" {
			stop := traceTransactions(t, counter)
			defer stop()
		}
		o := h.placeOrder(email, line(sku, 1))
		quiet()
		clientBefore := read()
		body, sig := h.ipn(o.ID, "finished", "") // the test's own read of the sandbox payment
		client := minus(read(), clientBefore)
		if code, raw := h.postIPN(body, sig); code != 200 {
			t.Fatalf("IPN: %d %s", code, raw)
		}
		testkit.Eventually(t, 30*time.Second, "the delivery email to "+email, func() bool { return len(h.mailsTo(email)) == 1 })
		token := h.deliveryToken(email)
		if code, _, raw := h.do("GET", "/deliver/"+token, nil, nil, nil); code != 200 {
			t.Fatalf("delivery page: %d %s", code, raw)
		}
		if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != 200 {
			t.Fatalf("reveal: %d %s", code, raw)
		}
		for _, typ := range []string{"order.placed", "order.paid", "order.fulfilled", "order.delivered", "delivery.revealed"} {
			testkit.Eventually(t, 30*time.Second, "the "+typ+" webhook of "+o.ID, func() bool { return len(receiver.of(typ, o.ID)) == 1 })
		}
		quiet()
		return minus(minus(read(), before), client)
	}

	order(0) // warms the pool and the prepared statements up
	var each []orderCounts
	for i := 1; i <= budgetOrders; i++ {
		each = append(each, order(i))
	}
	beforeSeal := read()
	if _, err := audit.Seal(t.Context()); err != nil {
		t.Fatal(err)
	}
	seal := minus(read(), beforeSeal)
	worst := each[0]
	for i, c := range each {
		t.Logf("order %d: %+v", i+1, c)
		if c != each[0] {
			// A statement prepared in the background meanwhile, say: the
			// budget holds for the dearest order.
			t.Logf("order %d cost %+v, order 1 %+v: the budget is checked on the dearest", i+1, c, each[0])
		}
		worst = dearest(worst, c)
	}
	t.Logf("audit seal of %d orders' records: %+v", budgetOrders+1, seal)
	per := plus(worst, scale(seal, 1/float64(budgetOrders+1)))

	limit, which := budget.Limit, "limit"
	if os.Getenv("KEYWARD_TEST_BUDGET") == "target" {
		limit, which = budget.Target, "target"
	}
	report := []struct {
		name               string
		got, limit, target float64
	}{
		{"sql_statements", per.SQLStatements, limit.SQLStatements, budget.Target.SQLStatements},
		{"round_trips", per.RoundTrips, limit.RoundTrips, budget.Target.RoundTrips},
		{"write_transactions", per.WriteTransactions, limit.WriteTransactions, budget.Target.WriteTransactions},
		{"messages_published", per.MessagesPublished, limit.MessagesPublished, budget.Target.MessagesPublished},
		{"queue_hops", per.QueueHops, limit.QueueHops, budget.Target.QueueHops},
		{"key_vault_calls", per.KeyVaultCalls, limit.KeyVaultCalls, budget.Target.KeyVaultCalls},
	}
	for _, r := range report {
		gap := "no target"
		if r.target > 0 {
			gap = fmt.Sprintf("%.2f under the target %.0f", r.target-r.got, r.target)
			if r.got > r.target {
				gap = fmt.Sprintf("%.2f over the target %.0f", r.got-r.target, r.target)
			}
		}
		bound := "unchecked"
		if r.limit > 0 {
			bound = fmt.Sprintf("%s %.0f", which, r.limit)
		}
		t.Logf("per order: %-18s %7.2f (%s; %s)", r.name, r.got, bound, gap)
		if r.limit > 0 && r.got > r.limit {
			t.Errorf("%s per order is %.2f, over the %s of %.0f in perf/budget.json", r.name, r.got, which, r.limit)
		}
	}
}

// traceTransactions logs every transaction keyward's processes end until
// the returned func is called: its kind and its statements, each on one
// line (KEYWARD_TEST_BUDGET_TRACE=1 shows where the last order's budget
// goes; the test client's own reads are among them).
func traceTransactions(t *testing.T, counter *postgres.SQLCounter) (stop func()) {
	var (
		mu  sync.Mutex
		txs []postgres.TxTrace
	)
	counter.Trace(func(tx postgres.TxTrace) {
		mu.Lock()
		txs = append(txs, tx)
		mu.Unlock()
	})
	return func() {
		counter.Trace(nil)
		mu.Lock()
		defer mu.Unlock()
		kinds := map[string]int{}
		statements := 0
		var b strings.Builder
		for i, tx := range txs {
			kinds[tx.Kind]++
			statements += len(tx.Statements)
			fmt.Fprintf(&b, "tx %d (%s, %d statements)\n", i+1, tx.Kind, len(tx.Statements))
			for _, q := range tx.Statements {
				q = strings.Join(strings.Fields(q), " ")
				if len(q) > 200 && os.Getenv("KEYWARD_TEST_BUDGET_TRACE") != "full" {
					q = q[:200] + "…"
				}
				fmt.Fprintf(&b, "    %s\n", q)
			}
		}
		t.Logf("traced %d transactions, %d statements, by kind %v:\n%s", len(txs), statements, kinds, b.String())
	}
}

func minus(a, b orderCounts) orderCounts {
	return orderCounts{a.SQLStatements - b.SQLStatements, a.RoundTrips - b.RoundTrips, a.WriteTransactions - b.WriteTransactions,
		a.MessagesPublished - b.MessagesPublished, a.QueueHops - b.QueueHops, a.KeyVaultCalls - b.KeyVaultCalls}
}

func plus(a, b orderCounts) orderCounts { return minus(a, scale(b, -1)) }

// dearest is the larger of each count of a and b.
func dearest(a, b orderCounts) orderCounts {
	return orderCounts{max(a.SQLStatements, b.SQLStatements), max(a.RoundTrips, b.RoundTrips), max(a.WriteTransactions, b.WriteTransactions),
		max(a.MessagesPublished, b.MessagesPublished), max(a.QueueHops, b.QueueHops), max(a.KeyVaultCalls, b.KeyVaultCalls)}
}

func scale(a orderCounts, f float64) orderCounts {
	return orderCounts{a.SQLStatements * f, a.RoundTrips * f, a.WriteTransactions * f, a.MessagesPublished * f, a.QueueHops * f, a.KeyVaultCalls * f}
}
