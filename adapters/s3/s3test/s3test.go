// Package s3test starts an S3-compatible server in the test process
// (gofakes3 with an in-memory backend, behind an httptest TLS server) with
// one empty bucket, and reads what was stored behind the adapter's back.
package s3test

import (
	"context"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/keyward/keyward/adapters/s3"
)

// Credentials the server is given; gofakes3 accepts any, the adapter needs
// some.
const (
	AccessKeyID     = "keyward-test-access-key"
	SecretAccessKey = "keyward-test-secret-key"
	Region          = "auto"
)

// hostBase is the name the virtual-hosted server answers to: a bucket is
// addressed as <bucket>.s3.keyward.test, which no resolver knows, so
// VirtualHostConfig dials the server for every such name.
const hostBase = "s3.keyward.test"

// Server is a running fake S3 with one bucket.
type Server struct {
	URL     string // https://127.0.0.1:port (http:// from StartHTTP)
	Bucket  string
	srv     *httptest.Server
	backend *s3mem.Backend

	mu    sync.Mutex
	hosts map[string]bool
}

// Start starts a path-style server with an empty bucket; it stops when the
// test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false, true)
}

// StartHTTP starts a path-style server over plain http, as a local MinIO
// often is, whose URL goes into KEYWARD_S3_ENDPOINT as it is. minio-go
// then signs uploads as aws-chunked streams, which gofakes3 decodes; it
// sends an empty object without a Content-Length, which gofakes3 refuses,
// so the blob contract runs over TLS (sealed keys are never empty).
func StartHTTP(t testing.TB) *Server {
	t.Helper()
	return start(t, false, false)
}

// StartVirtualHost starts a server that also takes the bucket from the
// Host header (<bucket>.s3.keyward.test:port).
func StartVirtualHost(t testing.TB) *Server {
	t.Helper()
	return start(t, true, true)
}

func start(t testing.TB, virtualHost, tls bool) *Server {
	t.Helper()
	backend := s3mem.New()
	const bucket = "keyward-ciphertext"
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	srv := httptest.NewUnstartedServer(nil)
	var opts []gofakes3.Option
	if virtualHost {
		_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		opts = append(opts, gofakes3.WithHostBucketBase(net.JoinHostPort(hostBase, port)))
	}
	s := &Server{Bucket: bucket, srv: srv, backend: backend, hosts: map[string]bool{}}
	fake := gofakes3.New(backend, opts...).Server()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hosts[r.Host] = true
		s.mu.Unlock()
		fake.ServeHTTP(w, r)
	})
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Close stops the server: requests fail as against an unreachable
// provider.
func (s *Server) Close() { s.srv.Close() }

// Hosts returns the Host headers the server has been sent, sorted.
func (s *Server) Hosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.hosts))
}

// Config returns the adapter configuration for the path-style server,
// trusting its test certificate.
func (s *Server) Config() s3.Config {
	return s3.Config{
		Endpoint: s.URL, Region: Region, Bucket: s.Bucket,
		AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, PathStyle: true,
		Transport: s.srv.Client().Transport,
	}
}

// VirtualHostConfig returns the adapter configuration with virtual-hosted
// addressing: the endpoint is https://s3.keyward.test:port and the
// transport dials this server whatever the host name, standing in for the
// DNS wildcard a real provider has.
func (s *Server) VirtualHostConfig() s3.Config {
	addr := s.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tr := s.srv.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig.ServerName = "example.com" // a name httptest's certificate holds
	c := s.Config()
	c.Endpoint = "https://" + net.JoinHostPort(hostBase, port)
	c.PathStyle = false
	c.Transport = tr
	return c
}

// Object is an object as the server stores it.
type Object struct {
	Key         string
	ContentType string
	Data        []byte
}

// Objects returns every object in the bucket whose key starts with prefix.
func (s *Server) Objects(t testing.TB, prefix string) []Object {
	t.Helper()
	list, err := s.backend.ListBucket(s.Bucket, &gofakes3.Prefix{Prefix: prefix, HasPrefix: true}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatalf("list bucket: %v", err)
	}
	out := make([]Object, 0, len(list.Contents))
	for _, c := range list.Contents {
		obj, err := s.backend.GetObject(s.Bucket, c.Key, nil)
		if err != nil {
			t.Fatalf("get object %s: %v", c.Key, err)
		}
		data, err := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		if err != nil {
			t.Fatalf("read object %s: %v", c.Key, err)
		}
		out = append(out, Object{Key: c.Key, ContentType: contentType(obj.Metadata), Data: data})
	}
	return out
}

func contentType(meta map[string]string) string {
	for k, v := range meta {
		if strings.EqualFold(k, "Content-Type") {
			return v
		}
	}
	return ""
}
