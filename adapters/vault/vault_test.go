package vault_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/keyward/keyward/adapters/vault"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// TestContract runs the KeyVault contract suite against a real Vault.
func TestContract(t *testing.T) {
	porttest.KeyVault(t, func(t *testing.T) ports.KeyVault { return vaulttest.New(t) })
}

// TestImporterContract: keys made elsewhere (the local keyring) move into
// transit and open as its own do.
func TestImporterContract(t *testing.T) {
	porttest.DataKeyImporter(t, func(t *testing.T) ports.DataKeyImporter { return vaulttest.New(t) })
}

// TestUnavailable: an unreachable Vault gives ErrVaultUnavailable, fast.
func TestUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	v, err := vault.New(vault.Config{Address: "http://" + addr, Token: "root"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	porttest.KeyVaultUnavailable(t, v)
}

func TestDataKeysAreVaultCiphertexts(t *testing.T) {
	v := vaulttest.New(t)
	dk, err := v.NewDataKey(t.Context(), "order-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(dk.Wrapped.Ciphertext, "vault:v1:") || dk.Wrapped.Version != 1 || len(dk.Plaintext) != 32 {
		t.Fatalf("wrapped %q version %d, %d-byte key", dk.Wrapped.Ciphertext, dk.Wrapped.Version, len(dk.Plaintext))
	}
}

// TestInitRefusesNonDerivedKey: keyward will not bind data keys to orders
// with a key that ignores the context.
func TestInitRefusesNonDerivedKey(t *testing.T) {
	addr, token := vaulttest.Config(t)
	name := vaulttest.KeyName()
	v, err := vault.New(vault.Config{Address: addr, Token: token, Key: name, CreateKey: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Init(t.Context()); err != nil { // mounts transit when needed
		t.Fatal(err)
	}
	plain := vaulttest.KeyName()
	if _, err := v.Client().Logical().Write("transit/keys/"+plain, map[string]any{"type": "aes256-gcm96"}); err != nil {
		t.Fatal(err)
	}
	v2, _ := vault.New(vault.Config{Address: addr, Token: token, Key: plain}, slog.New(slog.DiscardHandler))
	if err := v2.Init(context.Background()); err == nil || !strings.Contains(err.Error(), "not derived") {
		t.Fatalf("Init with a non-derived key: %v", err)
	}
	missing, _ := vault.New(vault.Config{Address: addr, Token: token, Key: vaulttest.KeyName(), CreateKey: false}, slog.New(slog.DiscardHandler))
	if err := missing.Init(t.Context()); err == nil || errors.Is(err, ports.ErrVaultUnavailable) {
		t.Fatalf("Init with a missing key and no permission to create it: %v", err)
	}
}

func TestBadTokenIsUnavailableNotInvalid(t *testing.T) {
	addr, _ := vaulttest.Config(t)
	v, _ := vault.New(vault.Config{Address: addr, Token: "not-a-token"}, slog.New(slog.DiscardHandler))
	if _, err := v.NewDataKey(t.Context(), "o"); !errors.Is(err, ports.ErrVaultUnavailable) {
		t.Fatalf("bad token: %v", err)
	}
}

// TestKeepTokenAlive: a short-lived renewable token keeps working past its
// TTL because the lifetime watcher renews it. Without renewal the same
// token stops working, so the test can tell the two apart.
func TestKeepTokenAlive(t *testing.T) {
	root := vaulttest.New(t)
	addr, _ := vaulttest.Config(t)
	for _, renew := range []bool{false, true} {
		tok, err := root.Client().Auth().Token().Create(&api.TokenCreateRequest{
			TTL: "3s", ExplicitMaxTTL: "1h", Renewable: boolPtr(true), Policies: []string{"root"}, NoParent: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		firstExpiry := tokenExpiry(t, root, tok.Auth.ClientToken)
		v, _ := vault.New(vault.Config{Address: addr, Token: tok.Auth.ClientToken, Key: vaulttest.KeyName(), CreateKey: true}, slog.New(slog.DiscardHandler))
		if err := v.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		if !renew {
			testkit.Eventually(t, 15*time.Second, "an unrenewed 3s token to stop working (else the test cannot tell renewal apart)", func() bool {
				_, err := v.NewDataKey(t.Context(), "order-1")
				return errors.Is(err, ports.ErrVaultUnavailable)
			})
			continue
		}
		ctx, cancel := context.WithCancel(t.Context())
		if err := v.KeepTokenAlive(ctx); err != nil {
			t.Fatal(err)
		}
		// Past the expiry the token was created with, and Vault reports it
		// renewed beyond it.
		testkit.Eventually(t, 15*time.Second, "the token to be renewed past its first expiry", func() bool {
			return time.Now().After(firstExpiry) && tokenExpiry(t, root, tok.Auth.ClientToken).After(firstExpiry)
		})
		_, err = v.NewDataKey(t.Context(), "order-1")
		cancel()
		if err != nil {
			t.Fatalf("renewed token stopped working: %v", err)
		}
	}
}

// tokenExpiry returns when Vault will expire token.
func tokenExpiry(t *testing.T, root *vault.Vault, token string) time.Time {
	t.Helper()
	s, err := root.Client().Auth().Token().Lookup(token)
	if err != nil {
		t.Fatalf("look up token: %v", err)
	}
	raw, _ := s.Data["expire_time"].(string)
	at, err := time.Parse(time.RFC3339Nano, raw)
	if err != nil {
		t.Fatalf("token expire_time %q: %v", raw, err)
	}
	return at
}

func boolPtr(b bool) *bool { return &b }
