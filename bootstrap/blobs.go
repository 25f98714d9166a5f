package bootstrap

import (
	"fmt"
	"net"
	"net/url"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/s3"
	"github.com/keyward/keyward/ports"
)

// BlobConfig chooses where sealed key ciphertext is stored
// (KEYWARD_BLOB_STORE) and configures the S3-compatible bucket.
type BlobConfig struct {
	BlobStore         string `env:"KEYWARD_BLOB_STORE" doc:"where sealed key ciphertext is stored: \x60postgres\x60, \x60memory\x60 or \x60s3\x60; unset: \x60postgres\x60 with \x60KEYWARD_DATABASE_URL\x60, \x60memory\x60 without"`
	S3Endpoint        string `env:"KEYWARD_S3_ENDPOINT" secret:"url" doc:"S3-compatible service base URL, such as \x60https://<account>.r2.cloudflarestorage.com\x60, \x60https://s3.eu-west-1.amazonaws.com\x60 or \x60http://127.0.0.1:9000\x60, with \x60KEYWARD_BLOB_STORE=s3\x60"`
	S3Region          string `env:"KEYWARD_S3_REGION" envDefault:"auto" doc:"region the requests are signed for: \x60auto\x60 for R2, the bucket's region for AWS"`
	S3Bucket          string `env:"KEYWARD_S3_BUCKET" doc:"bucket for the ciphertext; it must exist"`
	S3AccessKeyID     string `env:"KEYWARD_S3_ACCESS_KEY_ID" secret:"true" doc:"access key id allowed to read, write and delete objects in the bucket"`
	S3SecretAccessKey string `env:"KEYWARD_S3_SECRET_ACCESS_KEY" secret:"true" doc:"its secret access key"`
	S3PathStyle       bool   `env:"KEYWARD_S3_PATH_STYLE" envDefault:"false" doc:"address the bucket as \x60<endpoint>/<bucket>\x60 (MinIO) instead of \x60<bucket>.<endpoint>\x60 (AWS; R2 takes both)"`
}

// The blob stores KEYWARD_BLOB_STORE names.
const (
	blobsPostgres = "postgres"
	blobsMemory   = "memory"
	blobsS3       = "s3"
)

// blobStore is the configured blob store, or the default: Postgres when
// there is a database, memory otherwise. A tag default cannot depend on
// another variable, so the rule lives here.
func (c Config) blobStore() string {
	switch {
	case c.Blobs.BlobStore != "":
		return c.Blobs.BlobStore
	case c.DatabaseURL != "":
		return blobsPostgres
	default:
		return blobsMemory
	}
}

// validateBlobs returns an error naming the variable to set or fix.
func (c Config) validateBlobs() error {
	b := c.Blobs
	switch c.blobStore() {
	case blobsMemory:
		if c.DatabaseURL != "" {
			return fmt.Errorf("KEYWARD_BLOB_STORE=memory with KEYWARD_DATABASE_URL would lose every sealed key at restart while the orders and data keys survive: use postgres or s3")
		}
	case blobsPostgres:
		if c.DatabaseURL == "" {
			return fmt.Errorf("KEYWARD_BLOB_STORE=postgres needs KEYWARD_DATABASE_URL")
		}
	case blobsS3:
		for _, v := range []struct{ name, value string }{
			{"KEYWARD_S3_ENDPOINT", b.S3Endpoint},
			{"KEYWARD_S3_BUCKET", b.S3Bucket},
			{"KEYWARD_S3_ACCESS_KEY_ID", b.S3AccessKeyID},
			{"KEYWARD_S3_SECRET_ACCESS_KEY", b.S3SecretAccessKey},
		} {
			if v.value == "" {
				return fmt.Errorf("KEYWARD_BLOB_STORE=s3 needs %s", v.name)
			}
		}
		u, err := url.Parse(b.S3Endpoint)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			return fmt.Errorf("KEYWARD_S3_ENDPOINT must be an http:// or https:// base URL such as https://<account>.r2.cloudflarestorage.com")
		case u.User != nil:
			return fmt.Errorf("KEYWARD_S3_ENDPOINT must not hold credentials: set KEYWARD_S3_ACCESS_KEY_ID and KEYWARD_S3_SECRET_ACCESS_KEY")
		case (u.Path != "" && u.Path != "/") || u.RawQuery != "":
			return fmt.Errorf("KEYWARD_S3_ENDPOINT must be a base URL without a path or query: the bucket goes in KEYWARD_S3_BUCKET")
		case !b.S3PathStyle && (net.ParseIP(u.Hostname()) != nil || u.Hostname() == "localhost"):
			// <bucket>.127.0.0.1 resolves nowhere.
			return fmt.Errorf("KEYWARD_S3_ENDPOINT %s has no names below it for virtual-hosted buckets: set KEYWARD_S3_PATH_STYLE=true", u.Host)
		}
	default:
		return fmt.Errorf("KEYWARD_BLOB_STORE must be postgres, memory or s3, not %q", b.BlobStore)
	}
	return nil
}

// blobStoreModule binds ports.BlobStore to the configured store.
func blobStoreModule(cfg Config) fx.Option {
	switch cfg.blobStore() {
	case blobsS3:
		return S3BlobsModule
	case blobsPostgres:
		return PostgresBlobsModule
	default:
		return MemoryBlobsModule
	}
}

// MemoryBlobsModule keeps ciphertext in process memory.
var MemoryBlobsModule = fx.Module("blobs.memory",
	fx.Provide(fx.Annotate(memory.NewBlobs, fx.As(new(ports.BlobStore)))),
)

// PostgresBlobsModule keeps ciphertext in the blobs table of
// KEYWARD_DATABASE_URL (PostgresModule provides the database).
var PostgresBlobsModule = fx.Module("blobs.postgres",
	fx.Provide(fx.Annotate(postgres.NewBlobs, fx.As(new(ports.BlobStore)))),
)

// S3BlobsModule keeps ciphertext in an S3-compatible bucket (R2, AWS S3,
// MinIO); /readyz reports whether the bucket answers.
var S3BlobsModule = fx.Module("blobs.s3",
	fx.Provide(
		func(cfg Config) (*s3.Store, error) {
			b := cfg.Blobs
			st, err := s3.New(s3.Config{
				Endpoint: b.S3Endpoint, Region: b.S3Region, Bucket: b.S3Bucket,
				AccessKeyID: b.S3AccessKeyID, SecretAccessKey: b.S3SecretAccessKey, PathStyle: b.S3PathStyle,
			})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_S3_*: %w", err)
			}
			return st, nil
		},
		func(st *s3.Store) ports.BlobStore { return st },
		fx.Annotate(func(st *s3.Store) ports.HealthCheck {
			return ports.HealthCheck{Name: "blobs", Check: st.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
)
