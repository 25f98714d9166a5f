package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// auditTrail makes a database whose audit trail holds n records (one per
// admin key made) and returns its environment.
func auditTrail(t *testing.T, n int) (env []string, db func(...string)) {
	t.Helper()
	url, sqlDB := pgtest.NewDatabase(t)
	env = []string{"KEYWARD_DATABASE_URL=" + url, keyringFile(t)}
	for i := range n {
		createKey(t, env, "support", "desk-"+strings.Repeat("x", i+1))
	}
	return env, func(stmts ...string) { superuserEdit(t, sqlDB, stmts...) }
}

// checkpoint runs `keyward audit checkpoint --out` and returns the file.
func checkpoint(t *testing.T, env []string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "head.json")
	out, err := keyward(t, env, "audit", "checkpoint", "--out", file)
	if err != nil || !strings.Contains(out, "audit checkpoint written to "+file) {
		t.Fatalf("audit checkpoint: %v\n%s", err, out)
	}
	return file
}

// TestAuditVerifyWithACheckpointFindsATruncatedTrail: the chain alone
// cannot show that its tail (or everything) was deleted; a checkpoint
// taken before can, and `keyward audit verify --checkpoint` exits non-zero.
func TestAuditVerifyWithACheckpointFindsATruncatedTrail(t *testing.T) {
	for _, c := range []struct {
		name, edit string
	}{
		{"the last 5 records deleted", `DELETE FROM audit_log WHERE seq > 3`},
		{"every record deleted", `DELETE FROM audit_log`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			env, edit := auditTrail(t, 8)
			file := checkpoint(t, env)
			if out, err := keyward(t, env, "audit", "verify", "--checkpoint", file); err != nil ||
				!strings.Contains(out, "verified: 8 records") || !strings.Contains(out, "(seq 8,") || !strings.Contains(out, "holds") {
				t.Fatalf("a healthy trail against its checkpoint: %v\n%s", err, out)
			}
			edit(c.edit)
			out, err := keyward(t, env, "audit", "verify", "--checkpoint", file)
			if err == nil || !strings.Contains(out, "does not hold") || !strings.Contains(out, "records were removed") {
				t.Fatalf("after %s: %v\n%s", c.name, err, out)
			}
		})
	}
}

// TestAuditVerifyRefusesAForgedRow: a row appended with database rights
// alone, whose hash chains correctly, has no valid MAC.
func TestAuditVerifyRefusesAForgedRow(t *testing.T) {
	t.Parallel()
	env, edit := auditTrail(t, 3)
	out, err := keyward(t, env, "audit", "verify")
	if err != nil {
		t.Fatalf("before: %v\n%s", err, out)
	}
	// The forger reads the head and chains a record after it.
	var head struct {
		Seq  int64     `json:"seq"`
		Hash string    `json:"hash"`
		At   time.Time `json:"at"`
	}
	b, err := os.ReadFile(checkpoint(t, env))
	if err != nil || json.Unmarshal(b, &head) != nil {
		t.Fatalf("read the head: %v", err)
	}
	forged, _ := domain.NewAuditRecord("admin:forger", "keys.revealed", "ord-1", nil)
	forged.Seq, forged.At = head.Seq+1, head.At.Add(time.Second)
	forged = domain.ChainAuditRecord(head.Hash, forged)
	edit(`INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash, mac) VALUES (` +
		"4, '" + forged.At.Format(time.RFC3339Nano) + "', 'admin:forger', 'keys.revealed', 'ord-1', '{}', '" + forged.PrevHash + "', '" + forged.Hash + "', repeat('0', 64))")
	out, err = keyward(t, env, "audit", "verify")
	if err == nil || !strings.Contains(out, "broken at seq 4") || !strings.Contains(out, "MAC does not verify") {
		t.Fatalf("after the forged row: %v\n%s", err, out)
	}
}

// TestAuditVerifyRefusesATamperedCheckpoint: a checkpoint edited to say
// something else, or whose MAC was changed, is refused.
func TestAuditVerifyRefusesATamperedCheckpoint(t *testing.T) {
	t.Parallel()
	env, _ := auditTrail(t, 3)
	file := checkpoint(t, env)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cp map[string]any
	if err := json.Unmarshal(b, &cp); err != nil {
		t.Fatal(err)
	}
	for name, change := range map[string]func(map[string]any){
		"its MAC":  func(c map[string]any) { c["mac"] = strings.Repeat("ab", 32) },
		"its seq":  func(c map[string]any) { c["seq"] = 2 },
		"its time": func(c map[string]any) { c["at"] = "2020-01-01T00:00:00Z" },
	} {
		tampered := map[string]any{}
		for k, v := range cp {
			tampered[k] = v
		}
		change(tampered)
		b, _ := json.Marshal(tampered)
		path := filepath.Join(t.TempDir(), "tampered.json")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := keyward(t, env, "audit", "verify", "--checkpoint", path)
		if err == nil || !strings.Contains(out, "MAC does not verify") {
			t.Errorf("a checkpoint with %s changed: %v\n%s", name, err, out)
		}
	}
	if out, err := keyward(t, env, "audit", "verify", "--checkpoint", file); err != nil {
		t.Errorf("the genuine checkpoint: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"audit", "checkpoint"}, {"audit", "verify", "--checkpoint"}, {"audit", "verify", "extra"}} {
		if out, err := keyward(t, env, args...); err == nil || !strings.Contains(out, "usage: keyward audit") {
			t.Errorf("keyward %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
