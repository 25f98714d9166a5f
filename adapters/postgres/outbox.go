package postgres

import (
	"context"
	"database/sql"

	"github.com/keyward/keyward/domain"
)

// Outbox stores an aggregate's events in the transaction that saves the
// aggregate, so that they are published if and only if the save commits
// (for example watermill-sql's publisher on sql.TxFromStdSQL(tx)).
type Outbox interface {
	// PublishTx stores events in tx. An error rolls the whole save back.
	PublishTx(ctx context.Context, tx *sql.Tx, events ...domain.Event) error
}

// NoOutbox drops events: for tools and tests that do not consume them.
type NoOutbox struct{}

// PublishTx does nothing and returns nil.
func (NoOutbox) PublishTx(context.Context, *sql.Tx, ...domain.Event) error { return nil }
