package postgres_test

import (
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

func TestLocksContract(t *testing.T) {
	t.Parallel()
	porttest.Locks(t, func(t *testing.T) (ports.Locks, ports.Locks) {
		url, db := pgtest.NewDatabase(t)
		other, err := postgres.Open(t.Context(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { other.Close() })
		return postgres.NewLocks(db), postgres.NewLocks(other)
	})
}
