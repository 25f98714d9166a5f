package main_test

import (
	"strings"
	"testing"
)

// TestAuditVerifyReportsQuarantinedRecords: a row written straight into
// audit_pending is refused by the sealer; verify names it and exits
// non-zero, though the chain itself is whole.
func TestAuditVerifyReportsQuarantinedRecords(t *testing.T) {
	t.Parallel()
	env, edit := auditTrail(t, 2)
	edit(`INSERT INTO audit_pending (id, at, actor, action, subject) VALUES (4242, now(), 'admin:forger', 'keys.revealed', 'ord-1')`)
	out, err := keyward(t, env, "audit", "verify")
	if err == nil || !strings.Contains(out, "verified: 2 records") ||
		!strings.Contains(out, "1 staged records were refused") || !strings.Contains(out, "[4242]") {
		t.Fatalf("verify with a quarantined row: %v\n%s", err, out)
	}
}
