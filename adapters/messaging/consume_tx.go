package messaging

import (
	"context"
	"database/sql"
	"strings"
	"sync"

	wsql "github.com/ThreeDotsLabs/watermill-sql/v4/pkg/sql"
	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/internal/sqlmark"
)

// ConsumeTx is the transaction in which a SQL subscriber reads a message
// and, once the handler has acknowledged it, writes its offset and
// commits; a nack, a stop or a crash leaves it uncommitted. The handler
// finds it in the message's context (ConsumeTxFrom), so that writes that
// must not outlive a rolled-back acknowledgement commit with it. It holds
// the transaction open while the handler runs: only storage work joins it.
type ConsumeTx struct {
	tx *sqlx.Tx

	mu    sync.Mutex
	after []func()
}

var _ wsql.Tx = (*ConsumeTx)(nil)

// ConsumeTxFrom returns the transaction a SQL subscriber consumes the
// message of ctx (a handler's message context) in; false for a message
// from another queue.
func ConsumeTxFrom(ctx context.Context) (*ConsumeTx, bool) {
	tx, ok := wsql.TxFromContext(ctx)
	if !ok {
		return nil, false
	}
	c, ok := tx.(*ConsumeTx)
	return c, ok
}

// Tx returns the transaction, for storage to join.
func (t *ConsumeTx) Tx() *sqlx.Tx { return t.tx }

// AfterCommit has fn called once the transaction commits, never when it
// rolls back.
func (t *ConsumeTx) AfterCommit(fn func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.after = append(t.after, fn)
}

// ExecContext implements wsql.Tx. The acknowledgement, an upsert of the
// group's offset, changes one row: marked so, it is batched with the
// handler's writes (Watermill reads its RowsAffected only to log it).
func (t *ConsumeTx) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	if strings.HasPrefix(query, `INSERT INTO "watermill_offsets_`) && strings.Contains(query, "ON CONFLICT") {
		query = sqlmark.ExpectRows(1, query)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext implements wsql.Tx.
func (t *ConsumeTx) QueryContext(ctx context.Context, query string, args ...any) (wsql.Rows, error) {
	return t.tx.QueryContext(ctx, query, args...)
}

// Commit commits and then runs the AfterCommit functions.
func (t *ConsumeTx) Commit() error {
	if err := t.tx.Commit(); err != nil {
		return err
	}
	t.mu.Lock()
	after := t.after
	t.after = nil
	t.mu.Unlock()
	for _, fn := range after {
		fn()
	}
	return nil
}

// Rollback rolls back; the AfterCommit functions are dropped.
func (t *ConsumeTx) Rollback() error {
	t.mu.Lock()
	t.after = nil
	t.mu.Unlock()
	return t.tx.Rollback()
}

// consumeBeginner begins a SQL subscriber's transactions as ConsumeTx.
type consumeBeginner struct{ db *sqlx.DB }

var _ wsql.Beginner = consumeBeginner{}

func newConsumeBeginner(db *sql.DB) consumeBeginner {
	return consumeBeginner{db: sqlx.NewDb(db, "postgres")}
}

func (b consumeBeginner) BeginTx(ctx context.Context, opts *sql.TxOptions) (wsql.Tx, error) {
	tx, err := b.db.BeginTxx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &ConsumeTx{tx: tx}, nil
}

func (b consumeBeginner) ExecContext(ctx context.Context, query string, args ...any) (wsql.Result, error) {
	return b.db.ExecContext(ctx, query, args...)
}

func (b consumeBeginner) QueryContext(ctx context.Context, query string, args ...any) (wsql.Rows, error) {
	return b.db.QueryContext(ctx, query, args...)
}
