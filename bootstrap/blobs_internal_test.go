package bootstrap

import "testing"

// TestBlobStoreDefault: unset, the ciphertext goes where the rest of the
// state is; set, the choice wins.
func TestBlobStoreDefault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, store, dbURL, want string
	}{
		{"no database", "", "", "memory"},
		{"a database", "", "postgres://h/db", "postgres"},
		{"s3 chosen without a database", "s3", "", "s3"},
		{"s3 chosen with a database", "s3", "postgres://h/db", "s3"},
		{"postgres chosen", "postgres", "postgres://h/db", "postgres"},
	}
	for _, tt := range tests {
		c := Defaults()
		c.DatabaseURL, c.Blobs.BlobStore = tt.dbURL, tt.store
		if got := c.blobStore(); got != tt.want {
			t.Errorf("%s: blob store %q, want %q", tt.name, got, tt.want)
		}
	}
}
