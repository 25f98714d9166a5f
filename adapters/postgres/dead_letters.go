package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DeadLetters is a ports.DeadLetters on PostgreSQL: dead letters stay in
// the database whatever the broker.
type DeadLetters struct{ db *sqlx.DB }

var _ ports.DeadLetters = (*DeadLetters)(nil)

// NewDeadLetters returns the dead letters stored in db.
func NewDeadLetters(db *sqlx.DB) *DeadLetters { return &DeadLetters{db: db} }

type deadLetterRow struct {
	ID         string     `db:"id"`
	Topic      string     `db:"topic"`
	OrderID    string     `db:"order_id"`
	Reason     string     `db:"reason"`
	Attempts   int        `db:"attempts"`
	Payload    []byte     `db:"payload"`
	Metadata   []byte     `db:"metadata"`
	CreatedAt  time.Time  `db:"created_at"`
	ReplayedAt *time.Time `db:"replayed_at"`
}

func (r deadLetterRow) letter() (ports.DeadLetter, error) {
	l := ports.DeadLetter{ID: r.ID, Topic: r.Topic, OrderID: r.OrderID, Reason: r.Reason, Attempts: r.Attempts,
		Payload: r.Payload, CreatedAt: r.CreatedAt.UTC(), ReplayedAt: r.ReplayedAt}
	if err := json.Unmarshal(r.Metadata, &l.Metadata); err != nil {
		return ports.DeadLetter{}, fmt.Errorf("dead letter %s metadata: %w", r.ID, err)
	}
	return l, nil
}

const deadLetterColumns = `id, topic, order_id, reason, attempts, payload, metadata, created_at, replayed_at`

// Add stores l; domain.ErrConflict on a duplicate id.
func (d *DeadLetters) Add(ctx context.Context, l ports.DeadLetter) error {
	meta, err := json.Marshal(l.Metadata)
	if err != nil {
		return fmt.Errorf("dead letter %s metadata: %w", l.ID, err)
	}
	_, err = ext(ctx, d.db).ExecContext(ctx, `INSERT INTO dead_letters (id, topic, order_id, reason, attempts, payload, metadata, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, l.ID, l.Topic, l.OrderID, l.Reason, l.Attempts, l.Payload, meta, l.CreatedAt.UTC())
	if err != nil {
		return fmt.Errorf("add dead letter %s: %w", l.ID, translate(err))
	}
	return nil
}

// List returns letters matching q, ordered by id.
func (d *DeadLetters) List(ctx context.Context, q ports.DeadLetterQuery) ([]ports.DeadLetter, error) {
	var rows []deadLetterRow
	err := sqlx.SelectContext(ctx, ext(ctx, d.db), &rows, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE ($1 = '' OR topic = $1) AND ($2 = '' OR order_id = $2) AND id > $3 ORDER BY id LIMIT $4`,
		q.Topic, q.OrderID, q.After, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", translate(err))
	}
	out := make([]ports.DeadLetter, 0, len(rows))
	for _, r := range rows {
		l, err := r.letter()
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// Get returns a letter or domain.ErrNotFound.
func (d *DeadLetters) Get(ctx context.Context, id string) (ports.DeadLetter, error) {
	var r deadLetterRow
	if err := sqlx.GetContext(ctx, ext(ctx, d.db), &r, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1`, id); err != nil {
		return ports.DeadLetter{}, fmt.Errorf("dead letter %s: %w", id, translate(err))
	}
	return r.letter()
}

// MarkReplayed records the first replay in one statement, so concurrent
// replays settle on the row; domain.ErrNotFound for an unknown id.
func (d *DeadLetters) MarkReplayed(ctx context.Context, id string, at time.Time) (bool, error) {
	var first bool
	err := sqlx.GetContext(ctx, ext(ctx, d.db), &first, `WITH prev AS (SELECT replayed_at FROM dead_letters WHERE id = $1 FOR UPDATE)
		UPDATE dead_letters l SET replayed_at = coalesce(prev.replayed_at, $2) FROM prev WHERE l.id = $1
		RETURNING prev.replayed_at IS NULL`, id, at.UTC())
	if err != nil {
		return false, fmt.Errorf("mark dead letter %s replayed: %w", id, translate(err))
	}
	return first, nil
}

// Count returns how many letters are not replayed yet.
func (d *DeadLetters) Count(ctx context.Context) (int, error) {
	var n int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letters: %w", translate(err))
	}
	return n, nil
}

// Delete removes a letter; domain.ErrNotFound for an unknown id.
func (d *DeadLetters) Delete(ctx context.Context, id string) error {
	res, err := ext(ctx, d.db).ExecContext(ctx, `DELETE FROM dead_letters WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete dead letter %s: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("dead letter %s: %w", id, domain.ErrNotFound)
	}
	return nil
}
