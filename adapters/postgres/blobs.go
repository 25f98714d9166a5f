package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/ports"
)

// Blobs is a ports.BlobStore in a PostgreSQL table, for sealed key
// ciphertext when no object store is configured.
type Blobs struct{ db *sqlx.DB }

var (
	_ ports.BlobStore = (*Blobs)(nil)
	_ ports.Stored    = (*Blobs)(nil)
)

// NewBlobs returns the store.
func NewBlobs(db *sqlx.DB) *Blobs { return &Blobs{db: db} }

// errEmptyRef refuses a blank blob reference.
var errEmptyRef = errors.New("empty blob ref")

// StoredIn returns the database (ports.Stored): Links reads sealed keys
// along with a link.
func (b *Blobs) StoredIn() any { return b.db }

// PutJoinsUnitOfWork reports true: Put runs on the unit of work of the
// context (ports.UnitOfWorkBlobs).
func (b *Blobs) PutJoinsUnitOfWork() bool { return true }

// Put stores data under ref, replacing what was there; it refuses a blank
// ref.
func (b *Blobs) Put(ctx context.Context, ref string, data []byte) error {
	if strings.TrimSpace(ref) == "" {
		return errEmptyRef
	}
	if data == nil {
		data = []byte{} // lib/pq sends a nil slice as NULL
	}
	if _, err := ext(ctx, b.db).ExecContext(ctx, `INSERT INTO blobs (ref, data) VALUES ($1, $2)
		ON CONFLICT (ref) DO UPDATE SET data = EXCLUDED.data, created_at = now()`, ref, data); err != nil {
		return fmt.Errorf("put blob %s: %w", ref, translate(err))
	}
	return nil
}

// Get returns the data or domain.ErrNotFound.
func (b *Blobs) Get(ctx context.Context, ref string) ([]byte, error) {
	var data []byte
	if err := sqlx.GetContext(ctx, ext(ctx, b.db), &data, `SELECT data FROM blobs WHERE ref = $1`, ref); err != nil {
		return nil, fmt.Errorf("blob %s: %w", ref, translate(err))
	}
	return data, nil
}

// Delete removes refs; missing refs are not an error.
func (b *Blobs) Delete(ctx context.Context, refs ...string) error {
	if len(refs) == 0 {
		return nil
	}
	if _, err := ext(ctx, b.db).ExecContext(ctx, `DELETE FROM blobs WHERE ref = ANY($1)`, pq.Array(refs)); err != nil {
		return fmt.Errorf("delete %d blobs: %w", len(refs), translate(err))
	}
	return nil
}

// Exists reports whether ref is stored.
func (b *Blobs) Exists(ctx context.Context, ref string) (bool, error) {
	var ok bool
	if err := sqlx.GetContext(ctx, ext(ctx, b.db), &ok, `SELECT EXISTS (SELECT 1 FROM blobs WHERE ref = $1)`, ref); err != nil {
		return false, fmt.Errorf("blob %s exists: %w", ref, translate(err))
	}
	return ok, nil
}
