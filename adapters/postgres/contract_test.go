package postgres_test

import (
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// Every subtest of a contract gets a database of its own.

func TestOrders(t *testing.T) {
	t.Parallel()
	porttest.OrderRepository(t, func(t *testing.T) ports.OrderRepository {
		return postgres.NewOrders(pgtest.NewDB(t), postgres.NoOutbox{})
	})
}

func TestLinks(t *testing.T) {
	t.Parallel()
	porttest.DeliveryLinkRepository(t, func(t *testing.T) ports.DeliveryLinkRepository {
		return postgres.NewLinks(pgtest.NewDB(t))
	})
}

func TestLinksForReveal(t *testing.T) {
	t.Parallel()
	porttest.DeliveryLinkForReveal(t, func(t *testing.T) porttest.LinkRevealStores {
		db := pgtest.NewDB(t)
		return porttest.LinkRevealStores{Links: postgres.NewLinks(db), Orders: postgres.NewOrders(db, postgres.NoOutbox{}),
			DataKeys: postgres.NewDataKeys(db), Blobs: postgres.NewBlobs(db)}
	})
}

func TestClaims(t *testing.T) {
	t.Parallel()
	porttest.ClaimRepository(t, func(t *testing.T) ports.ClaimRepository { return postgres.NewClaims(pgtest.NewDB(t)) })
}

func TestCustomerLinks(t *testing.T) {
	t.Parallel()
	porttest.CustomerLinkRepository(t, func(t *testing.T) porttest.CustomerLinkStore {
		db := pgtest.NewDB(t)
		return porttest.CustomerLinkStore{Repo: postgres.NewCustomerLinks(db, postgres.NoOutbox{}), Tx: postgres.NewTransactor(db),
			Waiting: func(t *testing.T) int { return waitingForLocks(t, db) }}
	})
}

func TestRevelations(t *testing.T) {
	t.Parallel()
	porttest.RevelationLog(t, func(t *testing.T) ports.RevelationLog { return postgres.NewRevelations(pgtest.NewDB(t)) })
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	porttest.CatalogRepository(t, func(t *testing.T) ports.CatalogRepository { return postgres.NewCatalog(pgtest.NewDB(t)) })
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	porttest.PaymentNotificationLog(t, func(t *testing.T) ports.PaymentNotificationLog {
		return postgres.NewNotifications(pgtest.NewDB(t))
	})
}

func TestDataKeys(t *testing.T) {
	t.Parallel()
	porttest.DataKeyRepository(t, func(t *testing.T) ports.DataKeyRepository { return postgres.NewDataKeys(pgtest.NewDB(t)) })
}

func TestBlobs(t *testing.T) {
	t.Parallel()
	porttest.BlobStore(t, func(t *testing.T) ports.BlobStore { return postgres.NewBlobs(pgtest.NewDB(t)) })
}

func TestSupplierEventMarks(t *testing.T) {
	t.Parallel()
	porttest.SupplierEventMarks(t, func(t *testing.T) ports.SupplierEventMarks { return postgres.NewSupplierEventMarks(pgtest.NewDB(t)) })
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	porttest.DeadLetters(t, func(t *testing.T) ports.DeadLetters { return postgres.NewDeadLetters(pgtest.NewDB(t)) })
}

func TestAdminKeys(t *testing.T) {
	t.Parallel()
	porttest.AdminKeys(t, func(t *testing.T) ports.AdminKeys { return postgres.NewAdminKeys(pgtest.NewDB(t)) })
}

func TestSentMail(t *testing.T) {
	t.Parallel()
	porttest.SentMailLog(t, func(t *testing.T) ports.SentMailLog { return postgres.NewSentMail(pgtest.NewDB(t)) })
}

func TestStock(t *testing.T) {
	t.Parallel()
	porttest.StockRepository(t, func(t *testing.T) (ports.StockRepository, ports.Transactor) {
		db := pgtest.NewDB(t)
		return postgres.NewStock(db), postgres.NewTransactor(db)
	})
}

func TestSyncRuns(t *testing.T) {
	t.Parallel()
	porttest.SyncRunRepository(t, func(t *testing.T) ports.SyncRunRepository { return postgres.NewSyncRuns(pgtest.NewDB(t)) })
}

func TestPricingRules(t *testing.T) {
	t.Parallel()
	porttest.PricingRules(t, func(t *testing.T) ports.PricingRules { return postgres.NewPricingRules(pgtest.NewDB(t)) })
}

func TestWebhookStoreContract(t *testing.T) {
	t.Parallel()
	porttest.WebhookStore(t, func(t *testing.T) (ports.WebhookStore, ports.Transactor) {
		db := pgtest.NewDB(t)
		return postgres.NewWebhooks(db), postgres.NewTransactor(db)
	})
}

func TestOffers(t *testing.T) {
	t.Parallel()
	porttest.OfferRepository(t, func(t *testing.T) (ports.OfferRepository, ports.CatalogRepository) {
		db := pgtest.NewDB(t)
		return postgres.NewOffers(db), postgres.NewCatalog(db)
	})
}

// waitingForLocks counts the backends of db's database that wait for a
// lock (a row another transaction holds).
func waitingForLocks(t *testing.T, db *sqlx.DB) int {
	t.Helper()
	var n int
	if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`); err != nil {
		t.Errorf("backends waiting for a lock: %v", err)
	}
	return n
}
