// Package pgtest gives tests a fresh, migrated PostgreSQL database each.
//
// The server is found at KEYWARD_TEST_DATABASE_URL, a postgres:// URL of a
// role allowed to create databases (default DefaultURL). A server that does
// not answer fails the test: nothing is skipped.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/adapters/postgres"
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
	dbURL := NewEmptyDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db := connect(t, dbURL)
	if err := postgres.MigrateUp(ctx, db.DB); err != nil {
		t.Fatalf("pgtest: migrate test database: %v", err)
	}
	return dbURL, db
}

// NewEmptyDatabase creates a fresh database with no tables, dropped (with
// FORCE, closing any connection left open) when the test ends, and returns
// its URL.
func NewEmptyDatabase(t testing.TB) string {
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+pq.QuoteIdentifier(name)); err != nil {
		t.Fatalf("pgtest: create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+pq.QuoteIdentifier(name)+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop test database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
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
