package main_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// keyward runs the binary with env and returns what it printed and its error.
func keyward(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	// A mail directory of the test's own unless env names one: the
	// default (./var/mail) is in the source tree.
	cmd.Env = append(append(os.Environ(), "KEYWARD_MAIL_DIR="+filepath.Join(t.TempDir(), "mail")), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// keyringFile is the setting of a keyring of the test's own: the commands
// and the server of one deployment share their key vault, which holds the
// audit MAC key.
func keyringFile(t *testing.T) string {
	t.Helper()
	return "KEYWARD_KEYRING_FILE=" + filepath.Join(t.TempDir(), "keyring.json")
}

var base64URLKey = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// createKey runs `keyward admin create-key` and returns the key, printed
// alone on the last line, and the key's id.
func createKey(t *testing.T, env []string, role, name string) (key, id string) {
	t.Helper()
	out, err := keyward(t, env, "admin", "create-key", "--role", role, "--name", name)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key = lines[len(lines)-1]
	m := regexp.MustCompile(`key ([0-9a-f-]{36}) `).FindStringSubmatch(out)
	if err != nil || !base64URLKey.MatchString(key) || m == nil {
		t.Fatalf("create-key --role %s: %v\n%s", role, err, out)
	}
	return key, m[1]
}

// TestAdminKeysThroughTheBinary: keys made with `keyward admin create-key`
// open the admin API of a server on the same database, each to what its
// role allows; list-keys never shows a key; a revoked key is refused; and
// every request is in an audit chain that `keyward audit verify` accepts.
func TestAdminKeysThroughTheBinary(t *testing.T) {
	t.Parallel()
	if out, err := keyward(t, []string{"KEYWARD_DATABASE_URL="}, "admin", "list-keys"); err == nil || !strings.Contains(out, "KEYWARD_DATABASE_URL") {
		t.Fatalf("list-keys without a database: %v\n%s", err, out)
	}
	if out, err := keyward(t, []string{"KEYWARD_DATABASE_URL="}, "audit", "verify"); err == nil || !strings.Contains(out, "KEYWARD_DATABASE_URL") {
		t.Fatalf("audit verify without a database: %v\n%s", err, out)
	}
	url, _ := pgtest.NewDatabase(t)
	env := []string{"KEYWARD_DATABASE_URL=" + url, keyringFile(t)}
	if out, err := keyward(t, env, "admin", "create-key", "--role", "root"); err == nil || !strings.Contains(out, "admin or support") {
		t.Fatalf("create-key with an unknown role: %v\n%s", err, out)
	}
	support, supportID := createKey(t, env, "support", "desk-1")
	admin, _ := createKey(t, env, "admin", "ops-1")
	out, err := keyward(t, env, "admin", "list-keys")
	if err != nil || !strings.Contains(out, supportID) || !strings.Contains(out, "desk-1") || !strings.Contains(out, "support") ||
		strings.Contains(out, support) || strings.Contains(out, admin) {
		t.Fatalf("list-keys: %v\n%s", err, out)
	}

	s := serve(t, env...)
	for _, c := range []struct {
		method, path, key string
		want              int
	}{
		{"GET", "/v1/admin/orders", support, http.StatusOK},
		{"GET", "/v1/admin/audit", support, http.StatusOK},
		{"POST", "/v1/admin/keys/rotate", support, http.StatusForbidden},
		{"POST", "/v1/admin/orders/00000000-0000-7000-8000-000000000001/revoke", support, http.StatusForbidden},
		{"POST", "/v1/admin/orders/00000000-0000-7000-8000-000000000001/retry-fulfilment", support, http.StatusForbidden},
		{"GET", "/v1/admin/orders", "not-a-key-0123456789", http.StatusUnauthorized},
		{"GET", "/v1/admin/orders", admin, http.StatusOK},
		{"POST", "/v1/admin/orders/00000000-0000-7000-8000-000000000001/revoke", admin, http.StatusNotFound},
	} {
		if got := call(t, c.method, s.base+c.path, c.key, nil, nil); got != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, got, c.want)
		}
	}
	if out, err := keyward(t, env, "admin", "revoke-key", supportID); err != nil || !strings.Contains(out, "revoked support key "+supportID) {
		t.Fatalf("revoke-key: %v\n%s", err, out)
	}
	if got := call(t, "GET", s.base+"/v1/admin/orders", support, nil, nil); got != http.StatusUnauthorized {
		t.Fatalf("a revoked key: %d", got)
	}
	if out, err := keyward(t, env, "admin", "revoke-key", supportID); err == nil {
		t.Fatalf("revoking twice: %s", out)
	}

	var page struct {
		Items []struct {
			Actor   string            `json:"actor"`
			Action  string            `json:"action"`
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	if got := call(t, "GET", s.base+"/v1/admin/audit?type=admin.&limit=1000", admin, nil, &page); got != http.StatusOK {
		t.Fatalf("audit: %d", got)
	}
	seen := map[string]bool{}
	for _, r := range page.Items {
		seen[r.Action+" "+r.Details["key_name"]+" "+r.Details["status"]] = true
	}
	for _, want := range []string{"admin.request desk-1 200", "admin.denied desk-1 403", "admin.request ops-1 200", "admin.unknown_key  401"} {
		if !seen[want] {
			t.Errorf("no audit record %q in %v", want, seen)
		}
	}
	if out, err := keyward(t, env, "audit", "verify"); err != nil || !strings.Contains(out, "audit chain verified") {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
}

// TestAuditVerifyFindsEdits: editing, deleting or reordering any audit row
// makes `keyward audit verify` exit non-zero naming that record.
func TestAuditVerifyFindsEdits(t *testing.T) {
	for _, c := range []struct {
		name string
		edit []string
		seq  string
	}{
		{"edit", []string{`UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2`}, "2"},
		{"delete", []string{`DELETE FROM audit_log WHERE seq = 2`}, "3"},
		{"reorder", []string{`UPDATE audit_log SET seq = 100 WHERE seq = 2`, `UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 100`}, "2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url, db := pgtest.NewDatabase(t)
			env := []string{"KEYWARD_DATABASE_URL=" + url, keyringFile(t)}
			for _, name := range []string{"one", "two", "three"} { // each creation appends one record
				createKey(t, env, "support", name)
			}
			if out, err := keyward(t, env, "audit", "verify"); err != nil || !strings.Contains(out, "verified: 3 records") {
				t.Fatalf("before the edit: %v\n%s", err, out)
			}
			superuserEdit(t, db, c.edit...)
			out, err := keyward(t, env, "audit", "verify")
			if err == nil || !strings.Contains(out, "broken at seq "+c.seq) || !strings.Contains(out, `first broken record: {"seq":`+c.seq) {
				t.Fatalf("after the %s: %v\n%s", c.name, err, out)
			}
		})
	}
}

// superuserEdit runs stmts with the append-only trigger disabled, as a
// superuser (the test role) can.
func superuserEdit(t *testing.T, db *sqlx.DB, stmts ...string) {
	t.Helper()
	tx, err := db.BeginTxx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	stmts = append(append([]string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`}, stmts...),
		`ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`)
	for _, stmt := range stmts {
		if _, err := tx.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
