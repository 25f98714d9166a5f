package porttest

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"

	"github.com/keyward/keyward/ports"
)

// DataKeyImporter runs the ports.DataKeyImporter contract: a data key made
// by another vault, once imported, opens under its order (and no other)
// with the same bytes, in a ciphertext of the importer's kind, under the
// latest version. newVault is called once per subtest, as for KeyVault.
func DataKeyImporter(t *testing.T, newVault func(t *testing.T) ports.DataKeyImporter) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.DataKeyImporter)
	}{
		{"imported key opens with the same bytes", testImportRoundTrip},
		{"imported key is bound to its order", testImportBound},
		{"imported key takes the latest version", testImportLatest},
		{"a key of another length is refused", testImportLength},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newVault(t))
		})
	}
}

func foreignKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return k
}

func importKey(t *testing.T, v ports.DataKeyImporter, orderID string, pt []byte) ports.WrappedKey {
	t.Helper()
	wk, err := v.ImportDataKey(t.Context(), orderID, pt)
	if err != nil {
		t.Fatalf("ImportDataKey(%s): %v", orderID, err)
	}
	return wk
}

func testImportRoundTrip(t *testing.T, v ports.DataKeyImporter) {
	pt := foreignKey()
	want := bytes.Clone(pt)
	wk := importKey(t, v, "stock/some-sku", pt)
	clear(pt) // the importer must have kept no reference it relies on
	if !strings.HasPrefix(wk.Ciphertext, v.Kind()+":v") {
		t.Fatalf("imported ciphertext %.10s… is not of kind %q", wk.Ciphertext, v.Kind())
	}
	if got := headerVersion(t, wk.Ciphertext); got != wk.Version {
		t.Errorf("ciphertext header says v%d, Version says %d", got, wk.Version)
	}
	if got := unwrap(t, v, "stock/some-sku", wk); !bytes.Equal(got, want) {
		t.Fatalf("imported key unwraps to other bytes")
	}
	// Rewrap, as a later rotation does, keeps the imported bytes.
	re, err := v.Rewrap(t.Context(), []ports.RewrapRequest{{OrderID: "stock/some-sku", Wrapped: wk}})
	if err != nil {
		t.Fatalf("Rewrap of an imported key: %v", err)
	}
	if got := unwrap(t, v, "stock/some-sku", re[0]); !bytes.Equal(got, want) {
		t.Fatalf("rewrapped imported key unwraps to other bytes")
	}
}

func testImportBound(t *testing.T, v ports.DataKeyImporter) {
	wk := importKey(t, v, "order-a", foreignKey())
	_, err := v.UnwrapDataKey(t.Context(), "order-b", wk)
	wantInvalid(t, err, "imported key unwrapped under another order")
}

func testImportLatest(t *testing.T, v ports.DataKeyImporter) {
	latest, err := v.Rotate(t.Context())
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if wk := importKey(t, v, "order-a", foreignKey()); wk.Version != latest {
		t.Errorf("imported under v%d, want the latest v%d", wk.Version, latest)
	}
}

func testImportLength(t *testing.T, v ports.DataKeyImporter) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := v.ImportDataKey(t.Context(), "order-a", make([]byte, n)); err == nil {
			t.Errorf("imported a %d-byte data key", n)
		}
	}
}
