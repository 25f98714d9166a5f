package postgres_test

import (
	"testing"

	"github.com/lib/pq"

	"github.com/keyward/keyward/adapters/postgres"
)

// TestSQLCounterCountsStatementsRoundTripsAndTransactions pins what the
// per-order budget is measured in: BEGIN and COMMIT are statements, a
// statement with arguments is two round trips, a prepared one is one, a
// transaction that wrote is a write transaction, one that only read is
// not, and a write on its own is one (so is a transaction of writes
// only, sent as one statement).
func TestSQLCounterCountsStatementsRoundTripsAndTransactions(t *testing.T) {
	t.Parallel()
	db, c := countingDB(t)
	ctx := t.Context()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (n int)`); err != nil {
		t.Fatal(err)
	}
	before := c.Counts()

	tx := db.MustBeginTx(ctx, nil)
	if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ($1)`, 1); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got := c.Counts().Sub(before)
	// Its one write is the transaction (batch.go): no BEGIN, no COMMIT.
	if want := (postgres.SQLCounts{Statements: 1, RoundTrips: 2, WriteTransactions: 1}); got != want {
		t.Fatalf("a write transaction: %+v, want %+v", got, want)
	}
	// The same again on the same connection (the pool keeps one idle):
	// prepared the second time its text is sent (prepared_writes.go), a
	// statement and a round trip of their own, then bound and executed in
	// one round trip.
	for i, want := range []postgres.SQLCounts{
		{Statements: 2, RoundTrips: 2, Prepares: 1, WriteTransactions: 1},
		{Statements: 1, RoundTrips: 1, WriteTransactions: 1},
	} {
		before = c.Counts()
		tx = db.MustBeginTx(ctx, nil)
		if _, err := tx.ExecContext(ctx, `INSERT INTO t VALUES ($1)`, 2); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := c.Counts().Sub(before); got != want {
			t.Fatalf("the same write transaction, %d more time(s): %+v, want %+v", i+1, got, want)
		}
	}
	if _, err := db.ExecContext(ctx, `DELETE FROM t WHERE n = 2`); err != nil {
		t.Fatal(err)
	}

	before = c.Counts()
	tx = db.MustBeginTx(ctx, nil)
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM t WHERE n = $1 FOR UPDATE`, 1); err == nil {
		t.Fatal("count(*) FOR UPDATE should be refused by Postgres; the test's own statement is wrong")
	}
	_ = tx.Rollback()
	tx = db.MustBeginTx(ctx, nil)
	if err := tx.GetContext(ctx, &n, `SELECT n FROM t WHERE n = $1 FOR UPDATE`, 1); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got = c.Counts().Sub(before)
	// The refused one read no row: idle.
	if want := (postgres.SQLCounts{Statements: 6, RoundTrips: 8, ReadTransactions: 1, Rollbacks: 1, IdleStatements: 3, IdleRoundTrips: 4}); got != want {
		t.Fatalf("a rolled back and a read transaction: %+v, want %+v", got, want)
	}

	before = c.Counts()
	tx = db.MustBeginTx(ctx, nil)
	var ns []int
	if err := tx.SelectContext(ctx, &ns, `SELECT n FROM t WHERE n = $1`, 99); err != nil || len(ns) != 0 {
		t.Fatal(ns, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got = c.Counts().Sub(before)
	if want := (postgres.SQLCounts{Statements: 3, RoundTrips: 4, ReadTransactions: 1, IdleStatements: 3, IdleRoundTrips: 4}); got != want {
		t.Fatalf("a transaction that found nothing (a queue's empty poll): %+v, want %+v", got, want)
	}

	// An UPDATE ... RETURNING on its own that matched nothing (a claim
	// that found nothing due) wrote nothing: idle; one that matched is a
	// write transaction.
	before = c.Counts()
	if err := db.SelectContext(ctx, &ns, `UPDATE t SET n = n WHERE n = $1 RETURNING n`, 99); err != nil || len(ns) != 0 {
		t.Fatal(ns, err)
	}
	got = c.Counts().Sub(before)
	if want := (postgres.SQLCounts{Statements: 1, RoundTrips: 2, IdleStatements: 1, IdleRoundTrips: 2}); got != want {
		t.Fatalf("a write on its own that matched nothing: %+v, want %+v", got, want)
	}
	before = c.Counts()
	if err := db.SelectContext(ctx, &ns, `UPDATE t SET n = n WHERE n = $1 RETURNING n`, 1); err != nil || len(ns) != 1 {
		t.Fatal(ns, err)
	}
	got = c.Counts().Sub(before)
	if want := (postgres.SQLCounts{Statements: 1, RoundTrips: 2, WriteTransactions: 1}); got != want {
		t.Fatalf("a write on its own that matched a row: %+v, want %+v", got, want)
	}

	before = c.Counts()
	st, err := db.PreparexContext(ctx, `UPDATE t SET n = n + $1`)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := st.ExecContext(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	_ = st.Close()
	got = c.Counts().Sub(before)
	if want := (postgres.SQLCounts{Statements: 4, RoundTrips: 4, Prepares: 1, WriteTransactions: 3}); got != want {
		t.Fatalf("a prepared statement run thrice on its own: %+v, want %+v", got, want)
	}

	before = c.Counts()
	tx = db.MustBeginTx(ctx, nil)
	cp, err := tx.PrepareContext(ctx, pq.CopyIn("t", "n"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := cp.ExecContext(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cp.ExecContext(ctx); err != nil {
		t.Fatal(err)
	}
	_ = cp.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM t`); err != nil || n != 6 {
		t.Fatalf("COPY through the counting driver left %d rows (%v), want 6", n, err)
	}
	got = c.Counts().Sub(before)
	if want := (postgres.SQLCounts{Statements: 5, RoundTrips: 5, Prepares: 1, WriteTransactions: 1}); got != want {
		t.Fatalf("a COPY of 5 rows and a count: %+v, want %+v", got, want)
	}
}
