package postgres

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Links is a ports.DeliveryLinkRepository on PostgreSQL.
type Links struct {
	db       *sqlx.DB
	prepared *preparedStatements
}

var (
	_ ports.DeliveryLinkRepository = (*Links)(nil)
	_ ports.DeliveryLinkWithOrder  = (*Links)(nil)
	_ ports.DeliveryLinkRevealer   = (*Links)(nil)
	_ ports.DeliveryLinkForReveal  = (*Links)(nil)
	_ ports.Stored                 = (*Links)(nil)
)

// NewLinks returns the repository.
func NewLinks(db *sqlx.DB) *Links { return &Links{db: db, prepared: newPreparedStatements(db)} }

// linkRow is a row of delivery_links.
type linkRow struct {
	ID          string       `db:"id"`
	OrderID     string       `db:"order_id"`
	TokenHash   []byte       `db:"token_hash"`
	CreatedAt   time.Time    `db:"created_at"`
	ExpiresAt   time.Time    `db:"expires_at"`
	MaxReveals  int          `db:"max_reveals"`
	RevealsUsed int          `db:"reveals_used"`
	RevokedAt   sql.NullTime `db:"revoked_at"`
}

const linkColumns = `id, order_id, token_hash, created_at, expires_at, max_reveals, reveals_used, revoked_at`

func linkToRow(l *domain.DeliveryLink) linkRow {
	s := l.Snapshot()
	r := linkRow{
		ID: s.ID, OrderID: s.OrderID, TokenHash: s.TokenHash[:], CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt,
		MaxReveals: s.MaxReveals, RevealsUsed: s.RevealsUsed,
	}
	if s.RevokedAt != nil {
		r.RevokedAt = sql.NullTime{Time: *s.RevokedAt, Valid: true}
	}
	return r
}

func linkFromRow(r linkRow) (*domain.DeliveryLink, error) {
	s := domain.DeliveryLinkSnapshot{
		ID: r.ID, OrderID: r.OrderID, CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(),
		MaxReveals: r.MaxReveals, RevealsUsed: r.RevealsUsed,
	}
	if len(r.TokenHash) != len(s.TokenHash) {
		return nil, fmt.Errorf("%w: token hash of link %s", domain.ErrInvalidLink, r.ID)
	}
	copy(s.TokenHash[:], r.TokenHash)
	if r.RevokedAt.Valid {
		t := r.RevokedAt.Time.UTC()
		s.RevokedAt = &t
	}
	return domain.UnmarshalDeliveryLink(s), nil
}

// Create stores l; domain.ErrConflict on a duplicate id or token hash.
func (r *Links) Create(ctx context.Context, l *domain.DeliveryLink) error {
	_, err := sqlx.NamedExecContext(ctx, ext(ctx, r.db), `INSERT INTO delivery_links (`+linkColumns+`) VALUES (:id, :order_id,
		:token_hash, :created_at, :expires_at, :max_reveals, :reveals_used, :revoked_at)`, linkToRow(l))
	if err != nil {
		return fmt.Errorf("create delivery link %s: %w", l.ID(), translate(err))
	}
	return nil
}

// GetByTokenHash returns the link or domain.ErrNotFound.
func (r *Links) GetByTokenHash(ctx context.Context, h domain.TokenHash) (*domain.DeliveryLink, error) {
	var row linkRow
	err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, `SELECT `+linkColumns+` FROM delivery_links WHERE token_hash = $1`, h[:])
	if err != nil {
		return nil, fmt.Errorf("delivery link by token: %w", translate(err))
	}
	return linkFromRow(row)
}

// linkOrderRow is a delivery link with its order.
type linkOrderRow struct {
	Link linkRow `db:"link"`
	orderLoadRow
}

// linkWithOrderQuery reads a link and its order (with its items and
// timeline) in one statement, from one snapshot.
var linkWithOrderQuery = `SELECT ` + qualified("l", "link", linkColumns) + `, ` + qualified("orders", "", orderColumns) + `,
	` + orderChildColumns + ` FROM delivery_links l JOIN orders ON orders.id = l.order_id WHERE l.token_hash = $1`

// GetWithOrderByTokenHash returns the link and its order, read together,
// or domain.ErrNotFound when either is missing.
func (r *Links) GetWithOrderByTokenHash(ctx context.Context, h domain.TokenHash) (*domain.DeliveryLink, *domain.Order, error) {
	var row linkOrderRow
	if err := r.prepared.get(ctx, ext(ctx, r.db), &row, linkWithOrderQuery, h[:]); err != nil {
		return nil, nil, fmt.Errorf("delivery link and order by token: %w", translate(err))
	}
	l, err := linkFromRow(row.Link)
	if err != nil {
		return nil, nil, err
	}
	o, err := row.order()
	if err != nil {
		return nil, nil, err
	}
	return l, o, nil
}

// StoredIn returns the database (ports.Stored).
func (r *Links) StoredIn() any { return r.db }

// linkRevealRow is a delivery link with its order, the order's data key
// and, when asked, its sealed keys.
type linkRevealRow struct {
	linkOrderRow
	DataKeyCiphertext sql.NullString `db:"data_key_ciphertext"`
	DataKeyVersion    sql.NullInt64  `db:"data_key_version"`
	Sealed            []byte         `db:"sealed"` // JSON [{ref, data (hex)}], NULL when not asked
}

// linkForRevealQuery is linkWithOrderQuery with the order's data key and,
// when $2, the blobs its items' keys name (order_items.keys[].blob_ref),
// all from one snapshot.
var linkForRevealQuery = `SELECT ` + qualified("l", "link", linkColumns) + `, ` + qualified("orders", "", orderColumns) + `,
	` + orderChildColumns + `, dk.ciphertext AS data_key_ciphertext, dk.version AS data_key_version,
	CASE WHEN $2 THEN (SELECT coalesce(json_agg(json_build_object('ref', b.ref, 'data', encode(b.data, 'hex'))), '[]')
		FROM order_items i CROSS JOIN LATERAL jsonb_array_elements(i.keys) k JOIN blobs b ON b.ref = k->>'blob_ref'
		WHERE i.order_id = orders.id) END AS sealed
	FROM delivery_links l JOIN orders ON orders.id = l.order_id LEFT JOIN data_keys dk ON dk.order_id = orders.id
	WHERE l.token_hash = $1`

// sealedBlobJSON is one element of linkRevealRow.Sealed.
type sealedBlobJSON struct {
	Ref  string `json:"ref"`
	Data string `json:"data"`
}

// GetForRevealByTokenHash returns the link, its order, the order's data
// key and, with sealed, the sealed keys its items name in the blobs table,
// read in one statement (ports.DeliveryLinkForReveal).
func (r *Links) GetForRevealByTokenHash(ctx context.Context, h domain.TokenHash, sealed bool) (ports.RevealRead, error) {
	var row linkRevealRow
	if err := r.prepared.get(ctx, ext(ctx, r.db), &row, linkForRevealQuery, h[:], sealed); err != nil {
		return ports.RevealRead{}, fmt.Errorf("delivery link for reveal by token: %w", translate(err))
	}
	l, err := linkFromRow(row.Link)
	if err != nil {
		return ports.RevealRead{}, err
	}
	o, err := row.order()
	if err != nil {
		return ports.RevealRead{}, err
	}
	out := ports.RevealRead{Link: l, Order: o}
	if row.DataKeyCiphertext.Valid {
		out.DataKey = &ports.WrappedKey{Ciphertext: row.DataKeyCiphertext.String, Version: int(row.DataKeyVersion.Int64)}
	}
	if sealed {
		var blobs []sealedBlobJSON
		if err := json.Unmarshal(row.Sealed, &blobs); err != nil {
			return ports.RevealRead{}, fmt.Errorf("sealed keys of order %s: %w", o.ID(), err)
		}
		out.Sealed = make(map[string][]byte, len(blobs))
		for _, b := range blobs {
			data, err := hex.DecodeString(b.Data)
			if err != nil {
				return ports.RevealRead{}, fmt.Errorf("sealed key %s: %w", b.Ref, err)
			}
			out.Sealed[b.Ref] = data
		}
	}
	return out, nil
}

// Update locks the link's row, calls fn and saves the link; fn's error is
// returned unchanged and nothing is saved; domain.ErrNotFound if the link
// does not exist.
func (r *Links) Update(ctx context.Context, id string, fn func(*domain.DeliveryLink) error) (*domain.DeliveryLink, error) {
	return lockedUpdate(ctx, r.db, lockedRow[linkRow, *domain.DeliveryLink]{
		what: "delivery link",
		get:  `SELECT ` + linkColumns + ` FROM delivery_links WHERE id = $1`,
		// Only what a link's methods change; id, order and hash are fixed.
		save: `UPDATE delivery_links SET expires_at = :expires_at, max_reveals = :max_reveals,
			reveals_used = :reveals_used, revoked_at = :revoked_at WHERE id = :id`,
		fromRow: linkFromRow, toRow: func(l *domain.DeliveryLink) any { return linkToRow(l) },
	}, id, fn)
}

// revealQuery consumes one reveal where DeliveryLink.CanReveal allows it:
// not revoked, not expired ($2 before expires_at), a reveal left. A
// concurrent update of the row is waited for and the conditions checked
// again on what it saved, so that no more than max_reveals ever pass.
const revealQuery = `UPDATE delivery_links SET reveals_used = reveals_used + 1
	WHERE id = $1 AND revoked_at IS NULL AND $2 < expires_at AND reveals_used < max_reveals
	RETURNING ` + linkColumns

// Reveal consumes one reveal of the link in one statement
// (ports.DeliveryLinkRevealer). When the link may not reveal, it reads it
// again to return CanReveal's reason.
func (r *Links) Reveal(ctx context.Context, id string, now time.Time) (*domain.DeliveryLink, bool, error) {
	// Postgres keeps microseconds: now, cut to them, is before a stored
	// expiry exactly when now is.
	var row linkRow
	err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, revealQuery, id, now.Truncate(time.Microsecond))
	if err == nil {
		l, err := linkFromRow(row)
		if err != nil {
			return nil, false, err
		}
		return l, l.RevealsUsed() == 1, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return nil, false, fmt.Errorf("reveal delivery link %s: %w", id, translate(err))
	}
	if err := sqlx.GetContext(ctx, ext(ctx, r.db), &row, `SELECT `+linkColumns+` FROM delivery_links WHERE id = $1`, id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("%w: delivery link %s", domain.ErrNotFound, id)
		}
		return nil, false, fmt.Errorf("delivery link %s: %w", id, translate(err))
	}
	l, err := linkFromRow(row)
	if err != nil {
		return nil, false, err
	}
	if err := l.CanReveal(now); err != nil {
		return nil, false, err
	}
	// The statement refused what the link as read allows: the link was
	// given more reveals or time between the two statements (nothing in
	// keyward does; an operator's edit might), or the statement and
	// CanReveal disagree on the rule. Not the customer's doing: a
	// transient failure, which the next try settles in the first case.
	return nil, false, fmt.Errorf("%w: delivery link %s: the reveal's statement refused what the link as read again allows", ports.ErrStorageUnavailable, id)
}

// ListByOrder returns the order's links, oldest first.
func (r *Links) ListByOrder(ctx context.Context, orderID string) ([]*domain.DeliveryLink, error) {
	var rows []linkRow
	if err := sqlx.SelectContext(ctx, ext(ctx, r.db), &rows, `SELECT `+linkColumns+` FROM delivery_links
		WHERE order_id = $1 ORDER BY seq`, orderID); err != nil {
		return nil, fmt.Errorf("list delivery links of order %s: %w", orderID, translate(err))
	}
	out := make([]*domain.DeliveryLink, 0, len(rows))
	for _, row := range rows {
		l, err := linkFromRow(row)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}
