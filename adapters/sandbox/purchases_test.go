package sandbox

import (
	"bytes"
	"errors"
	"testing"

	"github.com/keyward/keyward/domain"
)

// TestRestartedSandboxKnowsItsPurchases: a sandbox started again (same
// seed, empty memory) finds an order the previous one placed, by its id,
// with the same keys, as a real supplier would after keyward crashed; an id
// it never issued, or one tampered with, stays unknown.
func TestRestartedSandboxKnowsItsPurchases(t *testing.T) {
	t.Parallel()
	before := NewSupplier(SupplierConfig{Seed: 7})
	o := mustPlace(t, before, buy(t, before, steamGame, "item-1", 2))
	want, err := before.Keys(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}

	after := NewSupplier(SupplierConfig{Seed: 7})
	got, err := after.Keys(t.Context(), o.ID)
	if err != nil {
		t.Fatalf("restarted sandbox: keys of %s: %v", o.ID, err)
	}
	if len(got) != 2 || !bytes.Equal(got[0].Data, want[0].Data) || !bytes.Equal(got[1].Data, want[1].Data) {
		t.Fatal("the restarted sandbox derived other keys")
	}
	if so, err := after.Order(t.Context(), o.ID); err != nil || so.ExternalID != "item-1" {
		t.Fatalf("order %+v %v", so, err)
	}

	tampered := o.ID[:len(o.ID)-2] + "AA"
	for _, id := range []string{"PXUNKNOWN", tampered} {
		if _, err := NewSupplier(SupplierConfig{Seed: 7}).Keys(t.Context(), id); !errors.Is(err, domain.ErrNotFound) {
			t.Fatalf("keys of %q = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := NewSupplier(SupplierConfig{Seed: 8}).Keys(t.Context(), o.ID); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another seed's sandbox knows the order: %v", err)
	}
}
