package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/keyward/keyward/bootstrap"
)

// bench pushes orders through keyward's HTTP API and reports throughput,
// latencies and costs (see bootstrap.RunBench).
func bench(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	opts := bootstrap.BenchOptions{}
	fs.IntVar(&opts.Orders, "orders", 1000, "orders to place, pay, deliver and reveal")
	fs.IntVar(&opts.Clients, "clients", 16, "concurrent customers (and connections for the commit ceiling)")
	fs.Float64Var(&opts.Rate, "rate", 0, "orders started per second (0: as fast as possible)")
	fs.StringVar(&opts.Server, "server", "", "drive this running keyward instead of starting one (IPN secret and maildir from the configuration)")
	fs.BoolVar(&opts.CompareMemory, "compare-memory", true, "run the same load in memory mode for the ceiling ratio")
	fs.StringVar(&opts.ProfileDir, "profile", "", "write the server's CPU (first 10 s of load) and allocation profiles to this directory")
	fs.Func("variant", "also run NAME:KEY=VALUE[,KEY=VALUE] (repeatable), to compare a setting within one run", func(v string) error {
		variant, err := bootstrap.ParseBenchVariant(v)
		opts.Variants = append(opts.Variants, variant)
		return err
	})
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if opts.Executable, err = os.Executable(); err != nil {
		return fmt.Errorf("find the keyward binary: %w", err)
	}
	opts.Env = os.Environ() // the started server reads the same configuration
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return bootstrap.RunBench(ctx, cfg, opts, out)
}
