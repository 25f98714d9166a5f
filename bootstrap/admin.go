package bootstrap

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ErrAdminKeysNeedDatabase is returned by the admin-key commands without
// KEYWARD_DATABASE_URL: with the in-memory default the keys live inside
// the running server, which only KEYWARD_ADMIN_API_KEYS reaches.
var ErrAdminKeysNeedDatabase = fmt.Errorf("%w; admin keys made here would never reach an in-memory server: give it KEYWARD_ADMIN_API_KEYS instead", ErrNeedsDatabase)

// ErrAuditNeedsDatabase is returned by VerifyAudit without
// KEYWARD_DATABASE_URL.
var ErrAuditNeedsDatabase = fmt.Errorf("%w: GET /v1/admin/audit/verify", ErrNeedsDatabase)

// adminTool is what the admin and audit commands use: the admin-key and
// audit stores on Postgres, nothing else.
type adminTool struct {
	fx.In
	Keys  ports.AdminKeys
	Audit ports.AuditLog
	Clock ports.Clock
	IDs   ports.IDs
}

// withAdminTool starts a small app on the configured database, calls fn
// and stops the app. Without a database it returns needsDB.
func withAdminTool(ctx context.Context, cfg Config, needsDB error, fn func(adminTool) error) error {
	if cfg.DatabaseURL == "" {
		return needsDB
	}
	var tool adminTool
	app := fx.New(
		fx.Supply(cfg),
		fx.Provide(NewLogger),
		fx.NopLogger,
		RuntimeModule,
		PostgresModule,
		fx.Populate(&tool),
	)
	if err := app.Err(); err != nil {
		return err
	}
	if err := app.Start(ctx); err != nil {
		return err
	}
	defer app.Stop(context.WithoutCancel(ctx))
	return fn(tool)
}

// CreateAdminKey makes an admin key of role ("admin" or "support") named
// name (empty: a name from its id) in the database, audited as the
// operator's command line. The secret in the result is the only copy.
// Without KEYWARD_DATABASE_URL it returns ErrAdminKeysNeedDatabase.
func CreateAdminKey(ctx context.Context, cfg Config, role, name string) (application.CreatedAdminKey, error) {
	var out application.CreatedAdminKey
	err := withAdminTool(ctx, cfg, ErrAdminKeysNeedDatabase, func(t adminTool) (err error) {
		out, err = application.NewCreateAdminKey(t.Keys, t.Audit, t.Clock, t.IDs).Handle(ctx, role, name, application.ActorOperatorCLI)
		return err
	})
	return out, err
}

// ListAdminKeys returns every admin key in the database, oldest first.
// Without KEYWARD_DATABASE_URL it returns ErrAdminKeysNeedDatabase.
func ListAdminKeys(ctx context.Context, cfg Config) ([]*domain.AdminKey, error) {
	var out []*domain.AdminKey
	err := withAdminTool(ctx, cfg, ErrAdminKeysNeedDatabase, func(t adminTool) (err error) {
		out, err = application.NewListAdminKeys(t.Keys).Handle(ctx)
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
	err := withAdminTool(ctx, cfg, ErrAdminKeysNeedDatabase, func(t adminTool) (err error) {
		out, err = application.NewRevokeAdminKey(t.Keys, t.Audit, t.Clock).Handle(ctx, id, application.ActorOperatorCLI)
		return err
	})
	return out, err
}

// AuditVerification is what VerifyAudit found.
type AuditVerification struct {
	Verified int
	// Broken is the first record that does not verify, as stored; nil
	// when the chain is whole. Reason says why it does not.
	Broken *domain.AuditRecord
	Reason string
}

// VerifyAudit walks the database's audit chain from its first record. A
// broken chain is not an error: it is reported in the result, with the
// first record that does not verify. Without KEYWARD_DATABASE_URL it
// returns ErrAuditNeedsDatabase.
func VerifyAudit(ctx context.Context, cfg Config) (AuditVerification, error) {
	var out AuditVerification
	err := withAdminTool(ctx, cfg, ErrAuditNeedsDatabase, func(t adminTool) error {
		n, err := t.Audit.Verify(ctx)
		out.Verified = n
		var broken *domain.AuditChainError
		if !errors.As(err, &broken) {
			return err
		}
		out.Reason = broken.Reason
		out.Broken = &domain.AuditRecord{Seq: broken.Seq}
		// The record as stored, when its seq still names one (a deleted
		// record's successor is reported under its own seq).
		recs, err := t.Audit.List(ctx, broken.Seq-1, 1)
		if err != nil {
			return fmt.Errorf("read the broken audit record %d: %w", broken.Seq, err)
		}
		if len(recs) == 1 && recs[0].Seq == broken.Seq {
			out.Broken = &recs[0]
		}
		return nil
	})
	return out, err
}
