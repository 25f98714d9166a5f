package localkeyring_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

var _ porttest.MinVersionSetter = (*localkeyring.Keyring)(nil)

func TestKeyVaultContractInMemory(t *testing.T) {
	t.Parallel()
	porttest.KeyVault(t, func(t *testing.T) ports.KeyVault {
		k, err := localkeyring.NewInMemory()
		if err != nil {
			t.Fatalf("NewInMemory: %v", err)
		}
		return k
	})
}

func TestKeyVaultContractFile(t *testing.T) {
	t.Parallel()
	porttest.KeyVault(t, func(t *testing.T) ports.KeyVault {
		return openKeyring(t, filepath.Join(t.TempDir(), "keyring.json"))
	})
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secrets", "keys", "keyring.json")
	k := openKeyring(t, path)
	if k.LatestVersion() != 1 {
		t.Errorf("LatestVersion = %d, want 1", k.LatestVersion())
	}
	assertMode(t, path, 0o600)
	assertMode(t, filepath.Dir(path), 0o700|os.ModeDir)
}

func TestKeysSurviveReopen(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "keyring.json")
	dk, err := openKeyring(t, path).NewDataKey(ctx, "order-a")
	if err != nil {
		t.Fatalf("NewDataKey: %v", err)
	}

	k := openKeyring(t, path)
	got, err := k.UnwrapDataKey(ctx, "order-a", dk.Wrapped)
	if err != nil || !bytes.Equal(got, dk.Plaintext) {
		t.Fatalf("after reopen: unwrap err %v, same bytes %t", err, bytes.Equal(got, dk.Plaintext))
	}
	if v, err := k.Rotate(ctx); err != nil || v != 2 {
		t.Fatalf("Rotate = %d, %v; want 2", v, err)
	}
	if err := k.SetMinDecryptionVersion(ctx, 2); err != nil {
		t.Fatalf("SetMinDecryptionVersion: %v", err)
	}
	assertMode(t, path, 0o600)

	k = openKeyring(t, path)
	if k.LatestVersion() != 2 {
		t.Errorf("after reopen LatestVersion = %d, want 2", k.LatestVersion())
	}
	if _, err := k.UnwrapDataKey(ctx, "order-a", dk.Wrapped); !errors.Is(err, ports.ErrDataKeyInvalid) {
		t.Errorf("v1 key after reopen with minimum 2: err = %v, want ErrDataKeyInvalid", err)
	}
}

func TestOpenRefusesCorruptFile(t *testing.T) {
	t.Parallel()
	const key = `"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="` // 32 bytes
	cases := map[string]string{
		"empty":              ``,
		"not json":           `{"format":1,"keys":[{"version":1,"key":` + key + `}`,
		"unknown format":     `{"format":9,"min_decryption_version":1,"keys":[{"version":1,"key":` + key + `}]}`,
		"no keys":            `{"format":1,"min_decryption_version":1,"keys":[]}`,
		"short key":          `{"format":1,"min_decryption_version":1,"keys":[{"version":1,"key":"AAEC"}]}`,
		"bad base64":         `{"format":1,"min_decryption_version":1,"keys":[{"version":1,"key":"!!"}]}`,
		"version gap":        `{"format":1,"min_decryption_version":1,"keys":[{"version":2,"key":` + key + `}]}`,
		"minimum above keys": `{"format":1,"min_decryption_version":2,"keys":[{"version":1,"key":` + key + `}]}`,
	}
	for name, content := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "keyring.json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := localkeyring.Open(path)
			if err == nil {
				t.Fatalf("Open succeeded on a corrupt file")
			}
			if strings.Contains(err.Error(), strings.Trim(key, `"`)) {
				t.Errorf("error quotes the master key: %v", err)
			}
		})
	}
}

func TestHealthReportsUnreadableFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keyring.json")
	k := openKeyring(t, path)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := k.Health(t.Context()); !errors.Is(err, ports.ErrVaultUnavailable) {
		t.Errorf("Health = %v, want ErrVaultUnavailable", err)
	}
}

func TestSetMinDecryptionVersionBounds(t *testing.T) {
	t.Parallel()
	k, _ := localkeyring.NewInMemory()
	for _, v := range []int{0, -1, 2} {
		if err := k.SetMinDecryptionVersion(t.Context(), v); err == nil {
			t.Errorf("SetMinDecryptionVersion(%d) succeeded with latest version 1", v)
		}
	}
}

func openKeyring(t *testing.T, path string) *localkeyring.Keyring {
	t.Helper()
	k, err := localkeyring.Open(path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return k
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode(); got != want {
		t.Errorf("%s has mode %v, want %v", path, got, want)
	}
}

func TestDataKeyImporterContract(t *testing.T) {
	t.Parallel()
	porttest.DataKeyImporter(t, func(t *testing.T) ports.DataKeyImporter {
		return openKeyring(t, filepath.Join(t.TempDir(), "keyring.json"))
	})
}
