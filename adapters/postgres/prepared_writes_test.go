package postgres_test

import (
	"fmt"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
)

// TestPreparedWritesAreKeptPerConnectionAndBounded: a batch of writes is
// prepared on its connection the first time its text is sent and bound
// and executed after; a connection keeps at most PreparedWritesPerConn of
// them on the server, a new text taking the place of the one used least
// lately, which is prepared again when it comes back.
func TestPreparedWritesAreKeptPerConnectionAndBounded(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDatabase(t)
	c := &postgres.SQLCounter{}
	db, err := postgres.OpenCounting(t.Context(), url, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	db.SetMaxOpenConns(1) // one connection: what it keeps is what the server shows
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n int)`); err != nil {
		t.Fatal(err)
	}
	write := func(shape int) {
		t.Helper()
		tx := db.MustBeginTx(ctx, nil)
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO t VALUES ($1 + %d)`, shape), 1); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	prepares := func(f func()) uint64 {
		before := c.Counts().Prepares
		f()
		return c.Counts().Prepares - before
	}
	onServer := func() int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, `SELECT count(*) FROM pg_prepared_statements`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	shapes := postgres.PreparedWritesPerConn + 2
	if n := prepares(func() {
		for i := range shapes {
			write(i)
		}
	}); n != uint64(shapes) {
		t.Fatalf("%d texts prepared %d times, want once each", shapes, n)
	}
	if n := onServer(); n != postgres.PreparedWritesPerConn {
		t.Fatalf("%d statements prepared on the server, want the bound %d", n, postgres.PreparedWritesPerConn)
	}
	if n := prepares(func() { write(shapes - 1) }); n != 0 {
		t.Fatalf("the latest text prepared again (%d)", n)
	}
	if n := prepares(func() { write(0) }); n != 1 {
		t.Fatalf("the text used least lately, put out, prepared %d times on its return, want once", n)
	}
	var rows int
	if err := db.GetContext(ctx, &rows, `SELECT count(*) FROM t`); err != nil || rows != shapes+2 {
		t.Fatalf("%d rows (%v), want %d", rows, err, shapes+2)
	}
}
