package bootstrap_test

import (
	"slices"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
)

// auditShapes returns, for every audit record in db (chained or staged)
// but the admin HTTP requests' own, its action, subject and the names of
// its details, sorted: what a record says, apart from its values.
func auditShapes(t *testing.T, db *sqlx.DB) []string {
	t.Helper()
	var shapes []string
	if err := db.SelectContext(t.Context(), &shapes, `SELECT action || ' ' || subject || ' ' ||
			COALESCE((SELECT string_agg(k, ',' ORDER BY k) FROM jsonb_object_keys(details) k), '') FROM (
			SELECT action, subject, details FROM audit_log UNION ALL SELECT action, subject, details FROM audit_pending) r
		WHERE action <> $1 ORDER BY 1`, application.AuditAdminRequest); err != nil {
		t.Fatal(err)
	}
	return shapes
}

// TestKeyRotationFromTheShellAuditsAsTheAPI: `keyward keys rotate` runs
// the use case serve builds, on the ports serve decorates, so a rotation
// from the shell writes the same audit records (action, subject, the
// names of the details) as a rotation through the admin API of the same
// shop, and rewraps the same data keys.
func TestKeyRotationFromTheShellAuditsAsTheAPI(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	h := start(t, both(withPostgres(url), withVault(t, "")))
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	h.deliveredOrder("rotate-shell@example.com", line(sku, 1))

	before := auditShapes(t, db)
	var viaAPI struct {
		Rewrapped int `json:"rewrapped"`
	}
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	if code, _, raw := h.do("POST", "/v1/admin/keys/rotate", nil, admin, &viaAPI); code != 200 {
		t.Fatalf("rotate through the API: %d %s", code, raw)
	}
	apiRecords := without(auditShapes(t, db), before)

	before = auditShapes(t, db)
	res, err := bootstrap.RotateKeys(t.Context(), h.cfg, application.ActorOperatorCLI)
	if err != nil {
		t.Fatalf("rotate from the shell: %v", err)
	}
	shellRecords := without(auditShapes(t, db), before)

	if viaAPI.Rewrapped == 0 || res.Rewrapped != viaAPI.Rewrapped {
		t.Errorf("rewrapped %d from the shell, %d through the API: want the same, more than 0", res.Rewrapped, viaAPI.Rewrapped)
	}
	if len(apiRecords) == 0 || !slices.Equal(apiRecords, shellRecords) {
		t.Fatalf("audit records of the rotation:\n  API:   %q\n  shell: %q\nwant the same", apiRecords, shellRecords)
	}
}
