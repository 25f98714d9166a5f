package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// ErrAdminKeysNeedDatabase is returned by the admin-key commands without
// KEYWARD_DATABASE_URL: with the in-memory default the keys live inside
// the running server, which only KEYWARD_ADMIN_API_KEYS reaches.
var ErrAdminKeysNeedDatabase = fmt.Errorf("%w; admin keys made here would never reach an in-memory server: give it KEYWARD_ADMIN_API_KEYS instead", ErrNeedsDatabase)

// ErrAuditNeedsDatabase is returned by VerifyAudit without
// KEYWARD_DATABASE_URL.
var ErrAuditNeedsDatabase = fmt.Errorf("%w: GET /v1/admin/audit/verify", ErrNeedsDatabase)

// runAdminTool is runTool for the admin and audit commands, which say
// with needsDB why they need KEYWARD_DATABASE_URL.
func runAdminTool(ctx context.Context, cfg Config, needsDB error, fn func(tool) error) error {
	if cfg.DatabaseURL == "" {
		return needsDB
	}
	return runTool(ctx, cfg, fn)
}

// CreateAdminKey makes an admin key of role ("admin" or "support") named
// name (empty: a name from its id) in the database, audited as the
// operator's command line. The secret in the result is the only copy.
// Without KEYWARD_DATABASE_URL it returns ErrAdminKeysNeedDatabase.
func CreateAdminKey(ctx context.Context, cfg Config, role, name string) (application.CreatedAdminKey, error) {
	var out application.CreatedAdminKey
	err := runAdminTool(ctx, cfg, ErrAdminKeysNeedDatabase, func(t tool) (err error) {
		out, err = t.App.Commands.CreateAdminKey.Handle(ctx, role, name, application.ActorOperatorCLI)
		return err
	})
	return out, err
}

// ListAdminKeys returns every admin key in the database, oldest first.
// Without KEYWARD_DATABASE_URL it returns ErrAdminKeysNeedDatabase.
func ListAdminKeys(ctx context.Context, cfg Config) ([]*domain.AdminKey, error) {
	var out []*domain.AdminKey
	err := runAdminTool(ctx, cfg, ErrAdminKeysNeedDatabase, func(t tool) (err error) {
		out, err = t.App.Queries.ListAdminKeys.Handle(ctx)
		return err
	})
	return out, err
}

// RevokeAdminKey revokes the admin key with id, audited as the operator's
// command line; domain.ErrNotFound for an unknown id,
// domain.ErrAdminKeyRevoked when it was revoked already. Without
// KEYWARD_DATABASE_URL it returns ErrAdminKeysNeedDatabase.
func RevokeAdminKey(ctx context.Context, cfg Config, id string) (*domain.AdminKey, error) {
	var out *domain.AdminKey
	err := runAdminTool(ctx, cfg, ErrAdminKeysNeedDatabase, func(t tool) (err error) {
		out, err = t.App.Commands.RevokeAdminKey.Handle(ctx, id, application.ActorOperatorCLI)
		return err
	})
	return out, err
}

// AuditVerification is what VerifyAudit found.
type AuditVerification struct {
	Verified int
	// Broken is the first record that does not verify (its chain or its
	// MAC), as stored; nil when the chain is whole. Reason says why it
	// does not.
	Broken *domain.AuditRecord
	Reason string
	// Quarantined is how many staged records the sealer refused (kept in
	// audit_quarantine), with the first of their pending ids: any makes
	// the trail not whole, as someone wrote around the audit log.
	Quarantined    int
	QuarantinedIDs []int64
	// Checkpoints names each checkpoint the trail was checked against
	// ("FILE", "KEYWARD_AUDIT_CHECKPOINT_PATH") with what was found:
	// "ok", the mismatch, or that none is stored yet.
	Checkpoints []CheckpointResult
}

// CheckpointResult is the check of the trail against one checkpoint.
type CheckpointResult struct {
	From     string
	Seq      int64
	At       time.Time
	Mismatch string // empty when the trail extends the checkpoint
	Missing  bool   // no checkpoint stored there yet
}

// Whole reports whether the chain verified and matched every checkpoint.
func (v AuditVerification) Whole() bool {
	if v.Broken != nil || v.Quarantined > 0 {
		return false
	}
	for _, c := range v.Checkpoints {
		if c.Mismatch != "" {
			return false
		}
	}
	return true
}

// VerifyAudit walks the database's audit chain from its first record,
// checking every hash and MAC, then checks the trail against the
// checkpoint file checkpoint (when not nil) and the newest checkpoint under
// KEYWARD_AUDIT_CHECKPOINT_PATH (when set). A broken chain or a
// checkpoint the trail does not match, or quarantined staged records, are
// not an error: they are reported in the result. A checkpoint that cannot be read or parsed is an error.
// Without KEYWARD_DATABASE_URL it returns ErrAuditNeedsDatabase.
func VerifyAudit(ctx context.Context, cfg Config, checkpoint []byte) (AuditVerification, error) {
	var out AuditVerification
	var file *application.SignedCheckpoint
	if checkpoint != nil {
		c, err := application.ParseCheckpoint(checkpoint)
		if err != nil {
			return out, err
		}
		file = &c
	}
	store, prefix, err := checkpointStore(cfg)
	if err != nil {
		return out, err
	}
	err = runAdminTool(ctx, cfg, ErrAuditNeedsDatabase, func(t tool) error {
		trail := t.App.Queries.AuditTrail
		n, err := trail.Verify(ctx)
		out.Verified = n
		var broken *domain.AuditChainError
		if errors.As(err, &broken) {
			return reportBroken(ctx, trail, broken, &out)
		}
		if q := (*domain.AuditQuarantineError)(nil); errors.As(err, &q) {
			out.Quarantined, out.QuarantinedIDs = q.Count, q.PendingIDs
			err = nil
		}
		if err != nil {
			return err
		}
		if file != nil {
			out.Checkpoints = append(out.Checkpoints, checkAgainst(ctx, t.Checkpoints, "FILE", *file))
		}
		if store != nil {
			latest, err := t.Checkpoints.Latest(ctx, store, prefix)
			switch {
			case errors.Is(err, domain.ErrNotFound):
				out.Checkpoints = append(out.Checkpoints, CheckpointResult{From: "KEYWARD_AUDIT_CHECKPOINT_PATH", Missing: true})
			case err != nil:
				return fmt.Errorf("KEYWARD_AUDIT_CHECKPOINT_PATH: %w", err)
			default:
				out.Checkpoints = append(out.Checkpoints, checkAgainst(ctx, t.Checkpoints, "KEYWARD_AUDIT_CHECKPOINT_PATH", latest))
			}
		}
		return nil
	})
	return out, err
}

// checkAgainst checks the trail against c.
func checkAgainst(ctx context.Context, cps application.AuditCheckpoints, from string, c application.SignedCheckpoint) CheckpointResult {
	res := CheckpointResult{From: from, Seq: c.Seq, At: c.At}
	if _, err := cps.Check(ctx, c); err != nil {
		res.Mismatch = err.Error()
	}
	return res
}

// reportBroken fills out with the broken record as stored, when its seq
// still names one (a deleted record's successor is reported under its own
// seq).
func reportBroken(ctx context.Context, trail application.AuditTrail, broken *domain.AuditChainError, out *AuditVerification) error {
	out.Reason = broken.Reason
	out.Broken = &domain.AuditRecord{Seq: broken.Seq}
	recs, err := trail.Page(ctx, broken.Seq-1, 1)
	if err != nil {
		return fmt.Errorf("read the broken audit record %d: %w", broken.Seq, err)
	}
	if len(recs) == 1 && recs[0].Seq == broken.Seq {
		out.Broken = &recs[0]
	}
	return nil
}

// CheckpointAudit verifies the database's audit trail and returns a
// checkpoint of its head signed with the audit MAC key (also logged), and
// stores it under KEYWARD_AUDIT_CHECKPOINT_PATH when that is set. It
// returns the verification's error for a trail that does not verify.
// Without KEYWARD_DATABASE_URL it returns ErrAuditNeedsDatabase.
func CheckpointAudit(ctx context.Context, cfg Config) (application.SignedCheckpoint, error) {
	store, prefix, err := checkpointStore(cfg)
	if err != nil {
		return application.SignedCheckpoint{}, err
	}
	var out application.SignedCheckpoint
	err = runAdminTool(ctx, cfg, ErrAuditNeedsDatabase, func(t tool) (err error) {
		if store != nil {
			out, err = t.Checkpoints.Save(ctx, store, prefix)
		} else {
			out, err = t.Checkpoints.Take(ctx)
		}
		return err
	})
	return out, err
}
