// Package vaulttest points tests at a real Vault server: the dev server
// that `make test` starts (scripts/vault-dev.sh), or any Vault named by
// KEYWARD_TEST_VAULT_ADDR with a token allowed to mount transit.
package vaulttest

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"

	"github.com/keyward/keyward/adapters/vault"
)

// Env names.
const (
	EnvAddr  = "KEYWARD_TEST_VAULT_ADDR"
	EnvToken = "KEYWARD_TEST_VAULT_TOKEN"
)

// Config returns the test Vault's address and token; the test fails, never
// skips, when none is configured.
func Config(t testing.TB) (addr, token string) {
	t.Helper()
	addr = os.Getenv(EnvAddr)
	if addr == "" {
		t.Fatalf("%s is not set: run `make test` (it starts a Vault dev server), or start one with `scripts/vault-dev.sh start` and export the VAULT_ADDR it prints as %s", EnvAddr, EnvAddr)
	}
	token = os.Getenv(EnvToken)
	if token == "" {
		token = "root"
	}
	return addr, token
}

// New returns an initialised Vault adapter on a fresh transit key, so tests
// that rotate or raise minimum versions do not disturb each other.
func New(t testing.TB) *vault.Vault {
	t.Helper()
	addr, token := Config(t)
	v, err := vault.New(vault.Config{Address: addr, Token: token, Key: KeyName(), CreateKey: true}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Init(t.Context()); err != nil {
		t.Fatalf("init vault at %s: %v", addr, err)
	}
	return v
}

// KeyName returns a unique transit key name.
func KeyName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "keyward-test-" + hex.EncodeToString(b)
}
