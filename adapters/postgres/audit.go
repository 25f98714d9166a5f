package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// auditLockKey is the transaction-level advisory lock that serialises
// appends: "kwaudit1" in ASCII. An advisory lock, unlike LOCK TABLE ... IN
// EXCLUSIVE MODE, needs no UPDATE or DELETE privilege, so the application
// role can be limited to INSERT and SELECT on audit_log.
const auditLockKey int64 = 0x6b77_6175_6469_7431

// auditVerifyPage is how many records Verify reads at a time.
const auditVerifyPage = 1000

// AuditLog is a ports.AuditLog on PostgreSQL.
type AuditLog struct {
	db    *sqlx.DB
	clock ports.Clock
}

var _ ports.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns the log; it stamps records with clock.
func NewAuditLog(db *sqlx.DB, clock ports.Clock) *AuditLog { return &AuditLog{db: db, clock: clock} }

// auditRow is a row of audit_log.
type auditRow struct {
	Seq      int64     `db:"seq"`
	At       time.Time `db:"at"`
	Actor    string    `db:"actor"`
	Action   string    `db:"action"`
	Subject  string    `db:"subject"`
	Details  []byte    `db:"details"`
	PrevHash string    `db:"prev_hash"`
	Hash     string    `db:"hash"`
}

const auditColumns = `seq, at, actor, action, subject, details, prev_hash, hash`

// Append chains a record after the last one. One transaction takes the
// append lock, reads the last record and inserts the next, so concurrent
// appends line up and seqs have no gaps. An error wraps
// domain.ErrInvalidAuditRecord for a refused entry.
func (l *AuditLog) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	r, err := domain.NewAuditRecord(actor, action, subject, details)
	if err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	var out domain.AuditRecord
	// Read committed, whatever the server's default: the read of the last
	// record must see the commit of whoever held the lock before.
	err = runTx(ctx, l.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		lastSeq, prev := int64(0), domain.GenesisAuditHash
		err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&lastSeq, &prev)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read last record: %w", err)
		}
		r.Seq, r.At = lastSeq+1, l.clock.Now()
		out = domain.ChainAuditRecord(prev, r)
		row, err := auditRowOf(out)
		if err != nil {
			return err
		}
		_, err = tx.NamedExecContext(ctx, `INSERT INTO audit_log (`+auditColumns+`)
			VALUES (:seq, :at, :actor, :action, :subject, :details, :prev_hash, :hash)`, row)
		return err
	})
	if err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record %s by %s: %w", action, actor, err)
	}
	return out, nil
}

// List returns up to limit records after afterSeq, in seq order; it
// returns an error when limit is not positive.
func (l *AuditLog) List(ctx context.Context, afterSeq int64, limit int) ([]domain.AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list audit log: limit %d is not positive", limit)
	}
	rows, err := l.page(ctx, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	out := make([]domain.AuditRecord, len(rows))
	for i, row := range rows {
		if out[i], err = row.record(); err != nil {
			return nil, fmt.Errorf("read audit record %d: %w", row.Seq, err)
		}
	}
	return out, nil
}

// Verify walks the log a page at a time, carrying the last seq and hash
// from page to page; see ports.AuditLog. A row that cannot be read back
// as a record (details edited into something else than an object of
// strings) breaks the chain there.
func (l *AuditLog) Verify(ctx context.Context) (int, error) {
	verified, lastSeq, prev := 0, int64(0), domain.GenesisAuditHash
	for {
		rows, err := l.page(ctx, lastSeq, auditVerifyPage)
		if err != nil || len(rows) == 0 {
			return verified, err
		}
		records := make([]domain.AuditRecord, 0, len(rows))
		var unreadable error
		for _, row := range rows {
			r, err := row.record()
			if err != nil {
				unreadable = &domain.AuditChainError{Seq: row.Seq, Reason: err.Error()}
				break
			}
			records = append(records, r)
		}
		// VerifyAuditChain checks seqs within a page; between pages the
		// first seq must follow the last one verified.
		if len(records) > 0 && lastSeq > 0 && records[0].Seq != lastSeq+1 {
			return verified, &domain.AuditChainError{Seq: records[0].Seq, Reason: fmt.Sprintf("seq follows seq %d", lastSeq)}
		}
		n, err := domain.VerifyAuditChain(records, prev)
		verified += n
		if err != nil {
			return verified, err
		}
		if unreadable != nil {
			return verified, unreadable
		}
		last := records[len(records)-1]
		lastSeq, prev = last.Seq, last.Hash
	}
}

func (l *AuditLog) page(ctx context.Context, afterSeq int64, limit int) ([]auditRow, error) {
	var rows []auditRow
	if err := sqlx.SelectContext(ctx, ext(ctx, l.db), &rows, `SELECT `+auditColumns+` FROM audit_log
		WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit); err != nil {
		return nil, fmt.Errorf("list audit log after %d: %w", afterSeq, translate(err))
	}
	return rows, nil
}

func auditRowOf(r domain.AuditRecord) (auditRow, error) {
	details := []byte("{}")
	if len(r.Details) > 0 {
		var err error
		if details, err = json.Marshal(r.Details); err != nil {
			return auditRow{}, fmt.Errorf("encode details: %w", err)
		}
	}
	return auditRow{
		Seq: r.Seq, At: r.At, Actor: r.Actor, Action: r.Action, Subject: r.Subject,
		Details: details, PrevHash: r.PrevHash, Hash: r.Hash,
	}, nil
}

func (row auditRow) record() (domain.AuditRecord, error) {
	var details map[string]string
	if err := json.Unmarshal(row.Details, &details); err != nil {
		return domain.AuditRecord{}, fmt.Errorf("details are not an object of strings: %w", err)
	}
	if len(details) == 0 {
		details = nil
	}
	return domain.AuditRecord{
		Seq: row.Seq, At: row.At.UTC(), Actor: row.Actor, Action: row.Action, Subject: row.Subject,
		Details: details, PrevHash: row.PrevHash, Hash: row.Hash,
	}, nil
}
