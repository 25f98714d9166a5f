package porttest

import (
	"bytes"
	"maps"
	"slices"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// LinkRevealStores are the stores of one database that a
// ports.DeliveryLinkForReveal reads along with its links.
type LinkRevealStores struct {
	Links    ports.DeliveryLinkRepository
	Orders   ports.OrderRepository
	DataKeys ports.DataKeyRepository
	Blobs    ports.BlobStore
}

// DeliveryLinkForReveal runs the ports.DeliveryLinkForReveal contract:
// the one read answers what the link, order, data key and blob reads
// answer apart. newStores is called from parallel subtests and must
// return empty stores of a database of their own each time. Links that
// are not a ports.DeliveryLinkForReveal skip it.
func DeliveryLinkForReveal(t *testing.T, newStores func(t *testing.T) LinkRevealStores) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, func(*testing.T) LinkRevealStores)
	}{
		{"reads the link, order, data key and sealed keys as apart", testRevealReadAll},
		{"a shredded data key or sealed key is missing from the read", testRevealReadShredded},
		{"unknown token hash is not found", testRevealReadMissing},
		{"stores say whether they are kept together", testRevealReadSameStore},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newStores)
		})
	}
}

// forReveal returns the links' ports.DeliveryLinkForReveal, skipping the
// test when they have none.
func forReveal(t *testing.T, s LinkRevealStores) ports.DeliveryLinkForReveal {
	t.Helper()
	r, ok := s.Links.(ports.DeliveryLinkForReveal)
	if !ok {
		t.Skip("not a ports.DeliveryLinkForReveal")
	}
	return r
}

// deliveredWithKeys stores a delivered order id with a link opened by
// token, its data key and a sealed key at each of its keys' refs; it
// returns the refs.
func deliveredWithKeys(t *testing.T, s LinkRevealStores, id, token string) []string {
	t.Helper()
	o := orderIn(t, id, domain.StatusDelivered)
	create(t, s.Orders, o)
	createLink(t, s.Links, newLink(t, "link-"+id, id, token, suiteT0, 3))
	createDataKey(t, s.DataKeys, id, wrapped(id, 2))
	var refs []string
	for _, it := range o.Items() {
		for _, k := range it.CurrentKeys() {
			refs = append(refs, k.BlobRef)
			if err := s.Blobs.Put(t.Context(), k.BlobRef, sealedFor(k.BlobRef)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(refs) < 2 {
		t.Fatalf("order %s has %d keys, want several", id, len(refs))
	}
	return refs
}

// sealedFor is ciphertext-like bytes of its own for ref.
func sealedFor(ref string) []byte { return append(sealedBytes(), ref...) }

func testRevealReadAll(t *testing.T, newStores func(*testing.T) LinkRevealStores) {
	s := newStores(t)
	r := forReveal(t, s)
	refs := deliveredWithKeys(t, s, "ord-1", "token-1")
	deliveredWithKeys(t, s, "ord-2", "token-2") // read along with nothing of ord-1's
	// Blobs the order's keys do not name, one of them a prefix of a ref.
	for _, ref := range []string{refs[0][:len(refs[0])-1], "sealed/ord-1/other/0"} {
		if err := s.Blobs.Put(t.Context(), ref, []byte("not a key of the order")); err != nil {
			t.Fatal(err)
		}
	}
	for _, sealed := range []bool{false, true} {
		read, err := r.GetForRevealByTokenHash(t.Context(), domain.HashToken("token-1"), sealed)
		if err != nil {
			t.Fatalf("GetForRevealByTokenHash(sealed %t): %v", sealed, err)
		}
		for _, d := range linkDiffs(read.Link.Snapshot(), linkByToken(t, s.Links, "token-1").Snapshot()) {
			t.Errorf("sealed %t: link: %s", sealed, d)
		}
		for _, d := range orderDiffs(read.Order.Snapshot(), get(t, s.Orders, "ord-1").Snapshot()) {
			t.Errorf("sealed %t: order: %s", sealed, d)
		}
		if want, err := s.DataKeys.Get(t.Context(), "ord-1"); err != nil || read.DataKey == nil || *read.DataKey != want {
			t.Errorf("sealed %t: data key %+v, want %+v (%v)", sealed, read.DataKey, want, err)
		}
		if !sealed {
			if read.Sealed != nil {
				t.Errorf("sealed keys read when not asked: %d", len(read.Sealed))
			}
			continue
		}
		if got := slices.Sorted(maps.Keys(read.Sealed)); !slices.Equal(got, slices.Sorted(slices.Values(refs))) {
			t.Errorf("sealed keys read: %v, want the order's %v", got, refs)
		}
		for _, ref := range refs {
			want, err := s.Blobs.Get(t.Context(), ref)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(read.Sealed[ref], want) {
				t.Errorf("sealed key %s read with the link differs from the blob store's", ref)
			}
		}
	}
}

func testRevealReadShredded(t *testing.T, newStores func(*testing.T) LinkRevealStores) {
	s := newStores(t)
	r := forReveal(t, s)
	refs := deliveredWithKeys(t, s, "ord-1", "token-1")
	if err := s.DataKeys.Delete(t.Context(), "ord-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.Blobs.Delete(t.Context(), refs[0]); err != nil {
		t.Fatal(err)
	}
	read, err := r.GetForRevealByTokenHash(t.Context(), domain.HashToken("token-1"), true)
	if err != nil {
		t.Fatal(err)
	}
	if read.DataKey != nil {
		t.Errorf("shredded data key read: %+v", *read.DataKey)
	}
	if _, ok := read.Sealed[refs[0]]; ok || len(read.Sealed) != len(refs)-1 {
		t.Errorf("sealed keys read: %v; want all of %v but the deleted %s", slices.Sorted(maps.Keys(read.Sealed)), refs, refs[0])
	}

	// An order not fulfilled has no keys: none read, but they were asked.
	create(t, s.Orders, orderIn(t, "ord-2", domain.StatusPaid))
	createLink(t, s.Links, newLink(t, "link-ord-2", "ord-2", "token-2", suiteT0, 3))
	read, err = r.GetForRevealByTokenHash(t.Context(), domain.HashToken("token-2"), true)
	if err != nil {
		t.Fatal(err)
	}
	if read.DataKey != nil || read.Sealed == nil || len(read.Sealed) != 0 {
		t.Errorf("order without keys: data key %+v, sealed %v (nil %t); want nil, empty and not nil", read.DataKey, slices.Sorted(maps.Keys(read.Sealed)), read.Sealed == nil)
	}
}

func testRevealReadMissing(t *testing.T, newStores func(*testing.T) LinkRevealStores) {
	s := newStores(t)
	r := forReveal(t, s)
	_, err := r.GetForRevealByTokenHash(t.Context(), domain.HashToken("nope"), true)
	wantIs(t, err, domain.ErrNotFound, "GetForRevealByTokenHash of an unknown token")
}

func testRevealReadSameStore(t *testing.T, newStores func(*testing.T) LinkRevealStores) {
	s := newStores(t)
	forReveal(t, s)
	other := newStores(t)
	for _, c := range []struct {
		name  string
		store any
		want  bool
	}{
		{"its data keys", s.DataKeys, true},
		{"its blobs", s.Blobs, true},
		{"another database's data keys", other.DataKeys, false},
		{"another database's blobs", other.Blobs, false},
		{"nothing", nil, false},
	} {
		if got := ports.SameStore(s.Links, c.store); got != c.want {
			t.Errorf("links kept with %s: %t, want %t", c.name, got, c.want)
		}
	}
	if ports.SameStore(nil, nil) {
		t.Error("two stores that do not say where they are kept are said kept together")
	}
}
