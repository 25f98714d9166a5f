package bootstrap

import (
	"context"
	"io"
	"log/slog"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/internal/bench"
)

// BenchOptions is one `keyward bench` run (see internal/bench).
type BenchOptions = bench.Options

// BenchVariant is the configured adapters with some variables changed.
type BenchVariant = bench.Variant

// ParseBenchVariant reads NAME:KEY=VALUE[,KEY=VALUE...]; it returns an
// error naming what is missing.
func ParseBenchVariant(s string) (BenchVariant, error) { return bench.ParseVariant(s) }

// RunBench runs `keyward bench` (bench.Run) for the configuration cfg:
// its servers are started with the environment in opts, and the bench
// drives them over HTTP only.
func RunBench(ctx context.Context, cfg Config, opts BenchOptions, out io.Writer) error {
	return bench.Run(ctx, benchSetup(cfg), opts, out)
}

// benchSetup is what the bench takes of cfg: where its scratch databases
// go, the adapter set it reports, the IPN secret it signs with, Vault for
// the machine's ceiling, and how to remove the NATS streams its servers
// make.
func benchSetup(cfg Config) bench.Setup {
	s := bench.Setup{DatabaseURL: cfg.DatabaseURL, Adapters: adapterSet(cfg), IPNSecret: cfg.IPNSecret, MailDir: cfg.MailDir,
		BrokerPrefix: cfg.Messaging.Prefix}
	if cfg.KeyVault == "vault" {
		s.DataKeyCeiling = func(ctx context.Context) (func(context.Context) error, error) {
			v, err := newVault(cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				return nil, err
			}
			if err := v.Init(ctx); err != nil {
				return nil, vaultFailure(cfg, err)
			}
			return func(ctx context.Context) error {
				_, err := v.NewDataKey(ctx, "bench-order")
				return err
			}, nil
		}
	}
	if cfg.Messaging.Broker == BrokerNATS {
		s.RemoveBrokerState = func(ctx context.Context, prefix string) error {
			_, err := messaging.RemoveNATSStreams(ctx, cfg.Messaging.NATSURL, prefix)
			return err
		}
	}
	return s
}

// adapterSet names the adapters a bench exercises.
func adapterSet(cfg Config) string {
	if cfg.DatabaseURL == "" {
		return "memory+local"
	}
	s := "postgres+" + cfg.KeyVault
	if cfg.Messaging.Broker != BrokerSQL {
		s += "+" + cfg.Messaging.Broker
	}
	return s
}
