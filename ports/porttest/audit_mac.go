package porttest

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// auditMAC is the key vault's side of the audit MAC, the edge the contract
// stands in for: HMAC-SHA256 under a random key that a subtest can replace,
// as a database moved under another key (or written without it) would see.
type auditMAC struct {
	mu  sync.Mutex
	key []byte
}

var _ ports.AuditMAC = (*auditMAC)(nil)

func newAuditMAC() *auditMAC {
	m := &auditMAC{}
	m.rekey()
	return m
}

func (m *auditMAC) rekey() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.key = make([]byte, 32)
	_, _ = rand.Read(m.key)
}

func (m *auditMAC) Sign(_ context.Context, msg []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := hmac.New(sha256.New, m.key)
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (m *auditMAC) Verify(ctx context.Context, msg []byte, mac string) (bool, error) {
	want, err := m.Sign(ctx, msg)
	return hmac.Equal([]byte(want), []byte(mac)), err
}

func testAuditMACs(t *testing.T, log ports.AuditLog, clock *auditClock) {
	appendAudit(t, log, "system", "test.mac", "ord-1", map[string]string{"k": "v"})
	appendAudit(t, log, "customer", "keys.revealed", "ord-1", nil)
	for _, r := range listAudit(t, log, 0, 10) {
		ok, err := clock.mac.Verify(t.Context(), domain.AuditMACInput(r), r.MAC)
		if err != nil || !ok {
			t.Errorf("seq %d: MAC %q does not verify under the log's key (%v)", r.Seq, r.MAC, err)
		}
	}
	wantAuditVerified(t, log, 2)
}

// testAuditOtherKey: a record whose MAC was not made with the key fails
// Verify, which is what a row written with database rights alone gets.
func testAuditOtherKey(t *testing.T, log ports.AuditLog, clock *auditClock) {
	appendAudit(t, log, "system", "test.mac", "ord-1", nil)
	appendAudit(t, log, "system", "test.mac", "ord-2", nil)
	clock.mac.rekey()
	n, err := log.Verify(t.Context())
	var broken *domain.AuditChainError
	if !errors.As(err, &broken) || broken.Seq != 1 || n != 0 {
		t.Fatalf("Verify under another key = %d, %v; want 0 and a broken chain at seq 1", n, err)
	}
	r := appendAudit(t, log, "system", "test.mac", "ord-3", nil)
	if n, err := log.Verify(t.Context()); !errors.As(err, &broken) || broken.Seq != 1 {
		t.Errorf("after seq %d, Verify = %d, %v; want still broken at seq 1", r.Seq, n, err)
	}
}
