package localdir_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/adapters/localdir"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

func TestStoreContract(t *testing.T) {
	t.Parallel()
	porttest.BlobStore(t, func(t *testing.T) ports.BlobStore {
		s, err := localdir.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// Every ref is one file directly in the directory: none reaches outside.
func TestStoreKeepsEveryRefInItsDirectory(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	dir := filepath.Join(parent, "checkpoints")
	s, err := localdir.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"", ".", ".."} {
		if err := s.Put(t.Context(), ref, []byte("x")); err == nil {
			t.Errorf("Put(%q) succeeded", ref)
		}
	}
	refs := []string{"../escape", "/etc/passwd-copy", "a/../../b"}
	for _, ref := range refs {
		if err := s.Put(t.Context(), ref, []byte("x")); err != nil {
			t.Fatalf("Put(%q): %v", ref, err)
		}
	}
	files, err := os.ReadDir(dir)
	if err != nil || len(files) != len(refs) {
		t.Fatalf("the directory holds %d files (%v), want %d", len(files), err, len(refs))
	}
	if outside, _ := os.ReadDir(parent); len(outside) != 1 {
		t.Errorf("the parent directory holds %d entries, want only the store's", len(outside))
	}
}

func TestStoreLists(t *testing.T) {
	t.Parallel()
	porttest.BlobList(t, func(t *testing.T) porttest.ListingBlobStore {
		s, err := localdir.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
