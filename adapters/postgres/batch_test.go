package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/sqlmark"
)

// batchDB is a migrated database (keyward_expect_rows) with two tables of
// its own, parent and child (a foreign key), on a counting pool.
func batchDB(t *testing.T) (*sqlx.DB, *postgres.SQLCounter) {
	t.Helper()
	url, _ := pgtest.NewDatabase(t)
	c := &postgres.SQLCounter{}
	db, err := postgres.OpenCounting(t.Context(), url, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.ExecContext(t.Context(), `CREATE TABLE parent (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
		CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent (id));
		CREATE TABLE other (id int PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	return db, c
}

// execAll runs each query on x, failing the test at the first error.
func execAll(t *testing.T, x sqlx.ExecerContext, queries ...string) {
	t.Helper()
	for _, q := range queries {
		if _, err := x.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func count(t *testing.T, db *sqlx.DB, query string) int {
	t.Helper()
	var n int
	if err := db.GetContext(context.Background(), &n, query); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatchCommitsATransactionOfWritesAsOneStatement: a parent and its
// child (the foreign key checked at the end of the statement), an update
// marked with the rows it changes and a notification, kept and sent as
// one statement at the commit, without BEGIN and COMMIT.
func TestBatchCommitsATransactionOfWritesAsOneStatement(t *testing.T) {
	t.Parallel()
	db, c := batchDB(t)
	ctx := t.Context()
	before := c.Counts()
	tx := db.MustBeginTx(ctx, nil)
	for _, q := range []struct {
		query string
		args  []any
	}{
		{`INSERT INTO parent (id) VALUES ($1)`, []any{1}},
		{`INSERT INTO child (id, parent_id) VALUES ($1, $2)`, []any{10, 1}},
		{sqlmark.ExpectRows(1, `UPDATE other SET id = id WHERE id = $1`), []any{-1}}, // checked at the commit
	} {
		res, err := tx.ExecContext(ctx, q.query, q.args...)
		if err != nil {
			t.Fatal(err)
		}
		_ = res
	}
	if got := c.Counts().Sub(before).Statements; got != 0 {
		t.Fatalf("%d statements sent before the commit, want none", got)
	}
	err := tx.Commit()
	if !errors.Is(postgres.TranslateForTest(err), domain.ErrConflict) {
		t.Fatalf("commit with an expectation unmet: %v, want a conflict", err)
	}
	if n := count(t, db, `SELECT count(*) FROM parent`) + count(t, db, `SELECT count(*) FROM child`); n != 0 {
		t.Fatalf("%d rows stored by a batch that failed, want none", n)
	}

	before = c.Counts()
	tx = db.MustBeginTx(ctx, nil)
	if _, err := tx.ExecContext(ctx, `INSERT INTO parent (id) VALUES ($1)`, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO child (id, parent_id) VALUES ($2, $1)`, 1, 10); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `WITH w AS (INSERT INTO other (id) VALUES ($3)) SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t`, "keyward_batch_test", "{a,b}", 7); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	got := c.Counts().Sub(before)
	if got.Statements != 1 || got.WriteTransactions != 1 {
		t.Fatalf("a transaction of three writes: %+v, want one statement, one write transaction", got)
	}
	if n := count(t, db, `SELECT count(*) FROM parent`) + count(t, db, `SELECT count(*) FROM child`) + count(t, db, `SELECT count(*) FROM other`); n != 3 {
		t.Fatalf("%d rows stored, want 3", n)
	}
}

// TestBatchReadsSeeTheWritesBeforeThem: a read naming a table a kept
// write changes sends the batch first; a read of another table does not;
// a write that depends on a kept one is sent after it; RowsAffected is
// exact.
func TestBatchReadsSeeTheWritesBeforeThem(t *testing.T) {
	t.Parallel()
	db, c := batchDB(t)
	ctx := t.Context()
	tx := db.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	execAll(t, tx, `INSERT INTO parent (id) VALUES (1), (2)`)
	before := c.Counts()
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM other`); err != nil || n != 0 {
		t.Fatal(n, err)
	}
	if got := c.Counts().Sub(before).Statements; got != 2 { // BEGIN and the read
		t.Fatalf("a read of another table sent %d statements, want 2 (the batch kept)", got)
	}
	res, err := tx.ExecContext(ctx, `UPDATE parent SET n = n + 1`)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows != 2 {
		t.Fatalf("an update after the insert of its rows changed %d (%v), want 2", rows, err)
	}
	execAll(t, tx, `INSERT INTO other (id) VALUES (1)`)
	res, err = tx.ExecContext(ctx, `INSERT INTO other (id) VALUES (1) ON CONFLICT DO NOTHING`)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := res.RowsAffected(); err != nil || rows != 0 {
		t.Fatalf("an insert of a row kept before it inserted %d (%v), want 0", rows, err)
	}
	if err := tx.GetContext(ctx, &n, `SELECT sum(n) FROM parent`); err != nil || n != 2 {
		t.Fatalf("read after the writes: %d, %v; want 2", n, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestBatchSavepoints: a savepoint waits for the writes after it, a
// rollback to it drops them without a statement, and the writes before
// it commit.
func TestBatchSavepoints(t *testing.T) {
	t.Parallel()
	db, c := batchDB(t)
	ctx := t.Context()
	before := c.Counts()
	tx := db.MustBeginTx(ctx, nil)
	execAll(t, tx, `INSERT INTO parent (id) VALUES (1)`, `SAVEPOINT handling`, `INSERT INTO parent (id) VALUES (2)`, `ROLLBACK TO SAVEPOINT handling`, `INSERT INTO parent (id) VALUES (3)`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := c.Counts().Sub(before).Statements; got != 1 {
		t.Fatalf("%d statements, want the one batch", got)
	}
	var ids []int
	if err := db.SelectContext(ctx, &ids, `SELECT id FROM parent ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(ids) != 2 || ids[0] != 1 || ids[1] != 3 {
		t.Fatalf("rows %v, want [1 3]", ids)
	}

	// Sent when a write after it must be: then a rollback to it is sent.
	tx = db.MustBeginTx(ctx, nil)
	execAll(t, tx, `INSERT INTO parent (id) VALUES (4)`, `SAVEPOINT handling`, `INSERT INTO parent (id) VALUES (5)`)
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM parent`); err != nil || n != 4 {
		t.Fatal(n, err)
	}
	execAll(t, tx, `ROLLBACK TO SAVEPOINT handling`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM parent`); n != 3 {
		t.Fatalf("%d rows, want 3 (5 rolled back)", n)
	}
}

// TestBatchFailureFailsTheTransaction: a write's error comes back from
// what sends its batch, and nothing of the transaction commits, even when
// the caller ignores that error.
func TestBatchFailureFailsTheTransaction(t *testing.T) {
	t.Parallel()
	db, _ := batchDB(t)
	ctx := t.Context()
	execAll(t, db, `INSERT INTO parent (id) VALUES (1)`)
	tx := db.MustBeginTx(ctx, nil)
	execAll(t, tx, `INSERT INTO other (id) VALUES (1)`)
	res, err := tx.ExecContext(ctx, `INSERT INTO parent (id) VALUES (1)`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := res.RowsAffected(); !errors.Is(postgres.TranslateForTest(err), domain.ErrConflict) {
		t.Fatalf("RowsAffected of a duplicate: %v, want a conflict", err)
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("a transaction whose batch failed committed")
	}
	if n := count(t, db, `SELECT count(*) FROM other`); n != 0 {
		t.Fatalf("%d rows of a failed transaction stored", n)
	}

	// A write marked with the rows it changes, alone in its batch.
	tx = db.MustBeginTx(ctx, nil)
	if _, err := tx.ExecContext(ctx, sqlmark.ExpectRows(1, `UPDATE parent SET n = 1 WHERE id = $1`), 2); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM parent`); !errors.Is(postgres.TranslateForTest(err), domain.ErrConflict) || err == nil {
		t.Fatalf("read after an unmet expectation: %v, want a conflict", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO other (id) VALUES (2)`); err == nil {
		t.Fatal("a write after a failed batch was taken")
	}
	if err := tx.Commit(); err == nil {
		t.Fatal("a transaction whose expectation failed committed")
	}
	if n := count(t, db, `SELECT count(*) FROM other`); n != 0 {
		t.Fatalf("%d rows of a failed transaction stored", n)
	}
}

// TestBatchRollbackSendsNothingUnsent: a transaction rolled back before
// anything had to be sent costs no statement.
func TestBatchRollbackSendsNothingUnsent(t *testing.T) {
	t.Parallel()
	db, c := batchDB(t)
	ctx := t.Context()
	before := c.Counts()
	tx := db.MustBeginTx(ctx, nil)
	execAll(t, tx, `INSERT INTO parent (id) VALUES (1)`)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if got := c.Counts().Sub(before).Statements; got != 0 {
		t.Fatalf("%d statements for a rolled back batch, want 0", got)
	}
	if n := count(t, db, `SELECT count(*) FROM parent`); n != 0 {
		t.Fatalf("%d rows of a rolled back transaction", n)
	}
}

// TestReadStatement pins how the batch reads statements: which it takes,
// the tables they write, how a WITH statement splits, and the
// renumbering of parameters.
func TestReadStatement(t *testing.T) {
	for _, c := range []struct {
		query  string
		batch  bool
		writes string
	}{
		{`INSERT INTO orders (id) VALUES ($1)`, true, "orders"},
		{`UPDATE orders SET s = $1 WHERE id = $2`, true, "orders"},
		{`DELETE FROM public.blobs WHERE ref = $1`, true, "blobs"},
		{`INSERT INTO "watermill_order.paid.p1" (uuid) VALUES ($1)`, true, "watermill_order.paid.p1"},
		{`INSERT INTO t (a) VALUES ($1) ON CONFLICT (a) DO UPDATE SET a = EXCLUDED.a`, true, "t"},
		{`WITH x AS (INSERT INTO a SELECT 1) SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t`, true, "a"},
		{`WITH x AS (SELECT id FROM a FOR UPDATE) UPDATE b SET n = 1 FROM x`, true, "b"},
		{`INSERT INTO t (a) VALUES ($1) RETURNING a`, false, ""},
		{`SELECT * FROM orders WHERE id = $1 FOR UPDATE`, false, ""},
		{`SELECT pg_notify($1, $2)`, false, ""},
		{`INSERT INTO t (a) VALUES ($$x$$)`, false, ""},
		{`INSERT INTO t (a) VALUES (E'\'')`, false, ""},
		{`INSERT INTO t (a) VALUES (1); DELETE FROM t`, false, ""},
		{`WITH RECURSIVE r AS (SELECT 1) INSERT INTO t SELECT * FROM r`, false, ""},
		{`SET LOCAL keyward.sealer = 'on'`, false, ""},
		{sqlmark.SendNow(`INSERT INTO t (a) VALUES ($1)`), false, ""},
		{`INSERT INTO t (a) VALUES ('it''s; $1 -- no')`, true, "t"},
	} {
		batch, writes := postgres.ReadStatementForTest(c.query)
		if batch != c.batch || (c.batch && strings.Join(writes, ",") != c.writes) {
			t.Errorf("%s: batched %v writing %v, want %v writing %q", c.query, batch, writes, c.batch, c.writes)
		}
	}
	got := postgres.CombineForTest([]string{
		`INSERT INTO a (x) VALUES ($1, '$2')`,
		sqlmark.ExpectRows(1, `UPDATE b SET y = $2 WHERE id = $1`),
		`WITH w AS (INSERT INTO c VALUES ($3)) SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t`,
	}, []int{1, 2, 3})
	want := `WITH w AS (INSERT INTO c VALUES ($6)), keyward_batch_1 AS (INSERT INTO a (x) VALUES ($1, '$2') RETURNING 1), ` +
		`keyward_batch_2 AS (UPDATE b SET y = $3 WHERE id = $2 RETURNING 1), keyward_batch_3 AS (SELECT pg_notify($4, t) FROM unnest($5::text[]) AS t) ` +
		`SELECT (SELECT count(*) FROM keyward_batch_1), keyward_expect_rows((SELECT count(*) FROM keyward_batch_2), 1, 'UPDATE b', true), (SELECT count(*) FROM keyward_batch_3)`
	if got != want {
		t.Errorf("combined:\n got %s\nwant %s", got, want)
	}
}

// TestBatchLoneExpectedWriteDoesNotCommitAnotherCount: a transaction whose
// only write is marked with the rows it changes commits nothing when it
// changes another number.
func TestBatchLoneExpectedWriteDoesNotCommitAnotherCount(t *testing.T) {
	t.Parallel()
	db, _ := batchDB(t)
	ctx := t.Context()
	execAll(t, db, `INSERT INTO parent (id) VALUES (1), (2), (3)`)
	tx := db.MustBeginTx(ctx, nil)
	if _, err := tx.ExecContext(ctx, sqlmark.ExpectRows(1, `UPDATE parent SET n = 7`)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(postgres.TranslateForTest(err), domain.ErrConflict) {
		t.Fatalf("commit: %v, want a conflict", err)
	}
	if n := count(t, db, `SELECT count(*) FROM parent WHERE n = 7`); n != 0 {
		t.Fatalf("%d rows changed by a write whose count was wrong", n)
	}
}

// TestBatchKeptSavepointUndoesWhatIsSentAfterIt: a savepoint kept unsent
// is sent before a statement a rollback to it must undo (a write sent at
// once, a row lock), and a rollback to it undoes and frees them.
func TestBatchKeptSavepointUndoesWhatIsSentAfterIt(t *testing.T) {
	t.Parallel()
	db, _ := batchDB(t)
	ctx := t.Context()
	execAll(t, db, `INSERT INTO other (id) VALUES (1)`)
	tx := db.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	execAll(t, tx, `SAVEPOINT handling`)
	var id int
	if err := tx.GetContext(ctx, &id, `INSERT INTO parent (id) VALUES (1) RETURNING id`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, sqlmark.SendNow(`INSERT INTO parent (id) VALUES (2)`)); err != nil {
		t.Fatal(err)
	}
	if err := tx.GetContext(ctx, &id, `SELECT id FROM other WHERE id = 1 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	execAll(t, tx, `ROLLBACK TO SAVEPOINT handling`)
	// The row lock is gone with the rollback: another transaction takes it
	// without waiting.
	other := db.MustBeginTx(ctx, nil)
	if err := other.GetContext(ctx, &id, `SELECT id FROM other WHERE id = 1 FOR UPDATE NOWAIT`); err != nil {
		t.Fatalf("the lock taken after the savepoint outlived the rollback to it: %v", err)
	}
	_ = other.Rollback()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM parent`); n != 0 {
		t.Fatalf("%d rows written after the savepoint outlived the rollback to it", n)
	}
}

// TestBatchRollbackToRecoversFromAFailureAfterTheSavepoint: as on the
// server, a rollback to a savepoint sent before a failed batch recovers
// the transaction.
func TestBatchRollbackToRecoversFromAFailureAfterTheSavepoint(t *testing.T) {
	t.Parallel()
	db, _ := batchDB(t)
	ctx := t.Context()
	execAll(t, db, `INSERT INTO parent (id) VALUES (1)`)
	tx := db.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	execAll(t, tx, `INSERT INTO other (id) VALUES (1)`, `SAVEPOINT handling`, `INSERT INTO parent (id) VALUES (1)`)
	var n int
	if err := tx.GetContext(ctx, &n, `SELECT count(*) FROM parent`); err == nil {
		t.Fatal("a read after a duplicate insert succeeded")
	}
	if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT handling`); err != nil {
		t.Fatalf("rollback to the savepoint sent before the failure: %v", err)
	}
	execAll(t, tx, `INSERT INTO other (id) VALUES (2)`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT count(*) FROM other`); n != 2 {
		t.Fatalf("%d rows, want the 2 written outside the failed part", n)
	}
}

// TestBatchBeginsUnderTheTransactionsContext: BEGIN, sent with the first
// statement, is bound to the transaction's context, not to that
// statement's.
func TestBatchBeginsUnderTheTransactionsContext(t *testing.T) {
	t.Parallel()
	db, _ := batchDB(t)
	ctx := t.Context()
	tx := db.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	short, cancel := context.WithCancel(ctx)
	var n int
	if err := tx.GetContext(short, &n, `SELECT count(*) FROM parent`); err != nil {
		t.Fatal(err)
	}
	cancel()
	execAll(t, tx, `INSERT INTO parent (id) VALUES (1)`)
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit after the first statement's context ended: %v", err)
	}
}

// TestBatchRollbackToAReusedSavepointName: two handlings of a consume
// transaction take savepoints of one name, the first sent (a locking read
// came after it), the second kept until a barrier sends the writes after
// it. When those writes fail, a rollback to the name undoes the second
// handling only, as the server's rollback to the latest savepoint of that
// name does: the first handling's writes stay.
func TestBatchRollbackToAReusedSavepointName(t *testing.T) {
	t.Parallel()
	db, _ := batchDB(t)
	ctx := t.Context()
	execAll(t, db, `INSERT INTO parent (id) VALUES (1)`, `INSERT INTO other (id) VALUES (9)`)
	tx := db.MustBeginTx(ctx, nil)
	defer func() { _ = tx.Rollback() }()
	// The first handling: its savepoint is sent before the locking read.
	execAll(t, tx, `SAVEPOINT handling`)
	var id int
	if err := tx.GetContext(ctx, &id, `SELECT id FROM other WHERE id = 9 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	execAll(t, tx, `INSERT INTO other (id) VALUES (1)`, sqlmark.Flush)
	// The second: kept savepoint, a write that fails when the barrier
	// sends it.
	execAll(t, tx, `SAVEPOINT handling`, `INSERT INTO other (id) VALUES (2)`, `INSERT INTO parent (id) VALUES (1)`)
	if _, err := tx.ExecContext(ctx, sqlmark.Flush); err == nil {
		t.Fatal("a duplicate insert was sent without error")
	}
	if _, err := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT handling`); err != nil {
		t.Fatalf("rollback to the second handling's savepoint: %v", err)
	}
	execAll(t, tx, `INSERT INTO other (id) VALUES (3)`)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var got []int
	if err := db.SelectContext(ctx, &got, `SELECT id FROM other ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 1 || got[1] != 3 || got[2] != 9 {
		t.Fatalf("rows %v, want [1 3 9]: the first handling's write kept, the second's undone", got)
	}
}
