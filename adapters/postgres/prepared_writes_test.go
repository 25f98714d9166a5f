package postgres_test

import (
	"fmt"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
)

// TestPreparedWritesAreKeptPerConnectionAndBounded: a batch of writes is
// prepared on its connection the second time its text is sent (a text
// sent once is never prepared) and bound and executed after; a
// connection keeps at most PreparedWritesPerConn of them on the server, a
// new text taking the place of the one used least lately, which is
// prepared again when it comes back.
func TestPreparedWritesAreKeptPerConnectionAndBounded(t *testing.T) {
	t.Parallel()
	db, c := countingDB(t)
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
	}); n != 0 || onServer() != 0 {
		t.Fatalf("%d texts sent once: %d preparations, %d on the server, want none", shapes, n, onServer())
	}
	// Each again: prepared, the last two putting the first two out (a
	// preparation each for their statements' close).
	if n := prepares(func() {
		for i := range shapes {
			write(i)
		}
	}); n != uint64(shapes+2) {
		t.Fatalf("%d texts sent again: %d preparations, want one each and two closes", shapes, n)
	}
	if n := onServer(); n != postgres.PreparedWritesPerConn {
		t.Fatalf("%d statements prepared on the server, want the bound %d", n, postgres.PreparedWritesPerConn)
	}
	if n := prepares(func() { write(shapes - 1) }); n != 0 {
		t.Fatalf("the latest text prepared again (%d)", n)
	}
	if n := prepares(func() { write(0) }); n != 0 {
		t.Fatalf("the text put out, sent again: %d preparations, want none (it is new again)", n)
	}
	if n := prepares(func() { write(0) }); n != 2 {
		t.Fatalf("the text put out, sent twice: %d preparations, want its own and a close", n)
	}
	var rows int
	if err := db.GetContext(ctx, &rows, `SELECT count(*) FROM t`); err != nil || rows != 2*shapes+3 {
		t.Fatalf("%d rows (%v), want %d", rows, err, 2*shapes+3)
	}
}

// TestPreparedWriteIsForgottenWhenItsTableChanged: a prepared batch keeps
// the parameter types of its preparation, so a column whose type changed
// under it (text to an enum) fails it; the statement is then forgotten,
// and the next batch of the text, sent unnamed, succeeds.
func TestPreparedWriteIsForgottenWhenItsTableChanged(t *testing.T) {
	t.Parallel()
	db, _ := countingDB(t)
	db.SetMaxOpenConns(1)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TYPE kind AS ENUM ('a', 'b'); CREATE TABLE t (v text)`); err != nil {
		t.Fatal(err)
	}
	write := func() error {
		tx := db.MustBeginTx(ctx, nil)
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (v) VALUES ($1)`, "a"); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	for range 2 { // the second prepares it
		if err := write(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `ALTER TABLE t ALTER COLUMN v TYPE kind USING v::kind`); err != nil {
		t.Fatal(err)
	}
	if err := write(); err == nil {
		t.Fatal("the statement prepared for a text column ran against the enum: the test no longer shows what it is for")
	}
	if err := write(); err != nil {
		t.Fatalf("the batch after the failure: %v, want it sent unnamed and stored", err)
	}
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM t`); err != nil || n != 3 {
		t.Fatalf("%d rows (%v), want 3", n, err)
	}
}
