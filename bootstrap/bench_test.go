package bootstrap_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// BenchmarkOrderToDelivered measures the whole pipeline: benchClients
// customers place and pay b.N orders over HTTP (signed IPNs) as fast as
// they can, and the clock stops when the last order is delivered. The
// metric is delivered orders per second. Compare the variants in one run
// (`make bench`); absolute numbers depend on the machine.
func BenchmarkOrderToDelivered(b *testing.B) {
	b.Run("memory+local", func(b *testing.B) { benchOrders(b, nil) })
	b.Run("postgres+local", func(b *testing.B) {
		url, _ := pgtest.NewDatabase(b)
		benchOrders(b, withPostgres(url))
	})
	b.Run("postgres+local,1-partition", func(b *testing.B) {
		url, _ := pgtest.NewDatabase(b)
		benchOrders(b, both(withPostgres(url), func(c *bootstrap.Config) { c.QueuePartitions = 1 }))
	})
	b.Run("postgres+vault", func(b *testing.B) {
		url, _ := pgtest.NewDatabase(b)
		addr, token := vaulttest.Config(b)
		key := vaulttest.KeyName()
		benchOrders(b, both(withPostgres(url), func(c *bootstrap.Config) {
			c.KeyVault, c.Vault.Addr, c.Vault.Token, c.Vault.Key = "vault", addr, token, key
		}))
	})
}

// benchClients is how many customers order at once.
const benchClients = 16

func benchOrders(b *testing.B, mod func(*bootstrap.Config)) {
	var orders ports.OrderRepository
	h := start(b, func(c *bootstrap.Config) {
		c.LogLevel = 8 // errors only: logging is not what is measured
		if mod != nil {
			mod(c)
		}
	}, fx.Populate(&orders))
	skus := inStockSKUs(h)
	var next atomic.Int64
	b.ResetTimer()
	began := time.Now()
	var wg sync.WaitGroup
	for range benchClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				o := h.placeOrder(fmt.Sprintf("bench%d@example.com", i), line(skus[int(i)%len(skus)], 1))
				h.pay(o)
			}
		}()
	}
	wg.Wait()
	delivered := domain.StatusDelivered
	var done []*domain.Order
	testkit.EventuallyWith(b, 5*time.Minute, func() string { return fmt.Sprintf("%d of %d orders delivered", len(done), b.N) }, func() bool {
		var err error
		if done, err = orders.List(b.Context(), ports.OrderQuery{Status: &delivered, Limit: b.N}); err != nil {
			b.Fatal(err)
		}
		return len(done) == b.N
	})
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "orders/s")
}

// BenchmarkCeilings measures what the machine allows around the pipeline,
// in the same run: single-row Postgres commits and Vault data keys.
func BenchmarkCeilings(b *testing.B) {
	b.Run("postgres-commit", func(b *testing.B) {
		_, db := pgtest.NewDatabase(b)
		if _, err := db.Exec(`CREATE TABLE bench (id bigserial primary key, v text)`); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.Exec(`INSERT INTO bench (v) VALUES ('x')`); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	})
	b.Run("vault-datakey", func(b *testing.B) {
		v := vaulttest.New(b)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.NewDataKey(b.Context(), "bench-order"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "datakeys/s")
	})
}
