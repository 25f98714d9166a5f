package postgres_test

import (
	"log/slog"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// auditKeyring is the master key of every audit log these tests make, as
// the processes of one deployment share their key vault: two logs on one
// database then share the audit MAC key stored (wrapped) there.
var auditKeyring = sync.OnceValue(func() *localkeyring.Keyring {
	k, err := localkeyring.NewInMemory()
	if err != nil {
		panic(err)
	}
	return k
})

// newAuditKey returns the audit MAC key of db, as a process makes it.
func newAuditKey(db *sqlx.DB) *application.AuditKey {
	return application.NewAuditKey(auditKeyring(), postgres.NewDataKeys(db), application.RefuseCreationOver(postgres.AuditTrailSigned(db)))
}

// newAuditLog returns a log on db as a process starts it: MACed under the
// audit key stored in db.
func newAuditLog(t testing.TB, db *sqlx.DB, clock ports.Clock) *postgres.AuditLog {
	t.Helper()
	log := postgres.NewAuditLog(db, clock, newAuditKey(db), slog.New(slog.DiscardHandler))
	if err := log.Start(t.Context()); err != nil {
		t.Fatalf("start the audit log: %v", err)
	}
	return log
}

// otherKeyring is a key vault of another deployment.
func otherKeyring(t *testing.T) *localkeyring.Keyring {
	t.Helper()
	k, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	return k
}
