package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/keyward/keyward/bootstrap"
)

// benchCmd pushes orders through keyward's HTTP API and reports
// throughput, latencies and costs (see bootstrap.RunBench).
type benchCmd struct {
	Orders        int      `default:"1000" help:"Orders to place, pay, deliver and reveal."`
	Clients       int      `default:"16" help:"Concurrent customers (and connections for the commit ceiling)."`
	Rate          float64  `default:"0" help:"Orders started per second (0: as fast as possible)."`
	Server        string   `placeholder:"URL" help:"Drive this running keyward instead of starting one (IPN secret and maildir from the configuration)."`
	CompareMemory bool     `default:"true" negatable:"" help:"Run the same load in memory mode for the ceiling ratio."`
	Profile       string   `placeholder:"DIR" help:"Write the server's CPU (first 10 s of load) and allocation profiles to this directory."`
	Variant       []string `placeholder:"NAME:KEYWARD_X=V,..." sep:"none" help:"Also run NAME:KEY=VALUE[,KEY=VALUE] (repeatable), to compare a setting within one run."`
}

func (benchCmd) environment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_BROKER", "KEYWARD_KEY_VAULT", "KEYWARD_MAIL_DIR")
}

func (c benchCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	opts := bootstrap.BenchOptions{Orders: c.Orders, Clients: c.Clients, Rate: c.Rate, Server: c.Server,
		CompareMemory: c.CompareMemory, ProfileDir: c.Profile}
	for _, s := range c.Variant {
		v, err := bootstrap.ParseBenchVariant(s)
		if err != nil {
			return usageError{"--variant: " + err.Error()}
		}
		opts.Variants = append(opts.Variants, v)
	}
	if opts.Executable, err = os.Executable(); err != nil {
		return fmt.Errorf("find the keyward binary: %w", err)
	}
	opts.Env = os.Environ() // the started server reads the same configuration
	p := newProgress(e, "orders done").perSecond()
	opts.Progress = p.fn()
	defer p.end()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return bootstrap.RunBench(ctx, cfg, opts, afterProgress{p, e.stdout})
}
