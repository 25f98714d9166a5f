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
	"github.com/keyward/keyward/ports"
)

// batchDB is a migrated database (keyward_expect_rows) with two tables of
// its own, parent and child (a foreign key), on a counting pool.
func batchDB(t *testing.T) (*sqlx.DB, *postgres.SQLCounter) {
	t.Helper()
	url, _ := pgtest.NewDatabase(t)
	db, c := countingPool(t, url)
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
	if got.Statements != 1 || got.Prepares != 0 || got.WriteTransactions != 1 {
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

// consumeTx is a queue's consume transaction as InConsumeTx sees it, on a
// transaction of the test's.
type consumeTx struct{ tx *sqlx.Tx }

func (c consumeTx) Tx() *sqlx.Tx               { return c.tx }
func (c consumeTx) AfterCommit(func())         {}
func (c consumeTx) Ack() (string, []any, bool) { return "", nil, false }
func (c consumeTx) Acked()                     {}
func (c consumeTx) Eager() bool                { return false }

// TestConsumeTxNeverRollsBackAnEarlierHandling: in one consume
// transaction, a first handling whose savepoint was sent (it locked a
// row) writes; a second fails while its own savepoint is still kept (a
// read fails, or its writes when the end of the handling sends them), so
// no savepoint can undo the failure. The transaction is then aborted for
// good (ports.ErrConsumeAborted, every later handling too) and commits
// nothing: a rollback never reaches the first handling's savepoint, which
// would drop its writes and let the batch commit without them.
func TestConsumeTxNeverRollsBackAnEarlierHandling(t *testing.T) {
	t.Parallel()
	for name, fail := range map[string]func(ctx context.Context, tx *sqlx.Tx) error{
		"a read fails": func(ctx context.Context, tx *sqlx.Tx) error {
			var n int
			return tx.GetContext(ctx, &n, `SELECT 1 / (SELECT count(*) - 2 FROM other)`)
		},
		"its writes fail": func(ctx context.Context, tx *sqlx.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO other (id) VALUES (1)`)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db, _ := batchDB(t)
			ctx := t.Context()
			execAll(t, db, `INSERT INTO other (id) VALUES (9)`)
			tx := db.MustBeginTx(ctx, nil)
			defer func() { _ = tx.Rollback() }()
			c := consumeTx{tx}
			if err := postgres.InConsumeTx(ctx, c, func(ctx context.Context) error {
				var id int
				if err := tx.GetContext(ctx, &id, `SELECT id FROM other WHERE id = 9 FOR UPDATE`); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `INSERT INTO other (id) VALUES (1)`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if err := postgres.InConsumeTx(ctx, c, func(ctx context.Context) error { return fail(ctx, tx) }); !errors.Is(err, ports.ErrConsumeAborted) {
				t.Fatalf("the second handling: %v, want ports.ErrConsumeAborted", err)
			}
			err := postgres.InConsumeTx(ctx, c, func(ctx context.Context) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO other (id) VALUES (3)`)
				return err
			})
			if !errors.Is(err, ports.ErrConsumeAborted) {
				t.Fatalf("a handling after the abort: %v, want ports.ErrConsumeAborted", err)
			}
			if err := tx.Commit(); err == nil {
				t.Fatal("an aborted consume transaction committed")
			}
			if n := count(t, db, `SELECT count(*) FROM other`); n != 1 {
				t.Fatalf("%d rows after the aborted batch, want the 1 written before it", n)
			}
		})
	}
}
