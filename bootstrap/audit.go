package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/localdir"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/s3"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// AuditConfig configures the signed checkpoints of the audit trail.
type AuditConfig struct {
	CheckpointPath     string        `env:"KEYWARD_AUDIT_CHECKPOINT_PATH" secret:"url" doc:"where signed checkpoints of the audit trail's head are kept, outside the database: a directory, or \x60s3://<bucket>/<prefix>\x60 through the \x60KEYWARD_S3_*\x60 endpoint and credentials; \x60keyward audit verify\x60 also checks the newest one; unset: no periodic checkpoints"`
	CheckpointInterval time.Duration `env:"KEYWARD_AUDIT_CHECKPOINT_INTERVAL" envDefault:"1h" doc:"how often a worker writes a checkpoint to \x60KEYWARD_AUDIT_CHECKPOINT_PATH\x60 (each verifies the whole trail first; at least \x601m\x60; \x600\x60 disables)"`
}

// validateAudit returns an error naming the variable to fix.
func (c Config) validateAudit() error {
	a := c.Audit
	switch {
	case a.CheckpointInterval < 0 || (a.CheckpointInterval > 0 && a.CheckpointInterval < time.Minute):
		return errors.New("KEYWARD_AUDIT_CHECKPOINT_INTERVAL must be 0 (off) or at least 1m: each checkpoint verifies the whole trail")
	case a.CheckpointPath == "":
		return nil
	case c.DatabaseURL == "":
		return errors.New("KEYWARD_AUDIT_CHECKPOINT_PATH needs KEYWARD_DATABASE_URL: the in-memory audit trail dies with the process")
	}
	if !strings.HasPrefix(a.CheckpointPath, "s3://") {
		return nil
	}
	bucket, _, err := s3CheckpointPath(a.CheckpointPath)
	if err != nil {
		return err
	}
	b := c.Blobs
	if b.S3Endpoint == "" || b.S3AccessKeyID == "" || b.S3SecretAccessKey == "" {
		return fmt.Errorf("KEYWARD_AUDIT_CHECKPOINT_PATH=s3://%s/… needs KEYWARD_S3_ENDPOINT, KEYWARD_S3_ACCESS_KEY_ID and KEYWARD_S3_SECRET_ACCESS_KEY", bucket)
	}
	return nil
}

// s3CheckpointPath splits s3://bucket/prefix into the bucket and the
// prefix of every object name ("" or ending in a slash).
func s3CheckpointPath(p string) (bucket, prefix string, err error) {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "s3" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", "", errors.New("KEYWARD_AUDIT_CHECKPOINT_PATH must be a directory or s3://<bucket>/<prefix>")
	}
	if prefix = strings.Trim(u.Path, "/"); prefix != "" {
		prefix += "/"
	}
	return u.Host, prefix, nil
}

// checkpointStore opens the store KEYWARD_AUDIT_CHECKPOINT_PATH names and
// returns it with the prefix of the checkpoints' names; nil when none is
// configured.
func checkpointStore(cfg Config) (application.CheckpointStore, string, error) {
	p := cfg.Audit.CheckpointPath
	switch {
	case p == "":
		return nil, "", nil
	case strings.HasPrefix(p, "s3://"):
		bucket, prefix, err := s3CheckpointPath(p)
		if err != nil {
			return nil, "", err
		}
		b := cfg.Blobs
		st, err := s3.New(s3.Config{
			Endpoint: b.S3Endpoint, Region: b.S3Region, Bucket: bucket,
			AccessKeyID: b.S3AccessKeyID, SecretAccessKey: b.S3SecretAccessKey, PathStyle: b.S3PathStyle,
		})
		if err != nil {
			return nil, "", fmt.Errorf("KEYWARD_AUDIT_CHECKPOINT_PATH: %w", err)
		}
		return st, prefix, nil
	default:
		st, err := localdir.New(p)
		if err != nil {
			return nil, "", fmt.Errorf("KEYWARD_AUDIT_CHECKPOINT_PATH: %w", err)
		}
		return st, "", nil
	}
}

// auditKeyProviders make the audit MAC key from the key vault and the data
// keys of either storage, and the checkpoints signed with it.
// On Postgres the key refuses to be made anew over a trail already MACed
// (application.ErrAuditKeyMissing).
var auditKeyProviders = fx.Provide(
	func(vault ports.KeyVault, dataKeys ports.DataKeyRepository, p struct {
		fx.In
		DB *sqlx.DB `optional:"true"`
	},
	) *application.AuditKey {
		if p.DB == nil {
			return application.NewAuditKey(vault, dataKeys)
		}
		return application.NewAuditKey(vault, dataKeys, application.RefuseCreationOver(postgres.AuditTrailSigned(p.DB)))
	},
	func(k *application.AuditKey) ports.AuditMAC { return k },
	application.NewAuditCheckpoints,
)

// startAudit loads the audit MAC key when the process starts, and has a
// Postgres audit log adopt a trail written before MACs. It is invoked
// after the key vault's own start (keyVaultModule), which a fresh Vault
// needs before it can make the key.
func startAudit(lc fx.Lifecycle, key *application.AuditKey, p struct {
	fx.In
	Postgres *postgres.AuditLog `optional:"true"`
},
) {
	lc.Append(fx.Hook{OnStart: func(ctx context.Context) error {
		if err := key.Load(ctx); err != nil {
			return fmt.Errorf("start the audit log (its key is data key %s, wrapped by the key vault): %w", application.AuditKeyID, err)
		}
		if p.Postgres != nil {
			return p.Postgres.Start(ctx)
		}
		return nil
	}})
}

// runAuditCheckpoints writes a signed checkpoint to
// KEYWARD_AUDIT_CHECKPOINT_PATH every KEYWARD_AUDIT_CHECKPOINT_INTERVAL
// (and once at start), when both are set.
func runAuditCheckpoints(lc fx.Lifecycle, cfg Config, cps application.AuditCheckpoints, log *slog.Logger) error {
	if cfg.Audit.CheckpointPath == "" || cfg.Audit.CheckpointInterval <= 0 {
		return nil
	}
	store, prefix, err := checkpointStore(cfg)
	if err != nil {
		return err
	}
	save := func(ctx context.Context) {
		if _, err := cps.Save(ctx, store, prefix); err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "audit checkpoint not written", "err", err)
		}
	}
	runInBackground(lc, everyAfter(0, cfg.Audit.CheckpointInterval, save))
	return nil
}
