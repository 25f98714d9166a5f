package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/internal/testkit"
)

// BenchmarkAuditAppend measures what serialising the chain's head costs:
// each append takes the chain lock, reads the head and inserts; in parallel
// the appends queue on the lock. BenchmarkUnchainedInsert is the same row
// inserted with no lock and no head read, the floor to compare with. Run
// with -cpu 1,8 and compare ns/op.
func BenchmarkAuditAppend(b *testing.B) {
	db := pgtest.NewDB(b)
	log := newAuditLog(b, db, testkit.NewSteppingClock(time.Now().UTC(), time.Microsecond))
	tx := postgres.NewTransactor(db)
	b.Run("alone", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := log.Append(b.Context(), "system", "bench.append", fmt.Sprint(n.Add(1)), map[string]string{"k": "v"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("in-unit-of-work", func(b *testing.B) {
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				err := tx.Atomically(b.Context(), func(ctx context.Context) error {
					_, err := log.Append(ctx, "system", "bench.append", fmt.Sprint(n.Add(1)), map[string]string{"k": "v"})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	if _, err := log.Verify(b.Context()); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkUnchainedInsert(b *testing.B) {
	db := pgtest.NewDB(b)
	mustExec(b, db, `CREATE TABLE bench_unchained (seq bigserial PRIMARY KEY, at timestamptz, actor text, action text,
		subject text, details jsonb, prev_hash text, hash text)`)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := db.ExecContext(b.Context(), `INSERT INTO bench_unchained (at, actor, action, subject, details, prev_hash, hash)
				VALUES (now(), 'system', 'bench.append', $1, '{"k":"v"}', repeat('0', 64), repeat('1', 64))`, fmt.Sprint(n.Add(1))); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func mustExec(b testing.TB, db *sqlx.DB, q string) {
	b.Helper()
	if _, err := db.Exec(q); err != nil {
		b.Fatal(err)
	}
}
