package s3_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/s3"
	"github.com/keyward/keyward/adapters/s3/s3test"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

func newStore(t *testing.T, cfg s3.Config) *s3.Store {
	t.Helper()
	s, err := s3.New(cfg)
	if err != nil {
		t.Fatalf("s3.New: %v", err)
	}
	return s
}

func TestStoreContractPathStyle(t *testing.T) {
	t.Parallel()
	porttest.BlobStore(t, func(t *testing.T) ports.BlobStore {
		return newStore(t, s3test.Start(t).Config())
	})
}

// TestStoreContractVirtualHost addresses the bucket by host name
// (<bucket>.s3.keyward.test), the default of KEYWARD_S3_PATH_STYLE.
func TestStoreContractVirtualHost(t *testing.T) {
	t.Parallel()
	porttest.BlobStore(t, func(t *testing.T) ports.BlobStore {
		return newStore(t, s3test.StartVirtualHost(t).VirtualHostConfig())
	})
}

func TestVirtualHostAddressesTheBucketByName(t *testing.T) {
	t.Parallel()
	srv := s3test.StartVirtualHost(t)
	s := newStore(t, srv.VirtualHostConfig())
	if err := s.Put(t.Context(), "orders/o/i/0", []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(t.Context(), "orders/o/i/0"); err != nil {
		t.Fatal(err)
	}
	for _, h := range srv.Hosts() {
		if !strings.HasPrefix(h, srv.Bucket+".s3.keyward.test:") {
			t.Errorf("a request went to host %q, not to the bucket's own name", h)
		}
	}
}

func TestObjectsAreOctetStreams(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	s := newStore(t, srv.Config())
	if err := s.Put(t.Context(), "orders/o/i/0", []byte{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	objs := srv.Objects(t, "orders/")
	if len(objs) != 1 || objs[0].Key != "orders/o/i/0" || objs[0].ContentType != "application/octet-stream" || string(objs[0].Data) != "\x00\x01\x02" {
		t.Errorf("stored %+v, want one application/octet-stream object orders/o/i/0", objs)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	if err := newStore(t, srv.Config()).Health(t.Context()); err != nil {
		t.Errorf("Health of a readable bucket: %v", err)
	}
	cfg := srv.Config()
	cfg.Bucket = "no-such-bucket"
	if err := newStore(t, cfg).Health(t.Context()); err == nil || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("Health of a missing bucket = %v, want an error naming it", err)
	}
}

// TestServerFailuresAreNotNotFound: a 5xx or a dropped connection must
// reach the application as a failure to retry, never as a missing object
// (which would read as shredded keys), and within the caller's deadline.
func TestServerFailuresAreNotNotFound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"503", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>`))
		}},
		{"connection dropped", func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			s := newStore(t, s3.Config{Endpoint: srv.URL, Region: "auto", Bucket: "b", AccessKeyID: "id", SecretAccessKey: "secret", PathStyle: true})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			check := func(op string, err error) {
				t.Helper()
				if err == nil || errors.Is(err, domain.ErrNotFound) {
					t.Errorf("%s = %v, want a failure that is not ErrNotFound", op, err)
				}
			}
			_, err := s.Get(ctx, "orders/o/i/0")
			check("Get", err)
			check("Put", s.Put(ctx, "orders/o/i/0", []byte("sealed")))
			check("Delete", s.Delete(ctx, "orders/o/i/0"))
			_, err = s.Exists(ctx, "orders/o/i/0")
			check("Exists", err)
			check("Health", s.Health(ctx))
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-value"
	good := s3.Config{Endpoint: "https://acct.r2.cloudflarestorage.com", Region: "auto", Bucket: "b", AccessKeyID: "id", SecretAccessKey: secret}
	tests := []struct {
		name   string
		change func(*s3.Config)
	}{
		{"no scheme", func(c *s3.Config) { c.Endpoint = "acct.r2.cloudflarestorage.com" }},
		{"other scheme", func(c *s3.Config) { c.Endpoint = "ftp://acct.r2.cloudflarestorage.com" }},
		{"credentials in the URL", func(c *s3.Config) { c.Endpoint = "https://id:" + secret + "@acct.r2.cloudflarestorage.com" }},
		{"a path", func(c *s3.Config) { c.Endpoint = "https://acct.r2.cloudflarestorage.com/bucket" }},
		{"no bucket", func(c *s3.Config) { c.Bucket = "" }},
		{"no access key id", func(c *s3.Config) { c.AccessKeyID = "" }},
		{"no secret", func(c *s3.Config) { c.SecretAccessKey = "" }},
	}
	if _, err := s3.New(good); err != nil {
		t.Fatalf("New(%+v): %v", good, err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tt.change(&c)
			_, err := s3.New(c)
			if err == nil {
				t.Fatalf("New accepted %+v", c)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func TestStoreLists(t *testing.T) {
	t.Parallel()
	porttest.BlobList(t, func(t *testing.T) porttest.ListingBlobStore {
		return newStore(t, s3test.Start(t).Config())
	})
}
