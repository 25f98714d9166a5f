package porttest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/keyward/keyward/ports"
)

// MinVersionSetter is implemented by vaults that can refuse ciphertexts
// wrapped under old key versions (Vault transit's min_decryption_version).
// The KeyVault suite exercises it when the vault under test implements it.
type MinVersionSetter interface {
	// SetMinDecryptionVersion makes keys wrapped below version v fail to
	// unwrap from now on; it returns an error when v is above the latest
	// version.
	SetMinDecryptionVersion(ctx context.Context, v int) error
}

// KeyVault runs the ports.KeyVault contract. newVault is called once per
// subtest, from parallel subtests, and must return an independent vault
// with a fresh key (for Vault transit, a new key name): subtests rotate the
// key and, through MinVersionSetter, retire old versions.
//
// Ciphertexts must look like "<prefix>:v<N>:<payload>" with N equal to
// WrappedKey.Version, as both Vault transit and the local keyring write.
func KeyVault(t *testing.T, newVault func(t *testing.T) ports.KeyVault) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.KeyVault)
	}{
		{"round trip", testRoundTrip},
		{"wrong order is refused", testWrongOrder},
		{"tampered ciphertext is refused", testTampered},
		{"garbage ciphertext is refused", testGarbage},
		{"rotate then rewrap", testRotateRewrap},
		{"rewrap of a latest key keeps its version", testRewrapLatest},
		{"rewrap refuses keys that do not open", testRewrapRefuses},
		{"concurrent use", testConcurrent},
		{"health", testHealth},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newVault(t))
		})
	}
}

func testRoundTrip(t *testing.T, v ports.KeyVault) {
	ctx := t.Context()
	dk := newDataKey(t, v, "order-a")
	if len(dk.Plaintext) != 32 {
		t.Fatalf("plaintext is %d bytes, want 32", len(dk.Plaintext))
	}
	if dk.Wrapped.Version < 1 {
		t.Errorf("Version = %d, want >= 1", dk.Wrapped.Version)
	}
	if got := headerVersion(t, dk.Wrapped.Ciphertext); got != dk.Wrapped.Version {
		t.Errorf("ciphertext header says v%d, Version says %d", got, dk.Wrapped.Version)
	}
	ct := dk.Wrapped.Ciphertext
	for _, leak := range []string{
		string(dk.Plaintext),
		base64.StdEncoding.EncodeToString(dk.Plaintext),
		base64.RawStdEncoding.EncodeToString(dk.Plaintext),
		fmt.Sprintf("%x", dk.Plaintext),
	} {
		if strings.Contains(ct, leak) {
			t.Fatalf("wrapped ciphertext contains the plaintext key")
		}
	}

	// Callers zero their copies; the vault must not hand out shared memory.
	want := bytes.Clone(dk.Plaintext)
	clear(dk.Plaintext)
	for range 2 {
		got := unwrap(t, v, "order-a", dk.Wrapped)
		if !bytes.Equal(got, want) {
			t.Fatalf("unwrapped key differs from the key NewDataKey returned")
		}
		clear(got)
	}

	other := newDataKey(t, v, "order-b")
	if bytes.Equal(other.Plaintext, want) {
		t.Errorf("two orders got the same data key")
	}
	if other.Wrapped.Ciphertext == ct {
		t.Errorf("two orders got the same wrapped key")
	}
	if _, err := v.UnwrapDataKey(ctx, "order-b", other.Wrapped); err != nil {
		t.Errorf("unwrap second order: %v", err)
	}
}

func testWrongOrder(t *testing.T, v ports.KeyVault) {
	dk := newDataKey(t, v, "order-a")
	for _, orderID := range []string{"order-b", "order-a ", "ORDER-A"} {
		_, err := v.UnwrapDataKey(t.Context(), orderID, dk.Wrapped)
		wantInvalid(t, err, fmt.Sprintf("unwrap under order %q", orderID))
	}
}

func testTampered(t *testing.T, v ports.KeyVault) {
	dk := newDataKey(t, v, "order-a")
	header, payload := splitCiphertext(t, dk.Wrapped.Ciphertext)
	cases := map[string]string{
		"first payload character flipped":  header + flip(payload, 0),
		"middle payload character flipped": header + flip(payload, len(payload)/2),
		"payload truncated":                header + payload[:len(payload)-4],
		"payload extended":                 header + payload + "AAAA",
	}
	for name, ct := range cases {
		tampered := ports.WrappedKey{Ciphertext: ct, Version: dk.Wrapped.Version}
		_, err := v.UnwrapDataKey(t.Context(), "order-a", tampered)
		wantInvalid(t, err, name)
	}
}

func testGarbage(t *testing.T, v ports.KeyVault) {
	dk := newDataKey(t, v, "order-a")
	header, payload := splitCiphertext(t, dk.Wrapped.Ciphertext)
	prefix := strings.SplitN(header, ":", 2)[0]
	for _, ct := range []string{
		"nonsense",
		"",
		prefix + ":v1:",
		prefix + ":v1:***not base64***",
		prefix + ":v999999:" + payload, // a version the vault never had
		prefix + ":vx:" + payload,
		"other" + prefix + ":v1:" + payload,
	} {
		_, err := v.UnwrapDataKey(t.Context(), "order-a", ports.WrappedKey{Ciphertext: ct, Version: 1})
		wantInvalid(t, err, fmt.Sprintf("unwrap %q", ct))
	}
}

func testRotateRewrap(t *testing.T, v ports.KeyVault) {
	ctx := t.Context()
	orders := make([]string, 5)
	old := make([]ports.DataKey, len(orders))
	for i := range orders {
		orders[i] = fmt.Sprintf("order-%d", i)
		old[i] = newDataKey(t, v, orders[i])
	}
	before := old[0].Wrapped.Version

	latest, err := v.Rotate(ctx)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if latest != before+1 {
		t.Fatalf("Rotate returned v%d, want v%d", latest, before+1)
	}
	fresh := newDataKey(t, v, "order-fresh")
	if fresh.Wrapped.Version != latest || headerVersion(t, fresh.Wrapped.Ciphertext) != latest {
		t.Errorf("new key wrapped as v%d (%.12s…), want v%d", fresh.Wrapped.Version, fresh.Wrapped.Ciphertext, latest)
	}
	if got := unwrap(t, v, orders[0], old[0].Wrapped); !bytes.Equal(got, old[0].Plaintext) {
		t.Errorf("a key wrapped before rotation no longer opens to the same bytes")
	}

	reqs := make([]ports.RewrapRequest, len(orders))
	for i := range orders {
		reqs[i] = ports.RewrapRequest{OrderID: orders[i], Wrapped: old[i].Wrapped}
	}
	rewrapped, err := v.Rewrap(ctx, reqs)
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if len(rewrapped) != len(reqs) {
		t.Fatalf("Rewrap returned %d keys for %d requests", len(rewrapped), len(reqs))
	}
	for i, w := range rewrapped {
		if w.Version != latest || headerVersion(t, w.Ciphertext) != latest {
			t.Errorf("rewrapped key %d is v%d (%.12s…), want v%d", i, w.Version, w.Ciphertext, latest)
		}
		// Each order's key opens only under that order, so this also
		// checks that results come back in request order.
		if got := unwrap(t, v, orders[i], w); !bytes.Equal(got, old[i].Plaintext) {
			t.Errorf("rewrapped key %d opens to different bytes", i)
		}
	}

	t.Run("min decryption version", func(t *testing.T) {
		testMinVersion(t, v, latest, orders, old, rewrapped)
	})
}

// testMinVersion retires every version below latest: rewrapped keys still
// open, keys never rewrapped are refused.
func testMinVersion(t *testing.T, v ports.KeyVault, latest int, orders []string, old []ports.DataKey, rewrapped []ports.WrappedKey) {
	mv, ok := v.(MinVersionSetter)
	if !ok {
		t.Skip("vault does not implement porttest.MinVersionSetter")
	}
	ctx := t.Context()
	if err := mv.SetMinDecryptionVersion(ctx, latest+1); err == nil {
		t.Errorf("SetMinDecryptionVersion above the latest version succeeded")
	}
	if err := mv.SetMinDecryptionVersion(ctx, latest); err != nil {
		t.Fatalf("SetMinDecryptionVersion(%d): %v", latest, err)
	}
	for i, w := range rewrapped {
		if got := unwrap(t, v, orders[i], w); !bytes.Equal(got, old[i].Plaintext) {
			t.Errorf("rewrapped key %d opens to different bytes", i)
		}
	}
	_, err := v.UnwrapDataKey(ctx, orders[0], old[0].Wrapped)
	wantInvalid(t, err, "unwrap below the minimum version")
	_, err = v.Rewrap(ctx, []ports.RewrapRequest{{OrderID: orders[0], Wrapped: old[0].Wrapped}})
	wantInvalid(t, err, "rewrap below the minimum version")
	if dk := newDataKey(t, v, "order-after-min"); dk.Wrapped.Version != latest {
		t.Errorf("new key wrapped as v%d, want v%d", dk.Wrapped.Version, latest)
	}
}

func testRewrapLatest(t *testing.T, v ports.KeyVault) {
	dk := newDataKey(t, v, "order-a")
	got, err := v.Rewrap(t.Context(), []ports.RewrapRequest{{OrderID: "order-a", Wrapped: dk.Wrapped}})
	if err != nil {
		t.Fatalf("Rewrap: %v", err)
	}
	if len(got) != 1 || got[0].Version != dk.Wrapped.Version {
		t.Fatalf("Rewrap = %+v, want one key at v%d", got, dk.Wrapped.Version)
	}
	if pt := unwrap(t, v, "order-a", got[0]); !bytes.Equal(pt, dk.Plaintext) {
		t.Errorf("rewrapped key opens to different bytes")
	}

	none, err := v.Rewrap(t.Context(), nil)
	if err != nil || len(none) != 0 {
		t.Errorf("Rewrap(nil) = %v, %v; want no keys and no error", none, err)
	}
}

func testRewrapRefuses(t *testing.T, v ports.KeyVault) {
	a := newDataKey(t, v, "order-a")
	b := newDataKey(t, v, "order-b")
	_, err := v.Rewrap(t.Context(), []ports.RewrapRequest{
		{OrderID: "order-a", Wrapped: a.Wrapped},
		{OrderID: "order-a", Wrapped: b.Wrapped}, // bound to order-b
	})
	wantInvalid(t, err, "rewrap a key under the wrong order")
}

func testConcurrent(t *testing.T, v ports.KeyVault) {
	const n = 32
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			orderID := fmt.Sprintf("order-%d", i)
			dk, err := v.NewDataKey(t.Context(), orderID)
			if err != nil {
				t.Errorf("NewDataKey(%s): %v", orderID, err)
				return
			}
			got, err := v.UnwrapDataKey(t.Context(), orderID, dk.Wrapped)
			if err != nil || !bytes.Equal(got, dk.Plaintext) {
				t.Errorf("UnwrapDataKey(%s): err %v, same bytes %t", orderID, err, bytes.Equal(got, dk.Plaintext))
				return
			}
			keys[i] = dk.Plaintext
		})
	}
	wg.Wait()
	seen := make(map[string]bool, n)
	for _, k := range keys {
		if k == nil {
			continue // already reported
		}
		if seen[string(k)] {
			t.Fatalf("two concurrent orders got the same data key")
		}
		seen[string(k)] = true
	}
}

func testHealth(t *testing.T, v ports.KeyVault) {
	if err := v.Health(t.Context()); err != nil {
		t.Fatalf("Health: %v", err)
	}
}

func newDataKey(t *testing.T, v ports.KeyVault, orderID string) ports.DataKey {
	t.Helper()
	dk, err := v.NewDataKey(t.Context(), orderID)
	if err != nil {
		t.Fatalf("NewDataKey(%s): %v", orderID, err)
	}
	return dk
}

func unwrap(t *testing.T, v ports.KeyVault, orderID string, k ports.WrappedKey) []byte {
	t.Helper()
	pt, err := v.UnwrapDataKey(t.Context(), orderID, k)
	if err != nil {
		t.Fatalf("UnwrapDataKey(%s, v%d): %v", orderID, k.Version, err)
	}
	return pt
}

func wantInvalid(t *testing.T, err error, what string) {
	t.Helper()
	if !errors.Is(err, ports.ErrDataKeyInvalid) {
		t.Errorf("%s: err = %v, want ports.ErrDataKeyInvalid", what, err)
	}
}

// splitCiphertext splits "<prefix>:v<N>:<payload>" into "<prefix>:v<N>:"
// and the payload.
func splitCiphertext(t *testing.T, ct string) (header, payload string) {
	t.Helper()
	prefix, rest, ok1 := strings.Cut(ct, ":")
	version, payload, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || prefix == "" || !strings.HasPrefix(version, "v") || len(payload) < 8 {
		t.Fatalf("ciphertext %.12s… is not <prefix>:v<N>:<payload>", ct)
	}
	return ct[:len(ct)-len(payload)], payload
}

func headerVersion(t *testing.T, ct string) int {
	t.Helper()
	header, _ := splitCiphertext(t, ct)
	parts := strings.Split(header, ":")
	n, err := strconv.Atoi(strings.TrimPrefix(parts[1], "v"))
	if err != nil {
		t.Fatalf("ciphertext header %q has no version number", header)
	}
	return n
}

// flip replaces the base64 character at i by another valid one, changing
// the decoded bits (i must not be the last, possibly padding, character).
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}
