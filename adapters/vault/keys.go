package vault

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/keyward/keyward/ports"
)

// NewDataKey asks transit for a 256-bit data key bound to the order. The
// plaintext is returned for immediate use; callers zero it.
func (v *Vault) NewDataKey(ctx context.Context, orderID string) (ports.DataKey, error) {
	s, err := v.client.Logical().WriteWithContext(ctx, v.path("datakey", "plaintext", v.key), map[string]any{
		"context": orderContext(orderID), "bits": 256,
	})
	if err != nil {
		return ports.DataKey{}, classify("new data key", err)
	}
	if s == nil {
		return ports.DataKey{}, fmt.Errorf("%w: new data key: empty answer", ports.ErrVaultUnavailable)
	}
	pt, err := base64.StdEncoding.DecodeString(str(s.Data["plaintext"]))
	if err != nil || len(pt) != 32 {
		return ports.DataKey{}, fmt.Errorf("new data key: vault returned a malformed key")
	}
	wk, err := wrapped(str(s.Data["ciphertext"]))
	if err != nil {
		return ports.DataKey{}, err
	}
	return ports.DataKey{Plaintext: pt, Wrapped: wk}, nil
}

// UnwrapDataKey decrypts a wrapped key with the order's context.
func (v *Vault) UnwrapDataKey(ctx context.Context, orderID string, k ports.WrappedKey) ([]byte, error) {
	if !strings.HasPrefix(k.Ciphertext, "vault:v") {
		return nil, fmt.Errorf("%w: not a vault ciphertext", ports.ErrDataKeyInvalid)
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.path("decrypt", v.key), map[string]any{
		"ciphertext": k.Ciphertext, "context": orderContext(orderID),
	})
	if err != nil {
		return nil, classify("unwrap data key", err)
	}
	if s == nil {
		return nil, fmt.Errorf("%w: unwrap: empty answer", ports.ErrVaultUnavailable)
	}
	pt, err := base64.StdEncoding.DecodeString(str(s.Data["plaintext"]))
	if err != nil || len(pt) != 32 {
		return nil, fmt.Errorf("%w: unwrapped key is malformed", ports.ErrDataKeyInvalid)
	}
	return pt, nil
}

// Rewrap re-encrypts wrapped keys under the latest key version in one batch
// call; the plaintext never leaves Vault. Any item that does not open fails
// the whole call with ErrDataKeyInvalid.
func (v *Vault) Rewrap(ctx context.Context, reqs []ports.RewrapRequest) ([]ports.WrappedKey, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	batch := make([]map[string]any, len(reqs))
	for i, r := range reqs {
		if !strings.HasPrefix(r.Wrapped.Ciphertext, "vault:v") {
			return nil, fmt.Errorf("%w: order %s: not a vault ciphertext", ports.ErrDataKeyInvalid, r.OrderID)
		}
		batch[i] = map[string]any{"ciphertext": r.Wrapped.Ciphertext, "context": orderContext(r.OrderID), "reference": r.OrderID}
	}
	s, err := v.client.Logical().WriteWithContext(ctx, v.path("rewrap", v.key), map[string]any{"batch_input": batch})
	if err != nil {
		return nil, classify("rewrap", err)
	}
	if s == nil {
		return nil, fmt.Errorf("%w: rewrap: empty answer", ports.ErrVaultUnavailable)
	}
	results, _ := s.Data["batch_results"].([]any)
	if len(results) != len(reqs) {
		return nil, fmt.Errorf("%w: rewrap returned %d results for %d keys", ports.ErrVaultUnavailable, len(results), len(reqs))
	}
	out := make([]ports.WrappedKey, len(reqs))
	for i, r := range results {
		m, _ := r.(map[string]any)
		if e := str(m["error"]); e != "" {
			return nil, fmt.Errorf("%w: rewrap order %s: %s", ports.ErrDataKeyInvalid, reqs[i].OrderID, e)
		}
		if out[i], err = wrapped(str(m["ciphertext"])); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Rotate adds a key version and returns it.
func (v *Vault) Rotate(ctx context.Context) (int, error) {
	if _, err := v.client.Logical().WriteWithContext(ctx, v.path("keys", v.key, "rotate"), nil); err != nil {
		return 0, classify("rotate", err)
	}
	info, err := v.keyInfo(ctx)
	if err != nil {
		return 0, err
	}
	return info.latest, nil
}

// SetMinDecryptionVersion refuses ciphertexts below version from now on.
func (v *Vault) SetMinDecryptionVersion(ctx context.Context, version int) error {
	if _, err := v.client.Logical().WriteWithContext(ctx, v.path("keys", v.key, "config"), map[string]any{"min_decryption_version": version}); err != nil {
		return classify("set min decryption version", err)
	}
	return nil
}

// LatestVersion returns the key's latest version.
func (v *Vault) LatestVersion(ctx context.Context) (int, error) {
	info, err := v.keyInfo(ctx)
	return info.latest, err
}

// Health checks that Vault is unsealed and the key is readable.
func (v *Vault) Health(ctx context.Context) error {
	h, err := v.client.Sys().HealthWithContext(ctx)
	if err != nil {
		return classify("health", err)
	}
	if h.Sealed {
		return fmt.Errorf("%w: vault is sealed", ports.ErrVaultUnavailable)
	}
	_, err = v.keyInfo(ctx)
	return err
}

type keyInfo struct{ latest, minDecryption int }

func (v *Vault) keyInfo(ctx context.Context) (keyInfo, error) {
	s, err := v.client.Logical().ReadWithContext(ctx, v.path("keys", v.key))
	if err != nil {
		return keyInfo{}, classify("read key", err)
	}
	if s == nil {
		return keyInfo{}, fmt.Errorf("%w: transit key %s/%s is missing", ports.ErrVaultUnavailable, v.mount, v.key)
	}
	return keyInfo{latest: num(s.Data["latest_version"]), minDecryption: num(s.Data["min_decryption_version"])}, nil
}

// wrapped parses "vault:v<N>:…" into a WrappedKey.
func wrapped(ct string) (ports.WrappedKey, error) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	n, _, found := strings.Cut(rest, ":")
	version, err := strconv.Atoi(n)
	if !ok || !found || err != nil || version < 1 {
		return ports.WrappedKey{}, fmt.Errorf("vault returned a malformed ciphertext")
	}
	return ports.WrappedKey{Ciphertext: ct, Version: version}, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) int {
	switch n := v.(type) {
	case json.Number:
		i, _ := n.Int64()
		return int(i)
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}
