package bench

import (
	"strings"
	"testing"
)

// TestParseCountsReadsTheBudgetCounters pins which series the bench adds
// up per order: write transactions only, vault calls only, every topic
// and handler.
func TestParseCountsReadsTheBudgetCounters(t *testing.T) {
	t.Parallel()
	text := `# HELP keyward_sql_statements_total Statements.
# TYPE keyward_sql_statements_total counter
keyward_sql_statements_total 1200
keyward_sql_idle_statements_total 200
keyward_sql_round_trips_total 2000
keyward_sql_idle_round_trips_total 300
keyward_sql_prepared_statements_total 40
keyward_sql_transactions_total{kind="read"} 50
keyward_sql_transactions_total{kind="write"} 180
keyward_sql_transactions_total{kind="rollback"} 7
keyward_messages_published_total{topic="order.paid"} 10
keyward_messages_published_total{topic="order.placed"} 10
keyward_messages_handled_total{handler="fulfil"} 30
keyward_dependency_call_duration_seconds_count{dependency="vault",operation="new_data_key"} 10
keyward_dependency_call_duration_seconds_count{dependency="vault",operation="unwrap_data_key"} 10
keyward_dependency_call_duration_seconds_count{dependency="supplier",operation="place_order"} 10
keyward_dependency_call_duration_seconds_sum{dependency="vault",operation="new_data_key"} 0.5
`
	after, err := parseCounts(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	got := after.perOrder(serverCounts{statements: 100, roundTrips: 100}, 10)
	want := serverCounts{statements: 110, idleStatements: 20, roundTrips: 190, idleRoundTrips: 30, prepares: 4, writeTx: 18, published: 2, handled: 3, vaultCalls: 2}
	if got != want {
		t.Fatalf("per order %+v, want %+v", got, want)
	}
	if s := got.String(); !strings.HasPrefix(s, "86.0 SQL statements (+20.0 in idle reads, +4.0 preparations), 156.0 round trips (+34.0), 18.0 write transactions") {
		t.Fatalf("printed %q", s)
	}
}
