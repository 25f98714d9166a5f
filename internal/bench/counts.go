package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// serverCounts are the server's work counters (its /metrics), the ones
// perf/budget.json limits per order.
type serverCounts struct {
	statements, idleStatements float64 // SQL, BEGIN and COMMIT included; idle: reads that found nothing
	roundTrips, idleRoundTrips float64
	prepares                   float64 // preparations and closes of named statements (a statement and a round trip each)
	writeTx                    float64
	published, handled         float64 // messages put on the queue, and handed to handlers (queue hops)
	vaultCalls                 float64
}

// metricValues maps each sample of the metrics the bench reads, by its
// name and the labels that matter, to the value summed over the rest.
var metricValues = map[string]func(c *serverCounts, labels string, v float64){
	"keyward_sql_statements_total":      func(c *serverCounts, _ string, v float64) { c.statements += v },
	"keyward_sql_idle_statements_total": func(c *serverCounts, _ string, v float64) { c.idleStatements += v },
	"keyward_sql_round_trips_total":     func(c *serverCounts, _ string, v float64) { c.roundTrips += v },
	"keyward_sql_idle_round_trips_total": func(c *serverCounts, _ string, v float64) {
		c.idleRoundTrips += v
	},
	"keyward_sql_prepared_statements_total": func(c *serverCounts, _ string, v float64) { c.prepares += v },
	"keyward_sql_transactions_total": func(c *serverCounts, labels string, v float64) {
		if strings.Contains(labels, `kind="write"`) {
			c.writeTx += v
		}
	},
	"keyward_messages_published_total": func(c *serverCounts, _ string, v float64) { c.published += v },
	"keyward_messages_handled_total":   func(c *serverCounts, _ string, v float64) { c.handled += v },
	"keyward_dependency_call_duration_seconds_count": func(c *serverCounts, labels string, v float64) {
		if strings.Contains(labels, `dependency="vault"`) {
			c.vaultCalls += v
		}
	},
}

// scrapeCounts reads the counters from the server's /metrics (which also
// runs its gauges: a handful of SQL reads, negligible over a run).
func scrapeCounts(ctx context.Context, client *http.Client, base string) (serverCounts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return serverCounts{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return serverCounts{}, fmt.Errorf("read the server's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return serverCounts{}, fmt.Errorf("read the server's metrics: %s", resp.Status)
	}
	return parseCounts(resp.Body)
}

// parseCounts reads the Prometheus text format.
func parseCounts(r io.Reader) (serverCounts, error) {
	var c serverCounts
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sep := strings.LastIndexByte(line, ' ')
		if sep < 0 {
			continue
		}
		series, value := line[:sep], line[sep+1:]
		name, labels := series, ""
		if i := strings.IndexByte(series, '{'); i >= 0 {
			name, labels = series[:i], series[i:]
		}
		add, ok := metricValues[name]
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return c, fmt.Errorf("metric %s: %w", name, err)
		}
		add(&c, labels, v)
	}
	return c, sc.Err()
}

// perOrder is what each of n orders cost between before and c.
func (c serverCounts) perOrder(before serverCounts, n int) serverCounts {
	d := float64(max(n, 1))
	return serverCounts{
		statements: (c.statements - before.statements) / d, idleStatements: (c.idleStatements - before.idleStatements) / d,
		roundTrips: (c.roundTrips - before.roundTrips) / d, idleRoundTrips: (c.idleRoundTrips - before.idleRoundTrips) / d,
		prepares:  (c.prepares - before.prepares) / d,
		writeTx:   (c.writeTx - before.writeTx) / d,
		published: (c.published - before.published) / d, handled: (c.handled - before.handled) / d,
		vaultCalls: (c.vaultCalls - before.vaultCalls) / d,
	}
}

// String prints the counts per order as perf/budget.json has them: the
// statements and round trips without the idle reads and the
// preparations, which follow apart.
func (c serverCounts) String() string {
	return fmt.Sprintf("%.1f SQL statements (+%.1f in idle reads, +%.1f preparations), %.1f round trips (+%.1f), %.1f write transactions, %.1f messages published, %.1f queue hops, %.1f key-vault calls",
		c.statements-c.idleStatements-c.prepares, c.idleStatements, c.prepares, c.roundTrips-c.idleRoundTrips-c.prepares, c.idleRoundTrips+c.prepares,
		c.writeTx, c.published, c.handled, c.vaultCalls)
}
