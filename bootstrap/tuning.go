package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
)

// TuningConfig holds the performance settings: the Postgres queue's
// reading and Go's profiler.
type TuningConfig struct {
	QueueWakeup       bool          `env:"KEYWARD_QUEUE_WAKEUP" envDefault:"true" doc:"Postgres queue: the outbox announces each committed event (\x60LISTEN\x60/\x60NOTIFY\x60) and consumers read it at once, polling every second as a fallback; \x60false\x60: poll every 100 ms"`
	QueueBatchSize    int           `env:"KEYWARD_QUEUE_BATCH_SIZE" envDefault:"10" doc:"Postgres queue: messages a consumer reads and acknowledges together (one commit); a batch that writes (the notifications consumer's) holds back newer events until it commits. The notifications consumer reads at most 32 (each message it handles keeps a savepoint until the batch commits, and Postgres caches 64 subtransactions)"`
	QueueFallbackPoll time.Duration `env:"KEYWARD_QUEUE_FALLBACK_POLL" envDefault:"1s" doc:"Postgres queue with \x60KEYWARD_QUEUE_WAKEUP\x60: how often a consumer reads its topic when no announcement woke it (a missed notification waits this long); also how often the webhook worker looks for due retries"`
	AuditSealPass     time.Duration `env:"KEYWARD_AUDIT_SEAL_PASS" envDefault:"1s" doc:"Postgres: how often the audit sealer looks for staged audit records it was not woken for (another process's, or left by a stop)"`
	AuditSealGather   time.Duration `env:"KEYWARD_AUDIT_SEAL_GATHER" envDefault:"20ms" doc:"Postgres: how long a woken audit sealer lets more commits arrive, so that one sealing transaction chains many records"`
	DatabaseConns     int           `env:"KEYWARD_DATABASE_MAX_CONNS" envDefault:"40" doc:"Postgres connections keyward opens at most; the queue holds one per topic partition and consumer group while it hands out a batch, the handlers need their own"`
	PprofAddr         string        `env:"KEYWARD_PPROF_ADDR" doc:"serve \x60/debug/pprof/\x60 on this loopback address (such as \x60127.0.0.1:6060\x60) for CPU and allocation profiles; unset: off"`
}

func (c TuningConfig) validate() error {
	if c.PprofAddr != "" && !loopback(c.PprofAddr) {
		return fmt.Errorf("KEYWARD_PPROF_ADDR must be a loopback address (profiles reveal internals), not %q", c.PprofAddr)
	}
	if c.DatabaseConns < 2 {
		return fmt.Errorf("KEYWARD_DATABASE_MAX_CONNS must be at least 2")
	}
	if c.QueueFallbackPoll <= 0 || c.AuditSealPass <= 0 || c.AuditSealGather < 0 {
		return fmt.Errorf("KEYWARD_QUEUE_FALLBACK_POLL and KEYWARD_AUDIT_SEAL_PASS must be positive, KEYWARD_AUDIT_SEAL_GATHER not negative")
	}
	if c.QueueBatchSize < 1 || c.QueueBatchSize > 1000 {
		return fmt.Errorf("KEYWARD_QUEUE_BATCH_SIZE must be between 1 and 1000")
	}
	return nil
}

// newQueueOptions sets the SQL subscribers up from the configuration; with
// KEYWARD_QUEUE_WAKEUP it listens for the outbox's notifications on
// KEYWARD_DATABASE_URL, so that an event is read as soon as it commits
// rather than at the next poll.
func newQueueOptions(lc fx.Lifecycle, cfg Config, stop *stopping, log *slog.Logger) messaging.SQLQueueOptions {
	opts := messaging.SQLQueueOptions{BatchSize: cfg.Tuning.QueueBatchSize}
	if !cfg.Tuning.QueueWakeup {
		return opts
	}
	// Listening starts with the process, so that a start that fails
	// before it leaves no listener behind.
	w := messaging.PrepareWakeup(cfg.DatabaseURL, log.With("component", "outbox-wakeup"))
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if err := w.Start(ctx); err != nil {
				return fmt.Errorf("KEYWARD_DATABASE_URL: %w", err)
			}
			return nil
		},
		OnStop: func(context.Context) error { return w.Close() },
	})
	opts.Wakeup = w
	opts.FallbackPoll, opts.Stopping = cfg.Tuning.QueueFallbackPoll, stop.ch
	return opts
}

// profilingModule serves the profiler on its own listener, apart from the
// API, when KEYWARD_PPROF_ADDR is set.
func profilingModule(cfg Config) fx.Option {
	if cfg.Tuning.PprofAddr == "" {
		return fx.Options()
	}
	return fx.Invoke(func(lc fx.Lifecycle, log *slog.Logger) {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		srv := &http.Server{Addr: cfg.Tuning.PprofAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error {
				ln, err := net.Listen("tcp", cfg.Tuning.PprofAddr)
				if err != nil {
					return fmt.Errorf("KEYWARD_PPROF_ADDR: %w", err)
				}
				go func() {
					if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
						log.Error("pprof server stopped", "err", err)
					}
				}()
				return nil
			},
			OnStop: func(ctx context.Context) error { return srv.Shutdown(ctx) },
		})
	})
}
