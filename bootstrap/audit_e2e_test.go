package bootstrap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/s3/s3test"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// auditConfig is the configuration of the audit commands on url, with a
// keyring of the test's own.
func auditConfig(t *testing.T, url string) bootstrap.Config {
	t.Helper()
	cfg := bootstrap.Defaults()
	cfg.DatabaseURL = url
	cfg.KeyringFile = filepath.Join(t.TempDir(), "keyring.json")
	return cfg
}

// deleteAuditTail removes every record after seq, as a superuser who
// disables the append-only trigger can.
func deleteAuditTail(t *testing.T, db *sqlx.DB, seq int) {
	t.Helper()
	for _, stmt := range []string{`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
		`DELETE FROM audit_log WHERE seq > ` + strconv.Itoa(seq), `ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`} {
		if _, err := db.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

// With KEYWARD_AUDIT_CHECKPOINT_PATH=s3://bucket/prefix the checkpoint goes
// to the bucket through the S3 blob store, and verify checks the trail
// against the newest one there.
func TestAuditCheckpointsInS3(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	srv := s3test.StartHTTP(t)
	cfg := auditConfig(t, url)
	cfg.Blobs.S3Endpoint, cfg.Blobs.S3Region, cfg.Blobs.S3PathStyle = srv.URL, s3test.Region, true
	cfg.Blobs.S3AccessKeyID, cfg.Blobs.S3SecretAccessKey = s3test.AccessKeyID, s3test.SecretAccessKey
	cfg.Audit.CheckpointPath = "s3://" + srv.Bucket + "/audit/checkpoints"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	v, err := bootstrap.VerifyAudit(ctx, cfg, nil)
	if err != nil || !v.Whole() || len(v.Checkpoints) != 1 || !v.Checkpoints[0].Missing {
		t.Fatalf("before any checkpoint: %+v, %v; want none stored yet", v, err)
	}
	for _, name := range []string{"one", "two", "three"} {
		if _, err := bootstrap.CreateAdminKey(ctx, cfg, "support", name); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := bootstrap.CheckpointAudit(ctx, cfg)
	if err != nil || cp.Seq != 3 {
		t.Fatalf("CheckpointAudit = %+v, %v; want seq 3", cp, err)
	}
	objs := srv.Objects(t, "audit/checkpoints/")
	var latest []byte
	for _, o := range objs {
		if o.Key == "audit/checkpoints/"+application.LatestCheckpointRef {
			latest = o.Data
		}
	}
	if len(objs) != 2 || latest == nil {
		t.Fatalf("%d objects under the prefix, want the checkpoint and latest.json", len(objs))
	}
	if stored, err := application.ParseCheckpoint(latest); err != nil || stored.Hash != cp.Hash || stored.MAC != cp.MAC {
		t.Fatalf("latest.json = %+v, %v; want %+v", stored, err, cp)
	}
	v, err = bootstrap.VerifyAudit(ctx, cfg, nil)
	if err != nil || !v.Whole() || len(v.Checkpoints) != 1 || v.Checkpoints[0].Seq != 3 || v.Checkpoints[0].Mismatch != "" {
		t.Fatalf("a healthy trail: %+v, %v", v, err)
	}
	deleteAuditTail(t, db, 1)
	v, err = bootstrap.VerifyAudit(ctx, cfg, nil)
	if err != nil || v.Whole() || len(v.Checkpoints) != 1 || !strings.Contains(v.Checkpoints[0].Mismatch, "records were removed") {
		t.Fatalf("after deleting the tail: %+v, %v; want the checkpoint not to hold", v, err)
	}
}

// A worker writes a checkpoint to a directory at start and each
// KEYWARD_AUDIT_CHECKPOINT_INTERVAL.
func TestWorkersWriteAuditCheckpoints(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	dir := filepath.Join(t.TempDir(), "checkpoints")
	h := start(t, func(c *bootstrap.Config) {
		withPostgres(url)(c)
		c.Audit.CheckpointPath, c.Audit.CheckpointInterval = dir, time.Minute
	})
	latest := filepath.Join(dir, application.LatestCheckpointRef)
	var b []byte
	var readErr error
	testkit.EventuallyWith(t, 30*time.Second, func() string { return fmt.Sprintf("no checkpoint in %s: %v", dir, readErr) }, func() bool {
		b, readErr = os.ReadFile(latest)
		return readErr == nil
	})
	cp, err := application.ParseCheckpoint(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	v, err := bootstrap.VerifyAudit(ctx, h.cfg, nil)
	if err != nil || !v.Whole() || len(v.Checkpoints) != 1 || v.Checkpoints[0].Seq != cp.Seq || v.Checkpoints[0].Mismatch != "" {
		t.Fatalf("verify against the worker's checkpoint: %+v, %v", v, err)
	}
}

// The admin API's verify reports a row forged with database rights alone
// (its chain hash correct, its MAC not), with where and why.
func TestAdminVerifyReportsAForgedRowsMAC(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	h := start(t, withPostgres(url))
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	var v struct {
		Valid    bool   `json:"valid"`
		Verified int    `json:"verified"`
		BrokenAt *int64 `json:"broken_at"`
		Reason   string `json:"reason"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/audit/verify", nil, admin, &v); code != 200 || !v.Valid {
		t.Fatalf("verify before: %d %s", code, raw)
	}
	// The forger takes the chain's lock, as the log does, and chains a
	// record after the head.
	tx, err := db.BeginTxx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	var head struct {
		Seq  int64     `db:"seq"`
		Hash string    `db:"hash"`
		At   time.Time `db:"at"`
	}
	if _, err := tx.ExecContext(t.Context(), `SELECT pg_advisory_xact_lock($1)`, int64(0x6b77_6175_6469_7431)); err != nil {
		t.Fatal(err)
	}
	if err := tx.GetContext(t.Context(), &head, `SELECT seq, hash, at FROM audit_log ORDER BY seq DESC LIMIT 1`); err != nil {
		t.Fatal(err)
	}
	forged, _ := domain.NewAuditRecord("admin:forger", "keys.revealed", "ord-1", nil)
	forged.Seq, forged.At = head.Seq+1, head.At.Add(time.Millisecond)
	forged = domain.ChainAuditRecord(head.Hash, forged)
	// A MAC the forger cannot compute (the database refuses a row
	// without one once the trail is MACed).
	if _, err := tx.ExecContext(t.Context(), `INSERT INTO audit_log (seq, at, actor, action, subject, details, prev_hash, hash, mac)
		VALUES ($1, $2, $3, $4, $5, '{}', $6, $7, repeat('0', 64))`, forged.Seq, forged.At, forged.Actor, forged.Action, forged.Subject, forged.PrevHash, forged.Hash); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if code, _, raw := h.do("GET", "/v1/admin/audit/verify", nil, admin, &v); code != 200 || v.Valid ||
		v.BrokenAt == nil || *v.BrokenAt != forged.Seq || !strings.Contains(v.Reason, "MAC") {
		t.Fatalf("verify after the forged row: %d %s; want broken at seq %d for its MAC", code, raw, forged.Seq)
	}
}

// The admin API's verify reports a staged record written with database
// rights alone, which the sealer quarantined: the trail is not valid.
func TestAdminVerifyReportsQuarantinedRecords(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	h := start(t, withPostgres(url))
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	var v struct {
		Valid          bool    `json:"valid"`
		Quarantined    int     `json:"quarantined"`
		QuarantinedIDs []int64 `json:"quarantined_pending_ids"`
	}
	if _, err := db.ExecContext(t.Context(), `INSERT INTO audit_pending (id, at, actor, action, subject) VALUES (4242, now(), 'admin:forger', 'keys.revealed', 'ord-1')`); err != nil {
		t.Fatal(err)
	}
	if code, _, raw := h.do("GET", "/v1/admin/audit/verify", nil, admin, &v); code != 200 || v.Valid ||
		v.Quarantined != 1 || len(v.QuarantinedIDs) != 1 || v.QuarantinedIDs[0] != 4242 {
		t.Fatalf("verify with a quarantined row: %d %s; want valid false, pending id 4242", code, raw)
	}
}
