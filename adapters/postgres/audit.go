package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
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

// AuditLog is a ports.AuditLog on PostgreSQL. An append outside a unit of
// work is chained at once, under the chain's lock. An append inside one
// (Transactor.Atomically) is only staged in audit_pending, so that
// concurrent transactions do not queue on the lock while they hold their
// row locks; it commits or rolls back with the work, and Seal chains it
// after the commit. List and Verify seal first, so they see every record
// committed before they were called.
//
// Every record is MACed with mac, whose key the database does not hold: a
// chained record over its hash, a staged one over its content (checked by
// the sealer before it chains it). The process run that made the key
// adopts a trail written before MACs (adopt); no other run ever does.
type AuditLog struct {
	db        *sqlx.DB
	clock     ports.Clock
	mac       ports.AuditMAC
	log       *slog.Logger
	staged    chan struct{}
	keyLoaded atomic.Bool // the MAC key is loaded: units of work may stage
	adopted   atomic.Bool // and the trail is adopted or needs no adoption: records may be chained
}

var _ ports.AuditLog = (*AuditLog)(nil)

// NewAuditLog returns the log; it stamps records with clock, MACs them
// with mac and logs refused staged records to log.
func NewAuditLog(db *sqlx.DB, clock ports.Clock, mac ports.AuditMAC, log *slog.Logger) *AuditLog {
	return &AuditLog{db: db, clock: clock, mac: mac, log: log, staged: make(chan struct{}, 1)}
}

// auditRow is a row of audit_log.
type auditRow struct {
	Seq      int64          `db:"seq"`
	At       time.Time      `db:"at"`
	Actor    string         `db:"actor"`
	Action   string         `db:"action"`
	Subject  string         `db:"subject"`
	Details  []byte         `db:"details"`
	PrevHash string         `db:"prev_hash"`
	Hash     string         `db:"hash"`
	MAC      sql.NullString `db:"mac"`
	Nonce    sql.NullString `db:"nonce"`
}

const auditColumns = `seq, at, actor, action, subject, details, prev_hash, hash, mac, nonce`

// pendingRow is a row of audit_pending: a record without its place in the
// chain.
type pendingRow struct {
	ID      int64          `db:"id"`
	At      time.Time      `db:"at"`
	Actor   string         `db:"actor"`
	Action  string         `db:"action"`
	Subject string         `db:"subject"`
	Details []byte         `db:"details"`
	MAC     sql.NullString `db:"mac"`
	Nonce   sql.NullString `db:"nonce"`
}

// Append records an action. Outside a unit of work it chains the record
// after the last one in a transaction of its own: it takes the append
// lock, reads the last record and inserts the next, so concurrent appends
// line up and seqs have no gaps. Inside a unit of work it stages the
// record, which is chained once the work commits: the returned record then
// has no Seq or hashes yet. An error wraps domain.ErrInvalidAuditRecord
// for a refused entry.
func (l *AuditLog) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	r, err := domain.NewAuditRecord(actor, action, subject, details)
	if err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	if tx := txFrom(ctx); tx != nil {
		out, err := l.stage(ctx, tx, r)
		if err != nil {
			return domain.AuditRecord{}, fmt.Errorf("stage audit record %s by %s: %w", action, actor, err)
		}
		return out, nil
	}
	if err := l.ensureAdopted(ctx); err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record %s by %s: %w", action, actor, err)
	}
	var out domain.AuditRecord
	// Read committed, whatever the server's default: the read of the last
	// record must see the commit of whoever held the lock before.
	err = runTx(ctx, l.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sqlx.Tx) error {
		if err := lockChain(ctx, tx); err != nil {
			return err
		}
		chained, err := l.chain(ctx, tx, []domain.AuditRecord{r}, true, true)
		if err != nil {
			return err
		}
		out = chained[0]
		return nil
	})
	if err != nil {
		return domain.AuditRecord{}, fmt.Errorf("append audit record %s by %s: %w", action, actor, err)
	}
	return out, nil
}

// stage inserts r into audit_pending on tx, with a MAC over its content
// that the sealer checks, and has the sealer woken once the unit of work
// commits.
func (l *AuditLog) stage(ctx context.Context, tx *sqlx.Tx, r domain.AuditRecord) (domain.AuditRecord, error) {
	if !l.keyLoaded.Load() {
		return domain.AuditRecord{}, errors.New("the audit log was not started: call Start, which loads the MAC key, before units of work stage records")
	}
	r.At = l.clock.Now().UTC().Truncate(time.Microsecond)
	nonce, err := newAuditNonce()
	if err != nil {
		return domain.AuditRecord{}, err
	}
	r.Nonce = nonce
	details, err := encodeDetails(r.Details)
	if err != nil {
		return domain.AuditRecord{}, err
	}
	mac, err := l.mac.Sign(ctx, domain.AuditStagedMACInput(r))
	if err != nil {
		return domain.AuditRecord{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_pending (at, actor, action, subject, details, mac, nonce) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.At, r.Actor, r.Action, r.Subject, details, mac, r.Nonce); err != nil {
		return domain.AuditRecord{}, err
	}
	afterCommit(ctx, func() {
		select {
		case l.staged <- struct{}{}:
		default: // a wake-up is already pending
		}
	})
	return r, nil
}

// lockChain takes the append lock until tx ends.
func lockChain(ctx context.Context, tx *sqlx.Tx) error {
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, auditLockKey); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	return nil
}

// chain reads the head of the chain on tx, which holds the append lock,
// and inserts records after it in the order given; with stamp, each takes
// the clock's time under the lock (so that seq order is time order), else
// it keeps the time it was staged at. With sign each gets its MAC, and a
// nonce unless it was staged with one; only the adoption chains records
// without.
func (l *AuditLog) chain(ctx context.Context, tx *sqlx.Tx, records []domain.AuditRecord, stamp, sign bool) ([]domain.AuditRecord, error) {
	head := chainHead{Hash: domain.GenesisAuditHash}
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&head.Seq, &head.Hash)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read last record: %w", err)
	}
	return l.chainAfter(ctx, tx, head, records, stamp, sign)
}

// chainAfter is chain after head, read on tx under the append lock.
func (l *AuditLog) chainAfter(ctx context.Context, tx *sqlx.Tx, head chainHead, records []domain.AuditRecord, stamp, sign bool) ([]domain.AuditRecord, error) {
	lastSeq, prev := head.Seq, head.Hash
	var err error
	out := make([]domain.AuditRecord, len(records))
	rows := make([]auditRow, len(records))
	for i, r := range records {
		r.Seq = lastSeq + int64(i) + 1
		if stamp {
			r.At = l.clock.Now()
		}
		out[i] = domain.ChainAuditRecord(prev, r)
		if sign {
			if out[i].Nonce == "" {
				if out[i].Nonce, err = newAuditNonce(); err != nil {
					return nil, err
				}
			}
			if out[i].MAC, err = l.mac.Sign(ctx, domain.AuditMACInput(out[i])); err != nil {
				return nil, err
			}
		}
		prev = out[i].Hash
		if rows[i], err = auditRowOf(out[i]); err != nil {
			return nil, err
		}
	}
	if _, err := tx.NamedExecContext(ctx, `INSERT INTO audit_log (`+auditColumns+`)
		VALUES (:seq, :at, :actor, :action, :subject, :details, :prev_hash, :hash, :mac, :nonce)`, rows); err != nil {
		return nil, err
	}
	return out, nil
}

// List returns up to limit records after afterSeq, in seq order; it
// returns an error when limit is not positive.
func (l *AuditLog) List(ctx context.Context, afterSeq int64, limit int) ([]domain.AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list audit log: limit %d is not positive", limit)
	}
	if err := l.sealOutsideWork(ctx); err != nil {
		return nil, err
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

// Verify walks the log a page at a time through a
// domain.AuditTrailVerifier, which checks the chain, the seqs between
// pages and every MAC; see ports.AuditLog. A row that cannot be read back
// as a record (details edited into something else than an object of
// strings) breaks the chain there. A whole chain with rows in
// audit_quarantine returns a *domain.AuditQuarantineError with the count
// of records verified.
func (l *AuditLog) Verify(ctx context.Context) (int, error) {
	if err := l.sealOutsideWork(ctx); err != nil {
		return 0, err
	}
	v := domain.NewAuditTrailVerifier(func(msg []byte, mac string) (bool, error) { return l.mac.Verify(ctx, msg, mac) })
	lastSeq := int64(0)
	for {
		rows, err := l.page(ctx, lastSeq, auditVerifyPage)
		if err != nil {
			return 0, err
		}
		if len(rows) == 0 {
			n, err := v.Done()
			if err != nil {
				return n, err
			}
			return n, l.quarantined(ctx)
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
		if err := v.Next(records); err != nil {
			return v.Verified(), err
		}
		if unreadable != nil {
			return v.Verified(), unreadable
		}
		lastSeq = records[len(records)-1].Seq
	}
}

// sealOutsideWork seals before a read, unless the read is part of a unit
// of work (whose own staged records are not committed, and which must not
// take the chain's lock).
// A trail that cannot be chained onto (errUnadopted) is still read: its
// verification names the first record without a MAC.
func (l *AuditLog) sealOutsideWork(ctx context.Context) error {
	if txFrom(ctx) != nil {
		return nil
	}
	if _, err := l.Seal(ctx); err != nil && !errors.Is(err, errUnadopted) {
		return err
	}
	return nil
}

// quarantinedShown is how many pending ids a quarantine report names.
const quarantinedShown = 20

// quarantined returns a *domain.AuditQuarantineError when audit_quarantine
// holds rows.
func (l *AuditLog) quarantined(ctx context.Context) error {
	var ids []int64
	if err := sqlx.SelectContext(ctx, ext(ctx, l.db), &ids, `SELECT pending_id FROM audit_quarantine ORDER BY id LIMIT $1`, quarantinedShown); err != nil {
		return fmt.Errorf("read audit_quarantine: %w", translate(err))
	}
	if len(ids) == 0 {
		return nil
	}
	n := len(ids)
	if n == quarantinedShown {
		if err := sqlx.GetContext(ctx, ext(ctx, l.db), &n, `SELECT count(*) FROM audit_quarantine`); err != nil {
			return fmt.Errorf("count audit_quarantine: %w", translate(err))
		}
	}
	return &domain.AuditQuarantineError{Count: n, PendingIDs: ids}
}

func (l *AuditLog) page(ctx context.Context, afterSeq int64, limit int) ([]auditRow, error) {
	var rows []auditRow
	if err := sqlx.SelectContext(ctx, ext(ctx, l.db), &rows, `SELECT `+auditColumns+` FROM audit_log
		WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit); err != nil {
		return nil, fmt.Errorf("list audit log after %d: %w", afterSeq, translate(err))
	}
	return rows, nil
}

func encodeDetails(d map[string]string) ([]byte, error) {
	if len(d) == 0 {
		return []byte("{}"), nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode details: %w", err)
	}
	return b, nil
}

func auditRowOf(r domain.AuditRecord) (auditRow, error) {
	details, err := encodeDetails(r.Details)
	if err != nil {
		return auditRow{}, err
	}
	return auditRow{
		Seq: r.Seq, At: r.At, Actor: r.Actor, Action: r.Action, Subject: r.Subject,
		Details: details, PrevHash: r.PrevHash, Hash: r.Hash, MAC: sql.NullString{String: r.MAC, Valid: r.MAC != ""},
		Nonce: sql.NullString{String: r.Nonce, Valid: r.Nonce != ""},
	}, nil
}

func decodeDetails(b []byte) (map[string]string, error) {
	var details map[string]string
	if err := json.Unmarshal(b, &details); err != nil {
		return nil, fmt.Errorf("details are not an object of strings: %w", err)
	}
	if len(details) == 0 {
		details = nil
	}
	return details, nil
}

func (row pendingRow) record() (domain.AuditRecord, error) {
	details, err := decodeDetails(row.Details)
	if err != nil {
		return domain.AuditRecord{}, err
	}
	return domain.AuditRecord{At: row.At.UTC(), Actor: row.Actor, Action: row.Action, Subject: row.Subject, Details: details, Nonce: row.Nonce.String}, nil
}

func (row auditRow) record() (domain.AuditRecord, error) {
	details, err := decodeDetails(row.Details)
	if err != nil {
		return domain.AuditRecord{}, err
	}
	return domain.AuditRecord{
		Seq: row.Seq, At: row.At.UTC(), Actor: row.Actor, Action: row.Action, Subject: row.Subject,
		Details: details, PrevHash: row.PrevHash, Hash: row.Hash, MAC: row.MAC.String, Nonce: row.Nonce.String,
	}, nil
}

// newAuditNonce returns 128 random bits in lowercase hex
// (domain.AuditRecord.Nonce).
func newAuditNonce() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("audit nonce: %w", err)
	}
	return hex.EncodeToString(b), nil
}
