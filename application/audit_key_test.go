package application_test

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// The audit MAC key is a data key stored only wrapped: another process on
// the same store and vault signs alike, a rotation rewraps it without
// changing what it signs, and a store under another vault cannot open it.
func TestAuditKeyIsStoredWrappedAndSurvivesRotation(t *testing.T) {
	t.Parallel()
	vault, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	dataKeys := memory.NewDataKeys()
	msg := []byte("a record's hash")
	first := application.NewAuditKey(vault, dataKeys)
	mac, err := first.Sign(t.Context(), msg)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := dataKeys.Get(t.Context(), application.AuditKeyID)
	if err != nil || stored.Ciphertext == "" || strings.Contains(stored.Ciphertext, mac) {
		t.Fatalf("stored audit key = %+v, %v; want a wrapped key", stored, err)
	}

	version, err := vault.Rotate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	rot := application.NewRotateKeys(memory.Transactor{}, vault, dataKeys, memory.NewAuditLog(testkit.NewClock(time.Now()), first), 0, slog.New(slog.DiscardHandler))
	if res, err := rot.Rewrap(t.Context(), version); err != nil || res.Rewrapped != 1 {
		t.Fatalf("Rewrap = %+v, %v; want the audit key rewrapped", res, err)
	}
	second := application.NewAuditKey(vault, dataKeys) // another process, after the rotation
	if ok, err := second.Verify(t.Context(), msg, mac); !ok || err != nil {
		t.Errorf("another process verifies the MAC: %t, %v; want true", ok, err)
	}
	if ok, _ := second.Verify(t.Context(), []byte("another message"), mac); ok {
		t.Error("the MAC verifies another message")
	}

	otherVault, _ := localkeyring.NewInMemory()
	if err := application.NewAuditKey(otherVault, dataKeys).Load(t.Context()); !errors.Is(err, ports.ErrDataKeyInvalid) {
		t.Errorf("Load under another vault = %v, want ErrDataKeyInvalid", err)
	}
}

func TestAuditCheckpoints(t *testing.T) {
	t.Parallel()
	vault, _ := localkeyring.NewInMemory()
	key := application.NewAuditKey(vault, memory.NewDataKeys())
	c := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	log := memory.NewAuditLog(c, key)
	cps := application.NewAuditCheckpoints(log, key, c, slog.New(slog.DiscardHandler))
	empty, err := cps.Take(t.Context())
	if err != nil || empty.Seq != 0 || empty.Hash != domain.GenesisAuditHash {
		t.Fatalf("checkpoint of an empty trail = %+v, %v", empty, err)
	}
	for range 3 {
		if _, err := log.Append(t.Context(), "system", "test.cp", "", nil); err != nil {
			t.Fatal(err)
		}
	}
	head, err := cps.Take(t.Context())
	if err != nil || head.Seq != 3 {
		t.Fatalf("Take = %+v, %v; want seq 3", head, err)
	}
	// A checkpoint round-trips through its file format.
	b, err := head.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := application.ParseCheckpoint(b)
	if err != nil || parsed.Seq != head.Seq || parsed.Hash != head.Hash || !parsed.At.Equal(head.At) || parsed.MAC != head.MAC {
		t.Fatalf("ParseCheckpoint = %+v, %v; want %+v", parsed, err, head)
	}
	if n, err := cps.Check(t.Context(), parsed); n != 3 || err != nil {
		t.Errorf("Check of the head = %d, %v", n, err)
	}
	if n, err := cps.Check(t.Context(), empty); n != 3 || err != nil {
		t.Errorf("Check of an older checkpoint = %d, %v", n, err)
	}

	// A signed checkpoint of a trail this one does not extend.
	sign := func(cp domain.AuditCheckpoint) application.SignedCheckpoint {
		mac, err := key.Sign(t.Context(), domain.AuditCheckpointMACInput(cp))
		if err != nil {
			t.Fatal(err)
		}
		return application.SignedCheckpoint{AuditCheckpoint: cp, MAC: mac}
	}
	for name, cp := range map[string]application.SignedCheckpoint{
		"longer":         sign(domain.AuditCheckpoint{Seq: 5, Hash: head.Hash, At: head.At}),
		"diverging":      sign(domain.AuditCheckpoint{Seq: 2, Hash: head.Hash, At: head.At}),
		"tampered":       {AuditCheckpoint: domain.AuditCheckpoint{Seq: 2, Hash: head.Hash, At: head.At}, MAC: head.MAC},
		"under no key":   {AuditCheckpoint: head.AuditCheckpoint, MAC: strings.Repeat("0", 64)},
		"of another key": signedElsewhere(t, head.AuditCheckpoint),
	} {
		if _, err := cps.Check(t.Context(), cp); !errors.Is(err, domain.ErrAuditCheckpointMismatch) {
			t.Errorf("Check of a %s checkpoint = %v, want ErrAuditCheckpointMismatch", name, err)
		}
	}
	if _, err := application.ParseCheckpoint([]byte(`{"version":2}`)); err == nil {
		t.Error("ParseCheckpoint accepted an unknown version")
	}
}

func signedElsewhere(t *testing.T, cp domain.AuditCheckpoint) application.SignedCheckpoint {
	t.Helper()
	vault, _ := localkeyring.NewInMemory()
	mac, err := application.NewAuditKey(vault, memory.NewDataKeys()).Sign(t.Context(), domain.AuditCheckpointMACInput(cp))
	if err != nil {
		t.Fatal(err)
	}
	return application.SignedCheckpoint{AuditCheckpoint: cp, MAC: mac}
}
