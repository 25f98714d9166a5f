package postgres

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/domain"
)

// sealBatch is how many staged records one sealing transaction chains.
const sealBatch = 500

// Seal chains the staged records of committed units of work into the log,
// in the order they were staged, a batch per transaction, and returns how
// many it chained. A staged row whose MAC does not verify (written around
// the log, or edited) is never chained: it moves to audit_quarantine and is
// logged as an error naming its pending id, and the genuine rows around it
// keep flowing. Any process may seal: the chain's lock lines sealers up,
// and a row leaves audit_pending in the transaction that chains or
// quarantines it, so it is handled exactly once.
func (l *AuditLog) Seal(ctx context.Context) (int, error) {
	if txFrom(ctx) != nil {
		return 0, errors.New("seal audit log: called inside a unit of work, whose staged records are not committed yet")
	}
	if err := l.ensureAdopted(ctx); err != nil {
		return 0, fmt.Errorf("seal audit log: %w", err)
	}
	var pending bool
	if err := l.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_pending)`).Scan(&pending); err != nil || !pending {
		return 0, translate(err)
	}
	sealed := 0
	for {
		n, taken := 0, 0
		var refused []refusal
		err := runTx(ctx, l.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sqlx.Tx) error {
			n, taken, refused = 0, 0, nil
			// The lock first: a row another sealer moved is then gone
			// from what this one reads, and the head it reads is the one
			// that sealer left.
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1), set_config('keyward.audit_seal', 'on', true)`, auditLockKey); err != nil {
				return fmt.Errorf("lock and enter the sealer's path: %w", err)
			}
			rows, head, err := takeToSeal(ctx, tx)
			if err != nil || len(rows) == 0 {
				return err
			}
			taken = len(rows)
			replayed := replays(rows)
			records := make([]domain.AuditRecord, 0, len(rows))
			for _, row := range rows {
				r, reason, err := l.checkStaged(ctx, row.pendingRow)
				if err != nil {
					return err
				}
				if reason == "" {
					reason = replayed[row.ID]
				}
				if reason != "" {
					if err := quarantine(ctx, tx, row.pendingRow, reason); err != nil {
						return err
					}
					refused = append(refused, refusal{row.ID, reason})
					continue
				}
				records = append(records, r)
			}
			if len(records) == 0 {
				return nil
			}
			if _, err := l.chainAfter(ctx, tx, head, records, false, true); err != nil {
				return err
			}
			n = len(records)
			return nil
		})
		if err != nil {
			return sealed, fmt.Errorf("seal audit log: %w", err)
		}
		l.logRefused(ctx, refused)
		sealed += n
		if taken < sealBatch {
			return sealed, nil
		}
	}
}

// Staged signals, at most one wake-up pending, that a unit of work which
// staged records has committed: a sealer waits on it.
func (l *AuditLog) Staged() <-chan struct{} { return l.staged }

// takePending deletes the pending rows whose ids which selects, on the
// sealer's own path (the setting the delete trigger of audit_pending asks
// for, local to tx), and returns them in id order.
func takePending(ctx context.Context, tx *sqlx.Tx, which string, args ...any) ([]pendingRow, error) {
	if _, err := tx.ExecContext(ctx, `SELECT set_config('keyward.audit_seal', 'on', true)`); err != nil {
		return nil, fmt.Errorf("enter the sealer's path: %w", err)
	}
	var rows []pendingRow
	if err := tx.SelectContext(ctx, &rows, `DELETE FROM audit_pending WHERE id IN (`+which+`)
		RETURNING id, at, actor, action, subject, details, mac, nonce`, args...); err != nil {
		return nil, fmt.Errorf("take staged records: %w", err)
	}
	slices.SortFunc(rows, func(a, b pendingRow) int { return cmp.Compare(a.ID, b.ID) })
	return rows, nil
}

// sealRow is a staged row taken to be sealed, with whether its nonce is
// chained already.
type sealRow struct {
	pendingRow
	Chained bool `db:"chained"`
}

// chainHead is the last record of the chain: its seq and hash, the
// genesis hash and 0 for an empty chain.
type chainHead struct {
	Seq  int64
	Hash string
}

// takeToSeal deletes up to sealBatch pending rows, oldest first, on tx
// (which holds the chain's lock and is on the sealer's path), and returns
// them in id order, each saying whether its nonce is chained already,
// with the chain's head: one statement, read after the lock was taken.
func takeToSeal(ctx context.Context, tx *sqlx.Tx) ([]sealRow, chainHead, error) {
	var rows []struct {
		sealRow
		HeadSeq  sql.NullInt64  `db:"head_seq"`
		HeadHash sql.NullString `db:"head_hash"`
	}
	if err := tx.SelectContext(ctx, &rows, `WITH taken AS (
			DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1)
			RETURNING id, at, actor, action, subject, details, mac, nonce),
		head AS (SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1)
		SELECT t.id, t.at, t.actor, t.action, t.subject, t.details, t.mac, t.nonce,
			t.nonce IS NOT NULL AND EXISTS (SELECT 1 FROM audit_log a WHERE a.nonce = t.nonce) AS chained,
			h.seq AS head_seq, h.hash AS head_hash
		FROM taken t LEFT JOIN head h ON true`, sealBatch); err != nil {
		return nil, chainHead{}, fmt.Errorf("take staged records: %w", err)
	}
	out := make([]sealRow, len(rows))
	head := chainHead{Hash: domain.GenesisAuditHash}
	for i, r := range rows {
		out[i] = r.sealRow
		if r.HeadSeq.Valid {
			head = chainHead{Seq: r.HeadSeq.Int64, Hash: r.HeadHash.String}
		}
	}
	slices.SortFunc(out, func(a, b sealRow) int { return cmp.Compare(a.ID, b.ID) })
	return out, head, nil
}

// replays returns, by pending id, why a row of rows is a copy of a staged
// record: its nonce is already chained, or an earlier row of the batch
// (the original, staged first) has it. A copy keeps a valid MAC, so only
// its nonce gives it away; the genuine rows keep flowing.
func replays(rows []sealRow) map[int64]string {
	seen := make(map[string]int64, len(rows))
	out := map[int64]string{}
	for _, row := range rows {
		if !row.Nonce.Valid {
			continue
		}
		first, ok := seen[row.Nonce.String]
		switch {
		case row.Chained:
			out[row.ID] = "nonce already chained: a copy of a staged record"
		case ok:
			out[row.ID] = fmt.Sprintf("nonce of staged record %d: a copy of it", first)
		default:
			seen[row.Nonce.String] = row.ID
		}
	}
	return out
}

// checkStaged returns the staged record, or why it must not be chained;
// an error only when its MAC cannot be checked now.
func (l *AuditLog) checkStaged(ctx context.Context, row pendingRow) (domain.AuditRecord, string, error) {
	r, err := row.record()
	if err != nil {
		return r, err.Error(), nil
	}
	if !row.MAC.Valid {
		return r, "no MAC", nil
	}
	if !row.Nonce.Valid {
		return r, "no nonce", nil
	}
	ok, err := l.mac.Verify(ctx, domain.AuditStagedMACInput(r), row.MAC.String)
	if err != nil {
		return r, "", fmt.Errorf("check staged record %d: %w", row.ID, err)
	}
	if !ok {
		return r, "MAC does not verify under the audit key", nil
	}
	return r, "", nil
}

// refusal is a staged row moved to audit_quarantine, and why.
type refusal struct {
	pendingID int64
	reason    string
}

// logRefused logs each refusal once its transaction committed: a
// transaction retried, or rolled back, never logs a quarantine that did
// not happen or logs one twice.
func (l *AuditLog) logRefused(ctx context.Context, refused []refusal) {
	for _, r := range refused {
		// Bounded, attacker-chosen text stays out of the line: the id and
		// the reason say where to look.
		l.log.ErrorContext(ctx, "staged audit record refused and quarantined: it was not written by keyward's audit log",
			"pending_id", r.pendingID, "reason", r.reason, "table", "audit_quarantine")
	}
}

// quarantine keeps a refused staged row as it was, apart from the chain.
func quarantine(ctx context.Context, tx *sqlx.Tx, row pendingRow, reason string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_quarantine (pending_id, at, actor, action, subject, details, mac, nonce, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, row.ID, row.At, row.Actor, row.Action, row.Subject, row.Details, row.MAC, row.Nonce, reason); err != nil {
		return fmt.Errorf("quarantine staged record %d: %w", row.ID, err)
	}
	return nil
}

// Start loads the MAC key and, in the run that made the key, adopts a
// trail written before MACs (adopt).
// A process calls it before its units of work stage records: staging
// signs inside the unit's transaction, where loading the key (which takes
// a connection of its own) could wait for ever on a pool whose
// connections are all held by units waiting for that same key. It returns
// the key's or the database's error. A trail that holds records but no
// MAC, in a run that did not make the key, does not stop the start: its
// records stay staged and Verify reports the trail (errUnadopted).
func (l *AuditLog) Start(ctx context.Context) error {
	if err := l.ensureAdopted(ctx); err != nil && !errors.Is(err, errUnadopted) {
		return err
	}
	return nil
}

// errUnadopted refuses to chain after records of which none has a MAC, in
// a run that did not make the key: chaining MACed records after them would
// hide that the trail's MACs were removed; if instead the key's first run
// has not adopted the trail yet, a later seal chains once it has.
var errUnadopted = errors.New("audit_log holds records and none carries a MAC, but the audit MAC key was made before this run: " +
	"either the key's first run has not adopted the trail yet, or every MAC was removed (an incident: run keyward audit verify)")

// keyOrigin is implemented by a MAC key that knows whether this process
// made it (application.AuditKey).
type keyOrigin interface{ Created() bool }

// ensureAdopted runs until it succeeds once per process, before the first
// record this process chains. It has the MAC key loaded first, outside any
// transaction: loading it may take a connection of its own, which a
// process whose connections all wait for the chain's lock would never
// get. Only the run that made the key adopts (adopt): later, a trail with
// records and no MAC at all means every MAC was removed, and adopting it
// again would vouch for whatever was written since (errUnadopted).
func (l *AuditLog) ensureAdopted(ctx context.Context) error {
	if l.adopted.Load() {
		return nil
	}
	if _, err := l.mac.Sign(ctx, nil); err != nil {
		return fmt.Errorf("load the audit MAC key: %w", err)
	}
	l.keyLoaded.Store(true)
	if k, ok := l.mac.(keyOrigin); ok && k.Created() {
		if err := l.adopt(ctx); err != nil {
			return fmt.Errorf("adopt the audit trail: %w", err)
		}
	} else {
		var unsigned bool
		if err := l.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log)
			AND NOT EXISTS (SELECT 1 FROM audit_log WHERE mac IS NOT NULL)`).Scan(&unsigned); err != nil {
			return fmt.Errorf("look for MACs in the audit trail: %w", translate(err))
		}
		if unsigned {
			return errUnadopted
		}
	}
	l.adopted.Store(true)
	return nil
}

// AuditTrailSigned reports whether audit_log holds a record with a MAC:
// the key they were made under must then exist
// (application.RefuseCreationOver).
func AuditTrailSigned(db *sqlx.DB) func(context.Context) (bool, error) {
	return func(ctx context.Context) (bool, error) {
		var signed bool
		err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log WHERE mac IS NOT NULL)`).Scan(&signed)
		return signed, translate(err)
	}
}

// adopt upgrades a trail written before the audit MAC key existed. When no
// chained record carries a MAC yet, it chains the records still staged
// without one (as the old sealer would have), then appends one MACed
// audit.mac_adopted record naming the last record without a MAC: its MAC
// covers its prev hash, so it vouches for the chain before it, and every
// record after it must carry a MAC. A trail that already has a MAC, or
// has nothing to adopt, is left alone. This trusts the trail as it stands
// at the first start with the key, and only that run adopts
// (ensureAdopted); a checkpoint taken before the upgrade is what shows an
// edit made before it.
func (l *AuditLog) adopt(ctx context.Context) error {
	var refused []refusal
	adoptedThrough := int64(-1)
	err := runTx(ctx, l.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sqlx.Tx) error {
		refused, adoptedThrough = nil, -1
		if err := lockChain(ctx, tx); err != nil {
			return err
		}
		var signed, unsigned bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM audit_log WHERE mac IS NOT NULL),
			EXISTS (SELECT 1 FROM audit_log) OR EXISTS (SELECT 1 FROM audit_pending WHERE mac IS NULL)`).Scan(&signed, &unsigned); err != nil {
			return fmt.Errorf("look for MACs: %w", err)
		}
		if signed || !unsigned {
			return nil
		}
		rows, err := takePending(ctx, tx, `SELECT id FROM audit_pending WHERE mac IS NULL`)
		if err != nil {
			return err
		}
		legacy := make([]domain.AuditRecord, 0, len(rows))
		for _, row := range rows {
			r, err := row.record()
			if err != nil {
				if err := quarantine(ctx, tx, row, err.Error()); err != nil {
					return err
				}
				refused = append(refused, refusal{row.ID, err.Error()})
				continue
			}
			legacy = append(legacy, r)
		}
		if len(legacy) > 0 {
			if _, err := l.chain(ctx, tx, legacy, false, false); err != nil {
				return err
			}
		}
		var through int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(seq), 0) FROM audit_log`).Scan(&through); err != nil {
			return fmt.Errorf("read the head: %w", err)
		}
		r, err := domain.NewAuditRecord("system", domain.AuditMACAdopted, "audit_log", map[string]string{
			"through_seq": strconv.FormatInt(through, 10), "staged_adopted": strconv.Itoa(len(legacy)),
		})
		if err != nil {
			return err
		}
		if _, err := l.chain(ctx, tx, []domain.AuditRecord{r}, true, true); err != nil {
			return err
		}
		adoptedThrough = through
		return nil
	})
	if err != nil {
		return err
	}
	l.logRefused(ctx, refused)
	if adoptedThrough >= 0 {
		l.log.WarnContext(ctx, "audit trail adopted: records chained before the audit MAC key are vouched for by an audit.mac_adopted record", "through_seq", adoptedThrough)
	}
	return nil
}
