// Package bench is `keyward bench`: it starts keyward servers as child
// processes (so that their CPU and memory are their own), drives each only
// over HTTP as customers and the payment gateway do (orders, signed IPNs
// through internal/sandboxpay, the delivery email, the reveal), and
// reports throughput, latencies, the servers' CPU and memory read from
// /proc, commits per order and the machine's ceilings. It knows keyward's
// configuration only through Setup, which bootstrap fills.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress is told of each order done (revealed) in a load, of total.
type Progress = func(done, total int, item string)

// Setup is what a bench takes of keyward's configuration.
type Setup struct {
	// DatabaseURL is the Postgres server each run gets a scratch database
	// on; empty runs in memory mode.
	DatabaseURL string
	// Adapters names the configured adapter set in the report.
	Adapters  string
	IPNSecret string // the servers verify IPNs with it
	MailDir   string // with Options.Server, where that server's mailer writes
	// DataKeyCeiling, when set, readies the configured Vault and returns
	// an operation making one data key with it: the machine's Vault
	// ceiling is measured with it.
	DataKeyCeiling func(context.Context) (func(context.Context) error, error)
	// BrokerPrefix is the configured KEYWARD_BROKER_PREFIX. With
	// RemoveBrokerState, each server the bench starts runs under it plus a
	// prefix of its own, and once that server has stopped (the bench
	// failed, or was interrupted, included) RemoveBrokerState removes what
	// it left on the broker under that prefix: a bench leaves no streams.
	BrokerPrefix      string
	RemoveBrokerState func(ctx context.Context, prefix string) error
}

// Options is one `keyward bench` run.
type Options struct {
	Orders        int
	Clients       int
	Rate          float64 // orders started per second; 0: as fast as possible
	Server        string  // drive this keyward instead of starting one
	CompareMemory bool    // run the same load in memory mode for the ceiling ratio
	Executable    string  // the keyward binary, started as `serve`
	Env           []string
	ProfileDir    string // write CPU and allocation profiles of the server here
	// Variants run the same load again with some variables changed, so
	// that a change is compared within one run.
	Variants []Variant
	// Progress, when set, is told of each order done (revealed) in each
	// load, of Orders; it is called under a lock and must not block.
	Progress Progress
}

// Variant is the configured adapters with some variables changed.
type Variant struct {
	Name string
	Env  map[string]string
}

// ParseVariant reads NAME:KEY=VALUE[,KEY=VALUE...]; it returns an
// error naming what is missing.
func ParseVariant(s string) (Variant, error) {
	name, rest, ok := strings.Cut(s, ":")
	if !ok || name == "" || rest == "" {
		return Variant{}, fmt.Errorf("variant %q: want NAME:KEY=VALUE[,KEY=VALUE]", s)
	}
	v := Variant{Name: name, Env: map[string]string{}}
	for _, kv := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "KEYWARD_") {
			return Variant{}, fmt.Errorf("variant %q: %q is not KEYWARD_NAME=VALUE", s, kv)
		}
		v.Env[k] = val
	}
	return v, nil
}

// benchRun is what one load against one server measured.
type benchRun struct {
	label   string
	load    loadResult
	server  *procStats // nil when the bench did not start the server
	commits float64    // per order; < 0 without Postgres
	// counts is what an order cost the server by its /metrics; nil when
	// they could not be read.
	counts *serverCounts
}

// Run pushes opts.Orders orders through keyward's HTTP API (create,
// signed IPN, delivery email, reveal) and writes what it measured to out:
// throughput, latencies, errors, the server's CPU per order and peak
// memory, commits per order, the machine's ceilings and, last, the ratio
// to the same load in memory mode. It returns an error when a server could
// not be started or reached; failed orders are counted, not returned.
func Run(ctx context.Context, cfg Setup, opts Options, out io.Writer) error {
	if opts.Orders < 1 || opts.Clients < 1 {
		return fmt.Errorf("--orders and --clients must be at least 1")
	}
	tmp, err := os.MkdirTemp("", "keyward-bench-")
	if err != nil {
		return fmt.Errorf("bench directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	if opts.Server != "" {
		before, countErr := scrapeCounts(ctx, http.DefaultClient, opts.Server)
		res, err := runLoad(ctx, loadSpec{base: opts.Server, mailDir: cfg.MailDir, ipnSecret: cfg.IPNSecret,
			orders: opts.Orders, clients: opts.Clients, rate: opts.Rate, tag: randomTag(), progress: opts.Progress})
		if err != nil {
			return err
		}
		run := benchRun{label: "server " + opts.Server, load: res, commits: -1}
		run.counts = countsSince(ctx, opts.Server, before, countErr, res.done, out)
		printRun(out, run)
		fmt.Fprintf(out, "%.1f orders/s end to end, ceiling ratio n/a (--server)\n", res.ordersPerSecond())
		return nil
	}

	main, err := benchConfigured(ctx, cfg, opts, tmp, out)
	if err != nil {
		return err
	}
	ratio := "1.00 (memory mode)"
	if cfg.DatabaseURL != "" && opts.CompareMemory {
		mem, err := benchChild(ctx, cfg, opts, filepath.Join(tmp, "memory"), "memory+local", memoryOverrides(), nil, "")
		if err != nil {
			return fmt.Errorf("memory run: %w", err)
		}
		printRun(out, mem)
		if m := mem.load.ordersPerSecond(); m > 0 {
			ratio = fmt.Sprintf("%.2f (memory: %.1f orders/s)", main.load.ordersPerSecond()/m, m)
		}
	} else if cfg.DatabaseURL != "" {
		ratio = "n/a (--compare-memory=false)"
	}
	fmt.Fprintf(out, "%.1f orders/s end to end, ceiling ratio %s\n", main.load.ordersPerSecond(), ratio)
	return nil
}

// benchConfigured runs the load on a server with the configured adapters
// (on a scratch database when that is Postgres), then on each variant, and
// measures the machine's ceilings beside them.
func benchConfigured(ctx context.Context, cfg Setup, opts Options, tmp string, out io.Writer) (benchRun, error) {
	label := cfg.Adapters
	fmt.Fprintf(out, "keyward bench: %d orders, %d clients, %s, adapters %s\n", opts.Orders, opts.Clients, rateText(opts.Rate), label)
	if cfg.DatabaseURL == "" {
		run, err := benchChild(ctx, cfg, opts, filepath.Join(tmp, "main"), label, memoryOverrides(), nil, opts.ProfileDir)
		if err == nil {
			printRun(out, run)
		}
		return run, err
	}
	var main benchRun
	var last *scratchDatabase
	defer func() {
		if last != nil {
			last.drop()
		}
	}()
	variants := append([]Variant{{Name: ""}}, opts.Variants...)
	for i, v := range variants {
		db, err := newScratchDatabase(ctx, cfg.DatabaseURL)
		if err != nil {
			return benchRun{}, err
		}
		if last != nil {
			last.drop()
		}
		last = db
		env := map[string]string{"KEYWARD_DATABASE_URL": db.url}
		for k, val := range v.Env {
			env[k] = val
		}
		name, profile := label, opts.ProfileDir
		if v.Name != "" {
			name = label + " " + v.Name
			if profile != "" {
				profile = filepath.Join(profile, v.Name)
			}
		}
		run, err := benchChild(ctx, cfg, opts, filepath.Join(tmp, fmt.Sprintf("run%d", i)), name, env, db, profile)
		if err != nil {
			return benchRun{}, fmt.Errorf("%s: %w", name, err)
		}
		printRun(out, run)
		if i == 0 {
			main = run
		}
	}
	commits, err := commitCeiling(ctx, last, opts.Clients, 3*time.Second)
	if err != nil {
		return benchRun{}, err
	}
	fmt.Fprintf(out, "  machine: %.0f single-row commits/s from %d clients\n", commits, opts.Clients)
	if cfg.DataKeyCeiling != nil {
		ops, err := vaultCeiling(ctx, cfg.DataKeyCeiling, opts.Clients, 3*time.Second)
		if err != nil {
			return benchRun{}, err
		}
		fmt.Fprintf(out, "  machine: %.0f Vault transit data keys/s from %d clients\n", ops, opts.Clients)
	}
	return main, nil
}

func memoryOverrides() map[string]string {
	return map[string]string{"KEYWARD_DATABASE_URL": "", "KEYWARD_KEY_VAULT": "local", "KEYWARD_BROKER": "sql", "KEYWARD_BLOB_STORE": ""}
}

// benchChild starts `keyward serve`, runs the load on it and stops it.
// With db, commits are counted; the counter is read again after the
// server has exited, since a backend publishes its counts when it ends.
func benchChild(ctx context.Context, cfg Setup, opts Options, dir, label string, overrides map[string]string, db *scratchDatabase, profileDir string) (_ benchRun, err error) {
	// Orders go round the in-stock products; the smallest has 45 keys
	// in the sandbox catalog, and a sold-out product fails its orders.
	overrides = maps.Clone(overrides)
	if overrides == nil {
		overrides = map[string]string{}
	}
	if _, set := overrides["KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE"]; !set {
		overrides["KEYWARD_SANDBOX_SUPPLIER_STOCK_SCALE"] = strconv.Itoa(1 + opts.Orders/400)
	}
	if cfg.RemoveBrokerState != nil && overrides["KEYWARD_BROKER"] != "sql" {
		prefix := cfg.BrokerPrefix + "bench" + randomTag() + "-"
		overrides["KEYWARD_BROKER_PREFIX"] = prefix
		// Deferred first, so that it runs once the server has stopped
		// and can make no stream again.
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if rerr := cfg.RemoveBrokerState(rctx, prefix); rerr != nil {
				err = errors.Join(err, fmt.Errorf("remove what the server left on the broker under %s: %w", prefix, rerr))
			}
		}()
	}
	srv, err := startBenchServer(ctx, opts.Executable, opts.Env, dir, overrides, profileDir != "")
	if err != nil {
		return benchRun{}, err
	}
	stopped := false
	defer func() {
		if !stopped {
			srv.stop()
		}
	}()
	var before int64
	if db != nil {
		if before, err = db.commits(ctx); err != nil {
			return benchRun{}, err
		}
	}
	pid := srv.cmd.Process.Pid
	st0, err := readProcStats(pid)
	if err != nil {
		return benchRun{}, err
	}
	profCtx, stopProf := context.WithCancel(ctx)
	var profiles sync.WaitGroup
	if profileDir != "" {
		profiles.Add(1)
		go func() { defer profiles.Done(); captureProfiles(profCtx, srv.pprof, profileDir) }()
	}
	counts0, countErr := scrapeCounts(ctx, http.DefaultClient, srv.base)
	res, err := runLoad(ctx, loadSpec{base: srv.base, mailDir: srv.mailDir, ipnSecret: cfg.IPNSecret,
		orders: opts.Orders, clients: opts.Clients, rate: opts.Rate, tag: randomTag(), progress: opts.Progress})
	stopProf()
	profiles.Wait()
	if err != nil {
		return benchRun{}, err
	}
	st1, err := readProcStats(pid)
	if err != nil {
		return benchRun{}, err
	}
	run := benchRun{label: label, load: res, server: &procStats{cpu: st1.cpu - st0.cpu, peakRSS: st1.peakRSS}, commits: -1}
	run.counts = countsSince(ctx, srv.base, counts0, countErr, res.done, io.Discard)
	srv.stop()
	stopped = true
	if db != nil {
		after, err := db.commits(ctx)
		if err != nil {
			return benchRun{}, err
		}
		run.commits = float64(after-before) / float64(max(res.done, 1))
	}
	return run, nil
}

// captureProfiles takes a 10 s CPU profile of the server from the start
// of the load (make the load last longer) and its allocation profile once
// the load is over (ctx cancelled).
func captureProfiles(ctx context.Context, addr, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return
	}
	fetch := func(path, file string) {
		req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, "http://"+addr+path, nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}
	fetch("/debug/pprof/profile?seconds=10", "cpu.pprof")
	<-ctx.Done()
	fetch("/debug/pprof/allocs", "allocs.pprof")
}

// commitCeiling measures single-row INSERT commits per second from
// clients connections on the scratch database.
func commitCeiling(ctx context.Context, db *scratchDatabase, clients int, span time.Duration) (float64, error) {
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE bench_commit (id bigserial PRIMARY KEY, v text)`); err != nil {
		return 0, fmt.Errorf("commit ceiling: %w", err)
	}
	db.db.SetMaxOpenConns(clients)
	return ceiling(ctx, clients, span, func(ctx context.Context) error {
		_, err := db.db.ExecContext(ctx, `INSERT INTO bench_commit (v) VALUES ('x')`)
		return err
	})
}

// vaultCeiling measures data keys per second from clients goroutines
// with the operation ready makes.
func vaultCeiling(ctx context.Context, ready func(context.Context) (func(context.Context) error, error), clients int, span time.Duration) (float64, error) {
	op, err := ready(ctx)
	if err != nil {
		return 0, fmt.Errorf("vault ceiling: %w", err)
	}
	return ceiling(ctx, clients, span, op)
}

// ceiling runs op from clients goroutines for span and returns the
// successful operations per second; the first error stops it.
func ceiling(ctx context.Context, clients int, span time.Duration, op func(context.Context) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, span)
	defer cancel()
	var n atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	began := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						firstErr.CompareAndSwap(nil, err)
						cancel()
					}
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return 0, err
	}
	return float64(n.Load()) / time.Since(began).Seconds(), nil
}

func printRun(out io.Writer, r benchRun) {
	l := r.load
	fmt.Fprintf(out, "\n[%s] %d of %d orders revealed in %.2fs: %.1f orders/s\n", r.label, l.done, l.orders, l.elapsed.Seconds(), l.ordersPerSecond())
	fmt.Fprintf(out, "  %-20s %9s %9s %9s %9s %7s\n", "latency (ms)", "p50", "p95", "p99", "max", "n")
	for _, row := range []struct {
		name string
		ds   []time.Duration
	}{{"create", l.create}, {"IPN", l.ipn}, {"paid → delivered", l.delivered}, {"reveal", l.reveal}} {
		p := percentiles(row.ds)
		fmt.Fprintf(out, "  %-20s %9.1f %9.1f %9.1f %9.1f %7d\n", row.name, ms(p[0]), ms(p[1]), ms(p[2]), ms(p[3]), len(row.ds))
	}
	errs := 0
	for _, n := range l.errors {
		errs += n
	}
	fmt.Fprintf(out, "  errors: %d\n", errs)
	for stage, n := range l.errors {
		fmt.Fprintf(out, "    %s: %d (first: %s)\n", stage, n, tailString(l.firstErr[stage], 300))
	}
	if r.server != nil {
		fmt.Fprintf(out, "  server: %.2f ms CPU per order, peak RSS %.0f MiB\n", ms(r.server.cpu)/float64(max(l.done, 1)), float64(r.server.peakRSS)/(1<<20))
	}
	if r.commits >= 0 {
		fmt.Fprintf(out, "  postgres: %.1f commits per order\n", r.commits)
	}
	if r.counts != nil {
		fmt.Fprintf(out, "  per order: %s\n", r.counts)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func rateText(r float64) string {
	if r <= 0 {
		return "as fast as possible"
	}
	return fmt.Sprintf("%.0f orders/s offered", r)
}

func randomTag() string { return fmt.Sprintf("%x", time.Now().UnixNano()&0xffffffff) }

// countsSince reads the server's counters again and returns what each of
// done orders cost since before; nil (saying why on out) when they could
// not be read. The orders' work is over when the last was revealed, but
// for the queue's idle reads, counted apart.
func countsSince(ctx context.Context, base string, before serverCounts, beforeErr error, done int, out io.Writer) *serverCounts {
	after, err := scrapeCounts(ctx, http.DefaultClient, base)
	if err = errors.Join(beforeErr, err); err != nil {
		fmt.Fprintf(out, "  per-order counts unavailable: %v\n", err)
		return nil
	}
	c := after.perOrder(before, done)
	return &c
}
