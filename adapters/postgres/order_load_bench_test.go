package postgres_test

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// BenchmarkOrderLoad measures loading a delivered order of two items and
// a dozen timeline entries: by Get, and by an Update whose fn fails (the
// locked load, then a rollback). One connection does it all, so that
// besides ns/op it reports the CPU this process and the connection's
// Postgres backend spent per load (the latter when Postgres runs on this
// machine, read from /proc).
func BenchmarkOrderLoad(b *testing.B) {
	db := pgtest.NewDB(b)
	db.SetMaxOpenConns(1)
	repo := postgres.NewOrders(db, postgres.NoOutbox{})
	const orders = 200
	for i := range orders {
		if err := repo.Create(b.Context(), benchDeliveredOrder(b, fmt.Sprintf("ord-%03d", i))); err != nil {
			b.Fatal(err)
		}
	}
	// Statistics as autovacuum gathers them in a running service, which
	// the plans depend on.
	if _, err := db.ExecContext(b.Context(), `ANALYZE`); err != nil {
		b.Fatal(err)
	}
	var backend int
	if err := db.GetContext(b.Context(), &backend, `SELECT pg_backend_pid()`); err != nil {
		b.Fatal(err)
	}
	errStop := errors.New("stop")
	loads := map[string]func(id string) error{
		"get": func(id string) error { _, err := repo.Get(b.Context(), id); return err },
		"update": func(id string) error {
			_, err := repo.Update(b.Context(), id, func(*domain.Order) error { return errStop })
			if errors.Is(err, errStop) {
				return nil
			}
			return fmt.Errorf("update = %v, want fn's error", err)
		},
	}
	for _, name := range []string{"get", "update"} {
		load := loads[name]
		b.Run(name, func(b *testing.B) {
			client, server := testkit.ProcessCPU(), backendCPU(backend)
			for i := 0; b.Loop(); i++ {
				if err := load(fmt.Sprintf("ord-%03d", i%orders)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((testkit.ProcessCPU()-client).Microseconds())/float64(b.N), "client-cpu-µs/op")
			if after := backendCPU(backend); after >= 0 && server >= 0 {
				b.ReportMetric(float64((after-server).Microseconds())/float64(b.N), "server-cpu-µs/op")
			}
		})
	}
}

// benchDeliveredOrder is an order of two supplier items taken through
// payment, fulfilment and delivery.
func benchDeliveredOrder(b *testing.B, id string) *domain.Order {
	b.Helper()
	var lines []domain.NewItem
	for _, sku := range []string{"sku-a", "sku-b"} {
		p, err := domain.NewProduct(domain.ProductSnapshot{SKU: sku, Name: "Game " + sku, Price: domain.MustMoney("19.99", "EUR"),
			Source: domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: "sp-" + sku,
				Cost: domain.MustMoney("12.00", "EUR")}, Stock: 5, Active: true})
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, domain.NewItem{ID: id + "-" + sku, Product: p, Quantity: 1})
	}
	email, _ := domain.ParseEmail("buyer@example.com")
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	o, err := domain.NewOrder(id, email, domain.HashToken("access"), lines, now)
	if err != nil {
		b.Fatal(err)
	}
	pay := decimal.RequireFromString("43.80412345")
	steps := []func() error{
		func() error {
			return o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-" + id, PayAmount: pay, PayCurrency: "usdttrc20"}, now)
		},
		func() error {
			_, err := o.ApplyPayment(domain.PaymentUpdate{PaymentID: "pay-" + id, Status: domain.PaymentFinished,
				PriceAmount: o.Total().Amount(), PriceCurrency: "EUR", PayAmount: pay, ActuallyPaid: pay, PayCurrency: "usdttrc20"}, now)
			return err
		},
		func() error { _, err := o.StartFulfilment(now); return err },
	}
	for _, it := range lines {
		steps = append(steps,
			func() error { return o.BeginItemPurchase(it.ID, now) },
			func() error { return o.RecordItemPurchase(it.ID, "so-"+it.ID, now) },
			func() error {
				return o.SealItem(it.ID, []domain.SealedKey{{BlobRef: "sealed/" + it.ID + "/0", ContentType: "text/plain"}}, now)
			})
	}
	steps = append(steps, func() error { return o.CompleteFulfilment(now) }, func() error { return o.MarkDelivered("link-"+id, now) })
	for _, step := range steps {
		if err := step(); err != nil {
			b.Fatal(err)
		}
	}
	return o
}

// backendCPU returns the CPU time the Postgres backend pid has used, or -1
// when it cannot be read (Postgres on another machine).
func backendCPU(pid int) time.Duration {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// Fields 14 and 15 (utime, stime, in clock ticks) follow the command
	// name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}
