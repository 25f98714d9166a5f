package porttest

import (
	"context"
	"slices"
	"testing"

	"github.com/keyward/keyward/ports"
)

// ListingBlobStore is a blob store that lists its refs, as the audit
// checkpoints need (application.CheckpointStore).
type ListingBlobStore interface {
	ports.BlobStore
	List(ctx context.Context, prefix string) ([]string, error)
}

// BlobList checks List: every ref stored under the prefix, sorted, none
// outside it, none deleted.
func BlobList(t *testing.T, newStore func(t *testing.T) ListingBlobStore) {
	t.Helper()
	s := newStore(t)
	ctx := t.Context()
	for _, ref := range []string{"audit/b.json", "audit/a.json", "audit/nested/c.json", "auditx/d.json", "other/e.json", "audit/gone.json"} {
		if err := s.Put(ctx, ref, []byte(ref)); err != nil {
			t.Fatalf("Put %s: %v", ref, err)
		}
	}
	if err := s.Delete(ctx, "audit/gone.json"); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx, "audit/")
	if want := []string{"audit/a.json", "audit/b.json", "audit/nested/c.json"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("List(audit/) = %q, %v; want %q", got, err, want)
	}
	if got, err := s.List(ctx, "none/"); err != nil || len(got) != 0 {
		t.Errorf("List(none/) = %q, %v; want none", got, err)
	}
}
