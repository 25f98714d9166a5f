package bootstrap_test

import (
	"strings"
	"testing"

	"go.uber.org/fx"

	"github.com/keyward/keyward/bootstrap"
)

// s3Env is a complete KEYWARD_BLOB_STORE=s3 configuration.
func s3Env(kv ...string) []string {
	return append([]string{
		"KEYWARD_BLOB_STORE", "s3",
		"KEYWARD_S3_ENDPOINT", "https://acct.r2.cloudflarestorage.com",
		"KEYWARD_S3_BUCKET", "keyward",
		"KEYWARD_S3_ACCESS_KEY_ID", "id",
		"KEYWARD_S3_SECRET_ACCESS_KEY", "blob-s3cret",
	}, kv...)
}

func TestBlobConfigParses(t *testing.T) {
	t.Parallel()
	c, err := bootstrap.LoadConfig(env(s3Env("KEYWARD_S3_REGION", "eu-west-1", "KEYWARD_S3_PATH_STYLE", "true")...))
	if err != nil {
		t.Fatal(err)
	}
	want := bootstrap.BlobConfig{
		BlobStore: "s3", S3Endpoint: "https://acct.r2.cloudflarestorage.com", S3Region: "eu-west-1", S3Bucket: "keyward",
		S3AccessKeyID: "id", S3SecretAccessKey: "blob-s3cret", S3PathStyle: true,
	}
	if c.Blobs != want {
		t.Errorf("parsed %+v, want %+v", c.Blobs, want)
	}
	c, err = bootstrap.LoadConfig(env(s3Env()...))
	if err != nil || c.Blobs.S3Region != "auto" || c.Blobs.S3PathStyle {
		t.Errorf("defaults: region %q, path style %t (%v); want auto, false", c.Blobs.S3Region, c.Blobs.S3PathStyle, err)
	}
	for _, s := range bootstrap.Settings(c, env(s3Env()...)) {
		if strings.Contains(s.Value, "s3cret") {
			t.Errorf("%s shows the secret", s.Name)
		}
	}
}

// TestBlobConfigRefusals: a blob store that cannot work stops start-up
// with the variable to set or fix.
func TestBlobConfigRefusals(t *testing.T) {
	t.Parallel()
	without := func(name string) []string {
		full := s3Env()
		var out []string
		for i := 0; i < len(full); i += 2 {
			if full[i] != name {
				out = append(out, full[i], full[i+1])
			}
		}
		return out
	}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"unknown store", []string{"KEYWARD_BLOB_STORE", "ftp"}, "KEYWARD_BLOB_STORE must be postgres, memory or s3"},
		{"postgres without a database", []string{"KEYWARD_BLOB_STORE", "postgres"}, "KEYWARD_DATABASE_URL"},
		{"memory beside a database", []string{"KEYWARD_BLOB_STORE", "memory", "KEYWARD_DATABASE_URL", "postgres://h/db"}, "KEYWARD_BLOB_STORE=memory"},
		{"no endpoint", without("KEYWARD_S3_ENDPOINT"), "KEYWARD_S3_ENDPOINT"},
		{"no bucket", without("KEYWARD_S3_BUCKET"), "KEYWARD_S3_BUCKET"},
		{"no access key id", without("KEYWARD_S3_ACCESS_KEY_ID"), "KEYWARD_S3_ACCESS_KEY_ID"},
		{"no secret access key", without("KEYWARD_S3_SECRET_ACCESS_KEY"), "KEYWARD_S3_SECRET_ACCESS_KEY"},
		{"blank secret access key", s3Env("KEYWARD_S3_SECRET_ACCESS_KEY", "  "), "KEYWARD_S3_SECRET_ACCESS_KEY"},
		{"endpoint without a scheme", s3Env("KEYWARD_S3_ENDPOINT", "acct.r2.cloudflarestorage.com"), "KEYWARD_S3_ENDPOINT must be an http:// or https://"},
		{"credentials in the endpoint", s3Env("KEYWARD_S3_ENDPOINT", "https://id:blob-s3cret@acct.r2.cloudflarestorage.com"), "KEYWARD_S3_ENDPOINT must not hold credentials"},
		{"an IP endpoint with virtual-hosted buckets", s3Env("KEYWARD_S3_ENDPOINT", "http://127.0.0.1:9000"), "KEYWARD_S3_PATH_STYLE=true"},
		{"bucket in the endpoint", s3Env("KEYWARD_S3_ENDPOINT", "https://acct.r2.cloudflarestorage.com/keyward"), "KEYWARD_S3_BUCKET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := bootstrap.LoadConfig(env(tt.env...))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}

// TestBlobConfigAccepts: the default choices and a complete s3 setup load.
func TestBlobConfigAccepts(t *testing.T) {
	t.Parallel()
	for _, e := range [][]string{
		nil,
		{"KEYWARD_DATABASE_URL", "postgres://h/db"},
		{"KEYWARD_BLOB_STORE", "memory"},
		{"KEYWARD_BLOB_STORE", "postgres", "KEYWARD_DATABASE_URL", "postgres://h/db"},
		s3Env(),
		s3Env("KEYWARD_DATABASE_URL", "postgres://h/db", "KEYWARD_S3_ENDPOINT", "http://127.0.0.1:9000/", "KEYWARD_S3_PATH_STYLE", "true"),
	} {
		if _, err := bootstrap.LoadConfig(env(e...)); err != nil {
			t.Errorf("%q: %v", e, err)
		}
	}
}

// TestBlobGraphs: every blob store choice gives a complete graph, with
// exactly one ports.BlobStore.
func TestBlobGraphs(t *testing.T) {
	t.Parallel()
	for name, e := range map[string][]string{
		"s3 in memory":   s3Env(),
		"s3 on postgres": s3Env("KEYWARD_DATABASE_URL", "postgres://localhost/x"),
		"postgres":       {"KEYWARD_BLOB_STORE", "postgres", "KEYWARD_DATABASE_URL", "postgres://localhost/x"},
		"memory":         {"KEYWARD_BLOB_STORE", "memory"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg, err := bootstrap.LoadConfig(env(e...))
			if err != nil {
				t.Fatal(err)
			}
			if err := fx.ValidateApp(bootstrap.Options(cfg)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
