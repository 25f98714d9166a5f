package porttest

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// BlobStore runs the ports.BlobStore contract. newStore is called once
// per subtest, from parallel subtests, and must return an empty store.
func BlobStore(t *testing.T, newStore func(t *testing.T) ports.BlobStore) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.BlobStore)
	}{
		{"put then get returns the same bytes", testBlobRoundTrip},
		{"put replaces", testBlobOverwrite},
		{"get of a missing ref is not found", testBlobMissing},
		{"delete removes only the given refs", testBlobDelete},
		{"empty data is stored", testBlobEmpty},
		{"a blank ref is refused", testBlobBlankRef},
		{"a large image key round-trips", testBlobLarge},
		{"refs sharing a prefix are distinct", testBlobPrefixes},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newStore(t))
		})
	}
}

// sealedBytes looks like ciphertext: every byte value, NULs included.
func sealedBytes() []byte {
	b := make([]byte, 300)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func testBlobRoundTrip(t *testing.T, s ports.BlobStore) {
	data := sealedBytes()
	put(t, s, "sealed/ord-1/item-1/0", data)
	data[0] ^= 0xff // the store must not keep the caller's slice
	got := wantBlob(t, s, "sealed/ord-1/item-1/0", sealedBytes())
	got[1] ^= 0xff // nor hand out its own
	wantBlob(t, s, "sealed/ord-1/item-1/0", sealedBytes())
	wantExists(t, s, "sealed/ord-1/item-1/0", true)
	wantExists(t, s, "sealed/ord-1/item-1/1", false)
}

func testBlobOverwrite(t *testing.T, s ports.BlobStore) {
	put(t, s, "ref", []byte("first"))
	put(t, s, "ref", []byte("second, longer"))
	wantBlob(t, s, "ref", []byte("second, longer"))
}

func testBlobMissing(t *testing.T, s ports.BlobStore) {
	_, err := s.Get(t.Context(), "nope")
	wantIs(t, err, domain.ErrNotFound, "Get of a missing ref")
}

func testBlobDelete(t *testing.T, s ports.BlobStore) {
	for _, ref := range []string{"a", "b", "c"} {
		put(t, s, ref, []byte(ref))
	}
	if err := s.Delete(t.Context(), "a", "b", "never-stored"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Delete(t.Context()); err != nil {
		t.Errorf("Delete of nothing: %v", err)
	}
	wantExists(t, s, "a", false)
	wantExists(t, s, "b", false)
	wantBlob(t, s, "c", []byte("c"))
	_, err := s.Get(t.Context(), "a")
	wantIs(t, err, domain.ErrNotFound, "Get after Delete")
}

func testBlobEmpty(t *testing.T, s ports.BlobStore) {
	put(t, s, "empty", nil)
	wantExists(t, s, "empty", true)
	wantBlob(t, s, "empty", nil)
}

func testBlobBlankRef(t *testing.T, s ports.BlobStore) {
	if err := s.Put(t.Context(), "", []byte("x")); err == nil {
		t.Errorf("Put with an empty ref succeeded")
	}
}

// largeBlobSize is a sealed image key of a few megabytes, as suppliers
// deliver some scans and screenshots.
const largeBlobSize = 4<<20 + 17

func testBlobLarge(t *testing.T, s ports.BlobStore) {
	data := make([]byte, largeBlobSize)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	put(t, s, "orders/ord-1/item-img/0", data)
	wantBlob(t, s, "orders/ord-1/item-img/0", data)
	wantExists(t, s, "orders/ord-1/item-img/0", true)
}

func testBlobPrefixes(t *testing.T, s ports.BlobStore) {
	refs := []string{"orders/o/i/1", "orders/o/i/10", "orders/o/i", "orders/o"}
	for _, ref := range refs {
		put(t, s, ref, []byte(ref))
	}
	if err := s.Delete(t.Context(), "orders/o/i/1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantExists(t, s, "orders/o/i/1", false)
	for _, ref := range refs[1:] {
		wantBlob(t, s, ref, []byte(ref))
	}
}

func put(t *testing.T, s ports.BlobStore, ref string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), ref, data); err != nil {
		t.Fatalf("Put(%s): %v", ref, err)
	}
}

func wantBlob(t *testing.T, s ports.BlobStore, ref string, want []byte) []byte {
	t.Helper()
	got, err := s.Get(t.Context(), ref)
	if err != nil {
		t.Fatalf("Get(%s): %v", ref, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Get(%s) = %d bytes %.16x…, want %d bytes %.16x…", ref, len(got), got, len(want), want)
	}
	return got
}

func wantExists(t *testing.T, s ports.BlobStore, ref string, want bool) {
	t.Helper()
	ok, err := s.Exists(t.Context(), ref)
	if err != nil || ok != want {
		t.Errorf("Exists(%s) = %t, %v; want %t", ref, ok, err, want)
	}
}
