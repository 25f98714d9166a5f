package postgres_test

import (
	"errors"
	"fmt"
	"maps"
	neturl "net/url"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// An order loads in one statement, its items and timeline decoded from
// JSON: every way of loading it must give back exactly what was saved.
// Unlike the contract, which allows storage a microsecond of slack, times
// here are whole microseconds and must come back equal and in UTC; amounts
// carry more digits than a float keeps.
func TestOrderLoadsExactly(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	repo := postgres.NewOrders(db, postgres.NoOutbox{})
	ctx := t.Context()
	// Another session loads the same order: times come back with the
	// session's offset, and rows in the order the plan reads them, here
	// with an odd offset and the order the rows are stored in.
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	params := u.Query()
	params.Set("timezone", "America/St_Johns")
	params.Set("options", "-c enable_indexscan=off -c enable_bitmapscan=off")
	u.RawQuery = params.Encode()
	other, err := postgres.Open(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	otherRepo := postgres.NewOrders(other, postgres.NoOutbox{})

	o := exactOrder(t)
	if err := repo.Create(ctx, o); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// The rest goes through updates, so that rows written by both Create
	// and Update are read back. What is expected is the same order driven
	// in memory: none of it has been through storage.
	updates := fulfilment(o.ID())
	err = fulfil(updates, func(fn func(*domain.Order) error) error {
		_, err := repo.Update(ctx, o.ID(), fn)
		return err
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	expected := exactOrder(t)
	if err := fulfil(updates, func(fn func(*domain.Order) error) error { return fn(expected) }); err != nil {
		t.Fatal(err)
	}
	want := expected.Snapshot()
	want.Version = 1 + len(updates)
	statuses := map[domain.ItemStatus]bool{}
	for _, it := range want.Items {
		statuses[it.Status] = true
	}
	if len(statuses) != len(domain.ItemStatuses) {
		t.Fatalf("the order has items in %d statuses, want one in each of %d", len(statuses), len(domain.ItemStatuses))
	}

	loads := map[string]func() (*domain.Order, error){
		"get":                    func() (*domain.Order, error) { return repo.Get(ctx, o.ID()) },
		"get in another session": func() (*domain.Order, error) { return otherRepo.Get(ctx, o.ID()) },
		"list": func() (*domain.Order, error) {
			return only(repo.List(ctx, ports.OrderQuery{}))
		},
		"list by item": func() (*domain.Order, error) {
			return only(repo.List(ctx, ports.OrderQuery{ItemID: o.ID() + "-e"}))
		},
		"update": func() (*domain.Order, error) {
			var loaded *domain.Order
			errStop := errors.New("stop")
			_, err := repo.Update(ctx, o.ID(), func(o *domain.Order) error { loaded = o; return errStop })
			if !errors.Is(err, errStop) {
				return nil, fmt.Errorf("update = %v, want fn's error", err)
			}
			return loaded, nil
		},
	}
	// The delivery page and the reveal read a link with its order.
	links := postgres.NewLinks(db)
	link, err := domain.NewDeliveryLink(o.ID()+"-link", o.ID(), domain.HashToken("exact-token"), at(9), time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := links.Create(ctx, link); err != nil {
		t.Fatal(err)
	}
	loads["with its delivery link"] = func() (*domain.Order, error) {
		l, o, err := links.GetWithOrderByTokenHash(ctx, domain.HashToken("exact-token"))
		if err != nil {
			return nil, err
		}
		if got, want := fmt.Sprintf("%+v", l.Snapshot()), fmt.Sprintf("%+v", link.Snapshot()); got != want {
			return nil, fmt.Errorf("link read with the order:\n got %s\nwant %s", got, want)
		}
		return o, nil
	}
	if _, _, err := links.GetWithOrderByTokenHash(ctx, domain.HashToken("no-such-token")); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("unknown token: %v, want ErrNotFound", err)
	}
	for name, load := range loads {
		t.Run(name, func(t *testing.T) {
			got, err := load()
			if err != nil {
				t.Fatal(err)
			}
			g, w := describeOrder(got.Snapshot()), describeOrder(want)
			for i := range max(len(g), len(w)) {
				if i >= len(g) || i >= len(w) || g[i] != w[i] {
					t.Errorf("line %d:\n got %s\nwant %s", i, atLine(g, i), atLine(w, i))
				}
			}
		})
	}
}

// TestOrderUpdateSeesWhatItWaitedFor runs an Update that has to wait for
// another one's lock on the order: once it has the lock, it must see the
// items and timeline the first one saved, not those of the moment it
// started waiting.
func TestOrderUpdateSeesWhatItWaitedFor(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDB(t)
	repo := postgres.NewOrders(db, postgres.NoOutbox{})
	ctx := t.Context()

	o := exactOrder(t)
	if err := repo.Create(ctx, o); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, err := repo.Update(ctx, o.ID(), func(o *domain.Order) error {
		if _, err := o.ApplyPayment(exactPayment(o), at(2)); err != nil {
			return err
		}
		_, err := o.StartFulfilment(at(3))
		return err
	}); err != nil {
		t.Fatalf("Update to fulfilling: %v", err)
	}
	item := o.ID() + "-a"

	locked, release := make(chan struct{}), make(chan struct{})
	lockedOnce := sync.OnceFunc(func() { close(locked) }) // fn may run again on a retry
	first := make(chan error, 1)
	go func() {
		_, err := repo.Update(ctx, o.ID(), func(o *domain.Order) error {
			lockedOnce()
			<-release
			return o.BeginItemPurchase(item, at(4))
		})
		first <- err
	}()
	<-locked

	second := make(chan error, 1)
	var seen domain.OrderSnapshot
	go func() {
		_, err := repo.Update(ctx, o.ID(), func(o *domain.Order) error {
			seen = o.Snapshot()
			// Valid only once the item is purchasing, as the first Update left it.
			return o.RecordItemPurchase(item, "so-1", at(5))
		})
		second <- err
	}()
	testkit.Eventually(t, 10*time.Second, "the second update to wait for the order's lock", func() bool {
		var n int
		err := db.GetContext(ctx, &n, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`)
		if err != nil {
			t.Fatalf("look for the waiting update: %v", err)
		}
		return n == 1
	})
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("first Update: %v", err)
	}
	if err := <-second; err != nil {
		t.Fatalf("second Update, after the first: %v", err)
	}
	if seen.Version != 3 || len(seen.Timeline) != 5 {
		t.Errorf("the second Update saw version %d with %d timeline entries, want version 3 with 5", seen.Version, len(seen.Timeline))
	}
	got, err := repo.Get(ctx, o.ID())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if it, _ := got.Item(item); it.Status() != domain.ItemPurchased || got.Version() != 4 || len(got.Timeline()) != 6 {
		t.Errorf("stored: item %s, version %d, %d timeline entries; want purchased, 4, 6", it.Status(), got.Version(), len(got.Timeline()))
	}
}

// TestOrderReadsSurviveALostConnection ends the connection of a Get or a
// List while it runs (it waits for a lock on the orders table): the read,
// one statement outside any transaction, runs again on a new connection
// rather than fail, as it did when it was a transaction that withTx ran
// again.
func TestOrderReadsSurviveALostConnection(t *testing.T) {
	t.Parallel()
	admin := pgtest.NewDB(t)
	repo := postgres.NewOrders(admin, postgres.NoOutbox{})
	ctx := t.Context()
	o := exactOrder(t)
	if err := repo.Create(ctx, o); err != nil {
		t.Fatalf("Create: %v", err)
	}
	reads := map[string]func() error{
		"get":  func() error { _, err := repo.Get(ctx, o.ID()); return err },
		"list": func() error { _, err := only(repo.List(ctx, ports.OrderQuery{})); return err },
	}
	for name, read := range reads {
		// Activity is read outside this transaction, which would see it
		// as it was when first read.
		lock, err := admin.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := lock.ExecContext(ctx, `LOCK TABLE orders IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- read() }()
		var pid int
		testkit.Eventually(t, 10*time.Second, name+" to wait for the lock", func() bool {
			err := admin.GetContext(ctx, &pid, `SELECT pid FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`)
			return err == nil
		})
		if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 10*time.Second, "the ended connection to be gone", func() bool {
			var left int
			err := admin.GetContext(ctx, &left, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid)
			return err == nil && left == 0
		})
		if err := lock.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Errorf("%s whose connection was ended: %v", name, err)
		}
	}
}

// at returns the time of step i of exactOrder's life: whole microseconds
// that differ in every field, from just before a daylight saving change in
// Europe (storage must not care).
func at(i int) time.Time {
	return time.Date(2026, 3, 29, 0, 59, 58, 999999000, time.UTC).Add(time.Duration(i) * (time.Second + 1001*time.Microsecond))
}

// exactMetadata is a reason made to trip up JSON handling: non-ASCII text,
// characters JSON escapes, and JSON of its own.
const exactMetadata = `{"supplier":{"error":"délai dépassé — 超时 🔑","codes":[504,"E\"42\""],"path":"C:\\keys\n\t</script>"},"ok":false}`

// exactOrder returns a new order of six items with a payment whose amount
// has more digits than a float64 keeps.
func exactOrder(t *testing.T) *domain.Order {
	t.Helper()
	product := func(sku, price string, source domain.ProductSource) domain.NewItem {
		p, err := domain.NewProduct(domain.ProductSnapshot{SKU: sku, Name: "Jeu « " + sku + " » — édition ✓ 鍵",
			Price: domain.MustMoney(price, "EUR"), Source: source, Stock: 9, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		return domain.NewItem{ID: "ord-x-" + sku[len(sku)-1:], Product: p, Quantity: 1}
	}
	supplier := func(id, cost string) domain.ProductSource {
		return domain.ProductSource{Kind: domain.SourceSupplier, Supplier: "sandbox", SupplierProductID: id, Cost: domain.MustMoney(cost, "EUR")}
	}
	lines := []domain.NewItem{
		product("sku-a", "19.99", supplier("sp-a", "12.01")),
		product("sku-b", "0.10", domain.ProductSource{Kind: domain.SourceOwnStock}),
		product("sku-c", "5.00", supplier("sp-c", "4.50")),
		product("sku-d", "7.45", supplier("sp-d", "0.07")),
		product("sku-e", "1234.50", supplier("sp-e", "999.99")),
		product("sku-f", "59.99", supplier("sp-f", "44.90")),
	}
	lines[0].Quantity, lines[1].Quantity = 2, 3
	email, err := domain.ParseEmail("Buyer.Ünïcode@example.com")
	if err != nil {
		t.Fatal(err)
	}
	o, err := domain.NewOrder("ord-x", email, domain.HashToken("access"), lines, at(0))
	if err != nil {
		t.Fatal(err)
	}
	err = o.AttachPayment(domain.Payment{Provider: "sandbox", PaymentID: "pay-x", PayAddress: "TXq4Zb9eNw",
		PayAmount: decimal.RequireFromString("12.345678901234567890"), PayCurrency: "usdttrc20", PayinExtraID: "mémo ✓"}, at(1))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// exactPayment pays o in full, with a little more than asked.
func exactPayment(o *domain.Order) domain.PaymentUpdate {
	p := o.Payment()
	return domain.PaymentUpdate{PaymentID: p.PaymentID, Status: domain.PaymentFinished, PriceAmount: o.Total().Amount(),
		PriceCurrency: "EUR", PayAmount: p.PayAmount, ActuallyPaid: decimal.RequireFromString("12.345678901234567891"),
		PayCurrency: p.PayCurrency}
}

// fulfilment pays exactOrder's order and leaves one item in each status:
// a pending, b purchasing, c purchased, d sealed, e failed. It is a list
// of updates, each a list of steps; the items change from the last one
// back, so that their rows are no longer stored in the items' order.
func fulfilment(id string) [][]func(o *domain.Order, at time.Time) error {
	type step = func(o *domain.Order, at time.Time) error
	return [][]step{
		{
			func(o *domain.Order, at time.Time) error { _, err := o.ApplyPayment(exactPayment(o), at); return err },
			func(o *domain.Order, at time.Time) error { _, err := o.StartFulfilment(at); return err },
		},
		{
			func(o *domain.Order, at time.Time) error { return o.BeginItemPurchase(id+"-e", at) },
			func(o *domain.Order, at time.Time) error { return o.FailItem(id+"-e", exactMetadata, true, at) },
		},
		{
			func(o *domain.Order, at time.Time) error { return o.BeginItemPurchase(id+"-d", at) },
			func(o *domain.Order, at time.Time) error { return o.RecordItemPurchase(id+"-d", "so-d", at) },
			func(o *domain.Order, at time.Time) error {
				return o.SealItem(id+"-d", []domain.SealedKey{{Slot: 0, BlobRef: "sealed/ord-x/d/0", ContentType: "text/plain; charset=utf-8"}}, at)
			},
		},
		{
			func(o *domain.Order, at time.Time) error { return o.BeginItemPurchase(id+"-c", at) },
			func(o *domain.Order, at time.Time) error { return o.RecordItemPurchase(id+"-c", "so-c ✓", at) },
		},
		{
			func(o *domain.Order, at time.Time) error { return o.BeginItemPurchase(id+"-b", at) },
		},
		{
			func(o *domain.Order, at time.Time) error { return o.BeginItemPurchase(id+"-f", at) },
			func(o *domain.Order, at time.Time) error { return o.RecordItemPurchase(id+"-f", "so-f", at) },
			func(o *domain.Order, at time.Time) error {
				return o.AwaitItemRelease(id+"-f", time.Date(2027, 2, 14, 0, 0, 0, 0, time.UTC), at)
			},
		},
	}
}

// fulfil applies the updates' steps, each at its own time after the
// order's first two (placed, payment attached), calling update for each.
func fulfil(updates [][]func(*domain.Order, time.Time) error, update func(func(*domain.Order) error) error) error {
	n := 2
	for _, steps := range updates {
		err := update(func(o *domain.Order) error {
			for i, step := range steps {
				if err := step(o, at(n+i)); err != nil {
					return fmt.Errorf("step %d: %w", n+i, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		n += len(steps)
	}
	return nil
}

// describeOrder renders every field of s, one per line, so that any
// difference shows: decimals with all their digits, times to the
// nanosecond with their location.
func describeOrder(s domain.OrderSnapshot) []string {
	tm := func(t time.Time) string { return t.Format(time.RFC3339Nano) + " " + t.Location().String() }
	money := func(m domain.Money) string { return m.Amount().String() + " " + m.Currency().String() }
	p := s.Payment
	out := []string{
		fmt.Sprintf("order %s %s %x %s %s v%d", s.ID, s.Email, s.AccessTokenHash, money(s.Total), s.Status, s.Version),
		fmt.Sprintf("payment %s %s %s %s %s %s %s %s", p.Provider, p.PaymentID, p.PayAddress, p.PayAmount, p.PayCurrency,
			p.PayinExtraID, p.Status, p.ActuallyPaid),
		fmt.Sprintf("created %s updated %s", tm(s.CreatedAt), tm(s.UpdatedAt)),
		fmt.Sprintf("claim %q %s", s.DeliveryClaim.ID, tm(s.DeliveryClaim.ClaimedAt)),
	}
	for _, it := range s.Items {
		failure := "no failure"
		if it.Failure != nil {
			failure = fmt.Sprintf("failure %q retryable %t", it.Failure.Reason, it.Failure.Retryable)
		}
		out = append(out, fmt.Sprintf("item %s %s %q %s/%s/%s cost %s × %d at %s %s %q %s keys %v release %s", it.ID, it.SKU, it.Name,
			it.Source.Kind, it.Source.Supplier, it.Source.SupplierProductID, money(it.Source.Cost), it.Quantity,
			money(it.UnitPrice), it.Status, it.SupplierOrderID, failure, it.Keys, tm(it.ReleaseDate)))
	}
	for _, e := range s.Timeline {
		meta := e.Metadata()
		keys := slices.Collect(maps.Keys(meta))
		sort.Strings(keys)
		line := fmt.Sprintf("timeline %s %s %s", e.Kind(), e.Status(), tm(e.At()))
		for _, k := range keys {
			line += fmt.Sprintf(" %s=%q", k, meta[k])
		}
		out = append(out, line)
	}
	return out
}

// only returns the one order of a List.
func only(orders []*domain.Order, err error) (*domain.Order, error) {
	if err != nil {
		return nil, err
	}
	if len(orders) != 1 {
		return nil, fmt.Errorf("listed %d orders, want 1", len(orders))
	}
	return orders[0], nil
}

func atLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "(none)"
}
