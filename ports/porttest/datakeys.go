package porttest

import (
	"fmt"
	"slices"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DataKeyRepository runs the ports.DataKeyRepository contract. newRepo is
// called once per subtest, from parallel subtests, and must return an
// empty repository.
func DataKeyRepository(t *testing.T, newRepo func(t *testing.T) ports.DataKeyRepository) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.DataKeyRepository)
	}{
		{"create then get", testDataKeyRoundTrip},
		{"a second key for an order conflicts", testDataKeyDuplicate},
		{"get of a missing key is not found", testDataKeyMissing},
		{"delete shreds, and is idempotent", testDataKeyDelete},
		{"list older than a version pages by order id", testDataKeyListOlder},
		{"replace swaps only the expected key", testDataKeyReplace},
		{"count by the wrapping vault's kind", testDataKeyCountWrappedBy},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newRepo(t))
		})
	}
}

func testDataKeyRoundTrip(t *testing.T, repo ports.DataKeyRepository) {
	k := wrapped("ord-1", 3)
	createDataKey(t, repo, "ord-1", k)
	wantDataKey(t, repo, "ord-1", k)
}

func testDataKeyDuplicate(t *testing.T, repo ports.DataKeyRepository) {
	k := wrapped("ord-1", 1)
	createDataKey(t, repo, "ord-1", k)
	wantIs(t, repo.Create(t.Context(), "ord-1", wrapped("ord-1 again", 2)), domain.ErrConflict, "second Create")
	wantDataKey(t, repo, "ord-1", k)
}

func testDataKeyMissing(t *testing.T, repo ports.DataKeyRepository) {
	_, err := repo.Get(t.Context(), "ord-nope")
	wantIs(t, err, domain.ErrNotFound, "Get of a missing key")
}

func testDataKeyDelete(t *testing.T, repo ports.DataKeyRepository) {
	createDataKey(t, repo, "ord-1", wrapped("ord-1", 1))
	createDataKey(t, repo, "ord-2", wrapped("ord-2", 1))
	for range 2 {
		if err := repo.Delete(t.Context(), "ord-1"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	if err := repo.Delete(t.Context(), "ord-never"); err != nil {
		t.Errorf("Delete of a key never stored: %v", err)
	}
	_, err := repo.Get(t.Context(), "ord-1")
	wantIs(t, err, domain.ErrNotFound, "Get after Delete")
	wantDataKey(t, repo, "ord-2", wrapped("ord-2", 1))
}

func testDataKeyListOlder(t *testing.T, repo ports.DataKeyRepository) {
	// Stored out of order: the listing orders by order id.
	for _, k := range []struct {
		order   string
		version int
	}{{"ord-4", 1}, {"ord-1", 1}, {"ord-6", 3}, {"ord-2", 2}, {"ord-5", 2}, {"ord-3", 3}} {
		createDataKey(t, repo, k.order, wrapped(k.order, k.version))
	}
	cases := []struct {
		version int
		after   string
		limit   int
		want    []string
	}{
		{3, "", 2, []string{"ord-1", "ord-2"}},
		{3, "ord-2", 2, []string{"ord-4", "ord-5"}},
		{3, "ord-5", 2, nil},
		{3, "ord-25", 1, []string{"ord-4"}}, // the cursor need not exist
		{2, "", 10, []string{"ord-1", "ord-4"}},
		{1, "", 10, nil},
	}
	for _, c := range cases {
		got, err := repo.ListOlderThan(t.Context(), c.version, c.after, c.limit)
		if err != nil {
			t.Fatalf("ListOlderThan(%d, %q, %d): %v", c.version, c.after, c.limit, err)
		}
		var orders []string
		for _, k := range got {
			orders = append(orders, k.OrderID)
			if k.Wrapped != wrapped(k.OrderID, k.Wrapped.Version) || k.Wrapped.Version >= c.version {
				t.Errorf("ListOlderThan(%d) returned %s with %+v", c.version, k.OrderID, k.Wrapped)
			}
		}
		if !slices.Equal(orders, c.want) {
			t.Errorf("ListOlderThan(%d, %q, %d) = %v, want %v", c.version, c.after, c.limit, orders, c.want)
		}
	}
}

func testDataKeyReplace(t *testing.T, repo ports.DataKeyRepository) {
	old, rewrapped := wrapped("ord-1", 1), wrapped("ord-1", 2)
	createDataKey(t, repo, "ord-1", old)
	replace := func(orderID string, from, to ports.WrappedKey, want bool) {
		t.Helper()
		ok, err := repo.Replace(t.Context(), orderID, from, to)
		if err != nil || ok != want {
			t.Errorf("Replace(%s, v%d → v%d) = %t, %v; want %t", orderID, from.Version, to.Version, ok, err, want)
		}
	}
	replace("ord-1", old, rewrapped, true)
	wantDataKey(t, repo, "ord-1", rewrapped)
	replace("ord-1", old, wrapped("ord-1", 3), false) // old is gone
	replace("ord-1", ports.WrappedKey{Ciphertext: rewrapped.Ciphertext, Version: 9}, wrapped("ord-1", 3), false)
	wantDataKey(t, repo, "ord-1", rewrapped)
	replace("ord-nope", old, rewrapped, false)
	if err := repo.Delete(t.Context(), "ord-1"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	replace("ord-1", rewrapped, wrapped("ord-1", 3), false) // shredded meanwhile
	if _, err := repo.Get(t.Context(), "ord-1"); err == nil {
		t.Errorf("Replace brought a deleted key back")
	}
}

func testDataKeyCountWrappedBy(t *testing.T, repo ports.DataKeyRepository) {
	createDataKey(t, repo, "ord-1", wrapped("ord-1", 1))
	createDataKey(t, repo, "ord-2", ports.WrappedKey{Ciphertext: "local:v1:b3JkLTI=", Version: 1})
	createDataKey(t, repo, "ord-3", ports.WrappedKey{Ciphertext: "local:v2:b3JkLTM=", Version: 2})
	createDataKey(t, repo, "ord-4", ports.WrappedKey{Ciphertext: "localish:v1:b3JkLTQ=", Version: 1})
	for kind, want := range map[string]int{"vault": 1, "local": 2, "loc": 0, "%": 0, "none": 0} {
		if got, err := repo.CountWrappedBy(t.Context(), kind); err != nil || got != want {
			t.Errorf("CountWrappedBy(%q) = %d, %v; want %d", kind, got, err, want)
		}
	}
}

// wrapped is a fake vault ciphertext of orderID's key at version v.
func wrapped(orderID string, v int) ports.WrappedKey {
	return ports.WrappedKey{Ciphertext: fmt.Sprintf("vault:v%d:%x", v, orderID), Version: v}
}

func createDataKey(t *testing.T, repo ports.DataKeyRepository, orderID string, k ports.WrappedKey) {
	t.Helper()
	if err := repo.Create(t.Context(), orderID, k); err != nil {
		t.Fatalf("Create(%s): %v", orderID, err)
	}
}

func wantDataKey(t *testing.T, repo ports.DataKeyRepository, orderID string, want ports.WrappedKey) {
	t.Helper()
	got, err := repo.Get(t.Context(), orderID)
	if err != nil || got != want {
		t.Errorf("Get(%s) = %+v, %v; want %+v", orderID, got, err, want)
	}
}
