package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/pressly/goose/v3"
)

// MigrateUpEach applies the pending migrations one at a time and calls
// applied after each with how many are done, how many were pending and
// the migration's file name, so that an operator watching a long
// migration sees it move. It returns the first migration's error (that
// migration is rolled back; those before it stay applied, as with Up).
func MigrateUpEach(ctx context.Context, db *sql.DB, applied func(done, total int, file string)) error {
	p, err := newProvider(db)
	if err != nil {
		return err
	}
	status, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	pending := 0
	for _, s := range status {
		if s.State == goose.StatePending {
			pending++
		}
	}
	for done := 1; ; done++ {
		res, err := p.UpByOne(ctx)
		if errors.Is(err, goose.ErrNoNextVersion) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("migrate up: %w", err)
		}
		applied(done, max(pending, done), filepath.Base(res.Source.Path))
	}
}
