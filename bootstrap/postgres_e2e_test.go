package bootstrap_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// withPostgres points keyward at a fresh, migrated database.
func withPostgres(url string) func(*bootstrap.Config) {
	return func(c *bootstrap.Config) { c.DatabaseURL = url }
}

// TestEndToEndPostgres is the walking-skeleton flow on Postgres with the
// Watermill SQL outbox as the queue.
func TestEndToEndPostgres(t *testing.T) {
	t.Parallel()
	url, db := pgtest.NewDatabase(t)
	h := start(t, withPostgres(url))
	orderID, secrets := walkFlow(t, h)
	assertDumpClean(t, h, url, orderID, secrets)
	var outboxed int
	table := "watermill_" + messaging.PartitionedTopic(domain.EventOrderPaid, orderID, h.cfg.QueuePartitions)
	if err := db.Get(&outboxed, `SELECT count(*) FROM "`+table+`" WHERE payload->>'order_id' = $1`, orderID); err != nil || outboxed != 1 {
		t.Fatalf("order.paid went through %s %d times (%v), want once", table, outboxed, err)
	}
}

// TestDuplicateIPNsPostgres: 50 identical IPNs at once, one purchase, one
// link, one email, one paid transition.
func TestDuplicateIPNsPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, withPostgres(url))
	duplicateIPNs(t, h, 50)
}

// assertDumpClean runs pg_dump and checks that neither a revealed key nor
// the order's plaintext data key appears in it, in any usual encoding.
func assertDumpClean(t *testing.T, h *harness, url, orderID string, secrets []string) {
	t.Helper()
	out, err := exec.Command("pg_dump", "--no-owner", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	dump := string(out)
	if !strings.Contains(dump, orderID) {
		t.Fatalf("the dump does not contain the order: wrong database?")
	}
	wk, err := h.dataKeys.Get(t.Context(), orderID)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := h.vault.UnwrapDataKey(t.Context(), orderID, wk)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := map[string]string{
		"data key (hex)": hex.EncodeToString(dk), "data key (base64)": base64.StdEncoding.EncodeToString(dk),
		"data key (bytea)": `\x` + hex.EncodeToString(dk),
	}
	for i, s := range secrets {
		forbidden["key "+string(rune('A'+i))] = s
		forbidden["key "+string(rune('A'+i))+" (hex)"] = hex.EncodeToString([]byte(s))
		forbidden["key "+string(rune('A'+i))+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(s))
	}
	if len(secrets) == 0 {
		t.Fatal("no revealed keys to look for")
	}
	for what, s := range forbidden {
		if strings.Contains(dump, s) {
			t.Errorf("pg_dump contains the plaintext %s", what)
		}
	}
	if !strings.Contains(dump, wk.Ciphertext) {
		t.Errorf("the dump lacks the wrapped data key %q: is it stored elsewhere?", wk.Ciphertext[:12])
	}
}

// TestRestartKeepsState stops keyward and starts a new process on the same
// database: orders, links and revelations survive, and a link issued
// before the restart still reveals.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) { c.DatabaseURL = url; c.KeyringFile = keyring }
	h1 := start(t, mod)
	sku := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "restart@example.com"
	o := h1.deliveredOrder(email, line(sku, 1))
	token := h1.deliveryToken(email)
	if code, _, raw := h1.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != 200 {
		t.Fatalf("reveal before restart: %d %s", code, raw)
	}
	mailDir := h1.cfg.MailDir
	h1.stop()

	h2 := start(t, func(c *bootstrap.Config) { mod(c); c.MailDir = mailDir })
	if got := h2.getOrder(o); got.Status != "delivered" || len(got.Timeline) == 0 {
		t.Fatalf("after restart the order is %+v", got)
	}
	var rv struct {
		RevealsLeft int  `json:"reveals_left"`
		FirstReveal bool `json:"first_reveal"`
	}
	if code, _, raw := h2.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != 200 || rv.FirstReveal || rv.RevealsLeft != h2.cfg.LinkMaxReveals-2 {
		t.Fatalf("reveal after restart: %d %s", code, raw)
	}
	revs, err := h2.revs.ListByOrder(t.Context(), o.ID)
	if err != nil || len(revs) != 2 {
		t.Fatalf("revelations after restart: %d (%v), want 2", len(revs), err)
	}
}

// TestCrashAfterPurchase stops the process hard after the supplier took
// the purchase and the keys were sealed and stored, just before the unit of
// work that records them on the order: its connections are killed and its
// goroutines never continue. A new process on the same database finds the
// purchase by the item's id and completes the order with no second
// purchase and no lost key.
func TestCrashAfterPurchase(t *testing.T) {
	t.Parallel()
	url, admin := pgtest.NewDatabase(t)
	supplier := sandbox.NewSupplier(sandbox.SupplierConfig{}) // the supplier outlives our crash
	shared := fx.Decorate(func(*sandbox.Supplier) *sandbox.Supplier { return supplier })

	// The process freezes at the change that follows the begun purchase.
	f := newFreezer(t)
	hook := fx.Decorate(func(orders ports.OrderRepository) ports.OrderRepository {
		return freezeOrders{orders, f, purchaseBegun}
	})
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) { c.DatabaseURL = url; c.KeyringFile = keyring }
	var db1 *sqlx.DB
	h1 := start(t, mod, shared, hook, fx.Populate(&db1))
	sku := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "crash@example.com"
	o := h1.placeOrder(email, line(sku, 2))
	h1.pay(o)
	select {
	case <-f.crashed:
	case <-time.After(15 * time.Second):
		t.Fatal("fulfilment never reached the crash point")
	}
	itemID := h1.getOrder(o).Items[0].ID
	if got := h1.getOrder(o).Items[0].Status; got != "purchasing" || supplier.PurchaseCount(itemID) != 1 {
		t.Fatalf("at the crash the item is %s with %d purchases, want purchasing and 1", got, supplier.PurchaseCount(itemID))
	}
	kill(t, h1, db1, admin)

	h2 := start(t, func(c *bootstrap.Config) { mod(c); c.MailDir = h1.cfg.MailDir }, shared)
	h2.waitStatus(o, "delivered", 30*time.Second)
	if n := supplier.PurchaseCount(itemID); n != 1 {
		t.Fatalf("%d purchases after the crash, want 1", n)
	}
	token := h2.deliveryToken(email)
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code, _, raw := h2.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != http.StatusOK {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	issued := supplier.IssuedKeys(itemID)
	if len(rv.Items) != 1 || len(rv.Items[0].Keys) != 2 || rv.Items[0].Keys[0].Value != string(issued[0].Data) || rv.Items[0].Keys[1].Value != string(issued[1].Data) {
		t.Fatalf("revealed keys differ from the ones bought before the crash")
	}
}

// kill stops a keyward process the hard way: its connection pool is shut
// so it can do nothing more, every connection it holds is terminated (open
// transactions roll back, locks go), and its fx app is abandoned without
// waiting for its frozen goroutines.
func kill(t *testing.T, h *harness, db *sqlx.DB, admin *sqlx.DB) {
	t.Helper()
	go func() { _ = db.Close() }()
	var dbname string
	if err := admin.Get(&dbname, `SELECT current_database()`); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbname); err != nil {
		t.Fatal(err)
	}
	h.killed = true
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	go func() { _ = h.app.Stop(ctx) }() // a killed process does not clean up; don't wait
}

// TestRefusesWrongKeyring: restarting on the same database with a lost
// keyring file refuses to start instead of failing every reveal.
func TestRefusesWrongKeyring(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h1 := start(t, withPostgres(url))
	sku := h1.firstSKU(func(p product) bool { return p.InStock }).SKU
	h1.deliveredOrder("lost@example.com", line(sku, 1))
	h1.stop()

	cfg := bootstrap.Defaults()
	cfg.DatabaseURL, cfg.KeyringFile = url, t.TempDir()+"/new-keyring.json"
	err := startRefused(t, cfg) // a keyring that cannot open the stored data keys
	if !strings.Contains(err.Error(), "keyring file") {
		t.Fatalf("unhelpful error: %v", err)
	}
}
