// Package s3 is a ports.BlobStore in an S3-compatible bucket (Cloudflare
// R2, AWS S3, MinIO) for sealed key ciphertext.
//
// It uses github.com/minio/minio-go/v7 rather than aws-sdk-go-v2: one
// module with a handful of small dependencies instead of the SDK's core,
// smithy and a dozen service/internal modules, and a client written for
// S3-compatible servers: path-style or virtual-hosted addressing is one
// option, a region such as R2's "auto" is taken as given (no bucket
// location lookup), and a small object goes up as one signed PUT without
// the aws-chunked checksum trailers that S3-compatible servers have been
// known to refuse.
//
// Only ciphertext is ever written here: the application seals every key
// before Put, and objects are stored as application/octet-stream.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Config locates the bucket and the credentials to use it.
type Config struct {
	// Endpoint is the service's base URL, http:// or https://, without a
	// path or credentials: https://<account>.r2.cloudflarestorage.com,
	// https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:9000.
	Endpoint string
	// Region signs the requests; R2 takes "auto".
	Region          string
	Bucket          string
	AccessKeyID     string
	SecretAccessKey string
	// PathStyle addresses the bucket as <endpoint>/<bucket> rather than
	// <bucket>.<endpoint>; MinIO needs it unless it serves bucket domains.
	PathStyle bool
	// Transport carries the requests; nil uses minio-go's default.
	Transport http.RoundTripper
}

// Store is the S3 blob store.
type Store struct {
	client *minio.Client
	bucket string
}

var _ ports.BlobStore = (*Store)(nil)

// contentType marks every object: opaque bytes, never text.
const contentType = "application/octet-stream"

// maxRetries bounds minio-go's own retries of a failed request (its default
// is 10): the message handlers retry with their own backoff, so a failing
// bucket is reported soon rather than after a long silent wait.
const maxRetries = 3

// errEmptyRef refuses a blank blob reference.
var errEmptyRef = errors.New("empty blob ref")

// New returns a store for cfg. It does not contact the server; Health does.
// It returns an error when the endpoint is not an http(s) base URL, or the
// bucket or a credential is missing.
func New(cfg Config) (*Store, error) {
	u, err := url.Parse(cfg.Endpoint)
	switch {
	case err != nil:
		return nil, fmt.Errorf("s3 endpoint: %w", err)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
		return nil, fmt.Errorf("s3 endpoint %q: want http:// or https:// and a host", u.Redacted())
	case u.User != nil:
		return nil, errors.New("s3 endpoint: credentials belong in the access key settings, not in the URL")
	case strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("s3 endpoint %q: want a base URL without a path or query (the bucket is configured apart)", u.Redacted())
	case cfg.Bucket == "":
		return nil, errors.New("s3: no bucket")
	case cfg.AccessKeyID == "" || cfg.SecretAccessKey == "":
		return nil, errors.New("s3: no access key id or secret access key")
	}
	lookup := minio.BucketLookupDNS
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKeyID, cfg.SecretAccessKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
		MaxRetries:   maxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client: %w", err)
	}
	return &Store{client: client, bucket: cfg.Bucket}, nil
}

// Put stores data under ref, replacing what was there; it refuses a blank
// ref and returns the server's or the network's error otherwise.
func (s *Store) Put(ctx context.Context, ref string, data []byte) error {
	if strings.TrimSpace(ref) == "" {
		return errEmptyRef
	}
	_, err := s.client.PutObject(ctx, s.bucket, ref, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentType, DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", ref, translate(err))
	}
	return nil
}

// Get returns the data, domain.ErrNotFound when no object is stored under
// ref, or the server's or the network's error.
func (s *Store) Get(ctx context.Context, ref string) ([]byte, error) {
	obj, err := s.client.GetObject(ctx, s.bucket, ref, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", ref, translate(err))
	}
	defer obj.Close()
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", ref, translate(err))
	}
	return data, nil
}

// Delete removes refs one by one; a missing object is not an error. It
// stops at the first failure and returns it.
func (s *Store) Delete(ctx context.Context, refs ...string) error {
	for _, ref := range refs {
		err := translate(s.client.RemoveObject(ctx, s.bucket, ref, minio.RemoveObjectOptions{}))
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			return fmt.Errorf("s3 delete %s: %w", ref, err)
		}
	}
	return nil
}

// Exists reports whether an object is stored under ref; it returns the
// server's or the network's error when it cannot tell.
func (s *Store) Exists(ctx context.Context, ref string) (bool, error) {
	_, err := s.client.StatObject(ctx, s.bucket, ref, minio.StatObjectOptions{})
	switch err = translate(err); {
	case err == nil:
		return true, nil
	case errors.Is(err, domain.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("s3 stat %s: %w", ref, err)
	}
}

// Health checks that the bucket exists and the credentials may read it
// (HEAD bucket); it returns the reason otherwise. The caller bounds it with
// ctx.
func (s *Store) Health(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3 bucket %s: %w", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("s3 bucket %s does not exist", s.bucket)
	}
	return nil
}

// translate maps a missing object to domain.ErrNotFound and keeps every
// other error (network, 5xx, denied) as it is, for the caller to wrap as a
// failure worth retrying.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if r := minio.ToErrorResponse(err); r.Code == minio.NoSuchKey || (r.StatusCode == http.StatusNotFound && r.Code != minio.NoSuchBucket) {
		return fmt.Errorf("%w: %s", domain.ErrNotFound, r.Code)
	}
	return err
}

// List returns the refs stored that start with prefix, sorted; the
// server's or the network's error otherwise.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	var refs []string
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", prefix, translate(obj.Err))
		}
		refs = append(refs, obj.Key)
	}
	slices.Sort(refs)
	return refs, nil
}
