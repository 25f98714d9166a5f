// Package pgtest gives tests a fresh, migrated PostgreSQL database each,
// a copy of a template database migrated once (keyward_template_<hash of
// the migrations>, kept on the server for the next run).
//
// The server is found at KEYWARD_TEST_DATABASE_URL, a postgres:// URL of a
// role allowed to create databases (default DefaultURL). A server that does
// not answer fails the test: nothing is skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/migrations"
)

// EnvURL names the variable that points the tests at a PostgreSQL server.
const EnvURL = "KEYWARD_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// maxConns bounds each test database's pool: many test databases share one
// server's max_connections.
const maxConns = 8

// NewDB returns a fresh database migrated to the latest version, dropped
// when the test ends.
func NewDB(t testing.TB) *sqlx.DB {
	t.Helper()
	_, db := NewDatabase(t)
	return db
}

// NewDatabase is NewDB that also returns the database's URL, for code
// under test that opens its own connections.
func NewDatabase(t testing.TB) (string, *sqlx.DB) {
	t.Helper()
	dbURL := newDatabase(t, migratedTemplate)
	return dbURL, connect(t, dbURL)
}

// NewEmptyDatabase creates a fresh database with no tables, dropped (with
// FORCE, closing any connection left open) when the test ends, and returns
// its URL.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, nil)
}

// newDatabase creates a database, a copy of the template that template
// names (the server's default without one), dropped when the test ends,
// and returns its URL.
func newDatabase(t testing.TB, template func(testing.TB, string, *sqlx.DB) string) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("pgtest: %s must be a postgres:// URL, got %q", EnvURL, base)
	}
	admin := connect(t, base)
	name := "keyward_test_" + randomHex(t)
	create := `CREATE DATABASE ` + pq.QuoteIdentifier(name)
	if template != nil {
		create += ` TEMPLATE ` + pq.QuoteIdentifier(template(t, base, admin))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A copy waits up to 5 s for sessions on its template to end, then
	// fails (55006); it is tried again a few times.
	for attempt := 1; ; attempt++ {
		_, err := admin.ExecContext(ctx, create)
		var pqErr *pq.Error
		if err == nil {
			break
		}
		if attempt < 3 && errors.As(err, &pqErr) && pqErr.Code == "55006" {
			continue
		}
		t.Fatalf("pgtest: create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop test database %s: %v", name, err)
		}
	})
	return withDatabase(u, name)
}

// withDatabase is the server URL u naming database name.
func withDatabase(u *url.URL, name string) string {
	c := *u
	c.Path = "/" + name
	return c.String()
}

// templates are, by server URL, the migrated template database this
// process copies (migratedTemplate).
var (
	templatesMu sync.Mutex
	templates   = map[string]string{}
)

// migratedTemplate returns the name of a template database holding
// keyward's schema at its latest migration, made once per server and set
// of migrations (its name carries their hash) and kept: a test database
// copied from it costs a copy, not the migrations' half a second. Test
// processes running at once (go test's packages) take turns on an
// advisory lock to make it; it is marked a template only once migrated,
// so a process that died while making it leaves nothing another would
// copy.
func migratedTemplate(t testing.TB, base string, admin *sqlx.DB) string {
	t.Helper()
	templatesMu.Lock()
	defer templatesMu.Unlock()
	if name, ok := templates[base]; ok {
		return name
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := admin.Connx(ctx) // the lock is the session's
	if err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	const unlock = `SELECT pg_advisory_unlock(hashtext('keyward pgtest template'))`
	locked := false
	defer func() {
		if locked {
			uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ucancel()
			if _, err := conn.ExecContext(uctx, unlock); err == nil {
				_ = conn.Close()
				return
			}
		}
		// A session that may hold the lock goes, not back to the pool.
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		_ = conn.Close()
	}()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtext('keyward pgtest template'))`); err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	locked = true
	// Its tables belong to the role that made it, and so do a copy's: a
	// template per role.
	var role string
	if err := conn.GetContext(ctx, &role, `SELECT current_user`); err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	name := "keyward_template_" + migrationsHash(t, role)
	var ready bool
	if err := conn.GetContext(ctx, &ready, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1 AND datistemplate)`, name); err != nil {
		t.Fatalf("pgtest: template database: %v", err)
	}
	if !ready {
		// What a process that died while making it left.
		if _, err := conn.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			t.Fatalf("pgtest: template database: %v", err)
		}
		if _, err := conn.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
			t.Fatalf("pgtest: template database: %v", err)
		}
		u, err := url.Parse(base)
		if err != nil {
			t.Fatal(err)
		}
		db, err := postgres.Open(ctx, withDatabase(u, name))
		if err != nil {
			t.Fatalf("pgtest: template database: %v", err)
		}
		err = postgres.MigrateUp(ctx, db.DB)
		_ = db.Close()
		if err != nil {
			t.Fatalf("pgtest: migrate the template database: %v", err)
		}
		// No session may connect to it: one would keep every copy from
		// being made.
		if _, err := conn.ExecContext(ctx, `ALTER DATABASE `+pq.QuoteIdentifier(name)+` WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`); err != nil {
			t.Fatalf("pgtest: template database: %v", err)
		}
	}
	templates[base] = name
	return name
}

// migrationsHash is a hash of keyward's migration files, names and
// contents, and of role: a template made from other migrations, or by
// another role, is another database.
func migrationsHash(t testing.TB, role string) string {
	t.Helper()
	files, err := fs.Glob(migrations.FS, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", role)
	for _, f := range files {
		b, err := fs.ReadFile(migrations.FS, f)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// connect opens dbURL and closes it when the test ends (before the
// database is dropped: cleanups run last registered, first called).
func connect(t testing.TB, dbURL string) *sqlx.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatalf("pgtest: PostgreSQL does not answer at %s: %v\n"+
			"Start PostgreSQL there, or set %s to the URL of a server where this role may create databases.",
			redact(dbURL), err, EnvURL)
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: random database name: %v", err)
	}
	return hex.EncodeToString(b)
}

// redact hides a password in a URL for messages.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
