package memory_test

import (
	"testing"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/ports"
	"github.com/keyward/keyward/ports/porttest"
)

// The in-memory adapters are the reference implementation: they must pass
// every storage contract, as the PostgreSQL adapters do.

func TestOrders(t *testing.T) {
	t.Parallel()
	porttest.OrderRepository(t, func(*testing.T) ports.OrderRepository { return memory.NewOrders(nil) })
}

func TestLinks(t *testing.T) {
	t.Parallel()
	porttest.DeliveryLinkRepository(t, func(*testing.T) ports.DeliveryLinkRepository { return memory.NewLinks() })
}

// Memory links keep no orders, data keys or blobs: they do not offer the
// one-statement read of a reveal, which reads them apart.
func TestLinksDoNotReadForReveal(t *testing.T) {
	t.Parallel()
	if _, ok := ports.DeliveryLinkRepository(memory.NewLinks()).(ports.DeliveryLinkForReveal); ok {
		t.Fatal("memory links claim the one-statement read of a reveal")
	}
}

func TestClaims(t *testing.T) {
	t.Parallel()
	porttest.ClaimRepository(t, func(*testing.T) ports.ClaimRepository { return memory.NewClaims() })
}

func TestCustomerLinks(t *testing.T) {
	t.Parallel()
	porttest.CustomerLinkRepository(t, func(*testing.T) porttest.CustomerLinkStore {
		links := memory.NewCustomerLinks(nil)
		return porttest.CustomerLinkStore{Repo: links, Tx: memory.Transactor{}, Waiting: func(*testing.T) int { return links.Waiting() }}
	})
}

func TestRevelations(t *testing.T) {
	t.Parallel()
	porttest.RevelationLog(t, func(*testing.T) ports.RevelationLog { return memory.NewRevelations() })
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	porttest.CatalogRepository(t, func(*testing.T) ports.CatalogRepository { return memory.NewCatalog() })
}

func TestNotifications(t *testing.T) {
	t.Parallel()
	porttest.PaymentNotificationLog(t, func(*testing.T) ports.PaymentNotificationLog { return memory.NewNotifications() })
}

func TestDataKeys(t *testing.T) {
	t.Parallel()
	porttest.DataKeyRepository(t, func(*testing.T) ports.DataKeyRepository { return memory.NewDataKeys() })
}

func TestBlobs(t *testing.T) {
	t.Parallel()
	porttest.BlobStore(t, func(*testing.T) ports.BlobStore { return memory.NewBlobs() })
}

func TestAuditLog(t *testing.T) {
	t.Parallel()
	porttest.AuditLog(t, func(_ *testing.T, clock ports.Clock, mac ports.AuditMAC) ports.AuditLog {
		return memory.NewAuditLog(clock, mac)
	})
}

func TestLocksContract(t *testing.T) {
	porttest.Locks(t, func(t *testing.T) (ports.Locks, ports.Locks) {
		l := memory.NewLocks()
		return l, l
	})
}

func TestSupplierEventMarks(t *testing.T) {
	t.Parallel()
	porttest.SupplierEventMarks(t, func(*testing.T) ports.SupplierEventMarks { return memory.NewSupplierEventMarks() })
}

func TestDeadLetters(t *testing.T) {
	t.Parallel()
	porttest.DeadLetters(t, func(*testing.T) ports.DeadLetters { return memory.NewDeadLetters() })
}

func TestAdminKeys(t *testing.T) {
	t.Parallel()
	porttest.AdminKeys(t, func(*testing.T) ports.AdminKeys { return memory.NewAdminKeys() })
}

func TestSentMail(t *testing.T) {
	t.Parallel()
	porttest.SentMailLog(t, func(*testing.T) ports.SentMailLog { return memory.NewSentMail() })
}

func TestStock(t *testing.T) {
	t.Parallel()
	porttest.StockRepository(t, func(*testing.T) (ports.StockRepository, ports.Transactor) {
		return memory.NewStock(), memory.Transactor{}
	})
}

func TestSyncRuns(t *testing.T) {
	t.Parallel()
	porttest.SyncRunRepository(t, func(*testing.T) ports.SyncRunRepository { return memory.NewSyncRuns() })
}

func TestPricingRules(t *testing.T) {
	t.Parallel()
	porttest.PricingRules(t, func(*testing.T) ports.PricingRules { return memory.NewPricingRules() })
}

func TestRateLimiterContract(t *testing.T) {
	t.Parallel()
	porttest.RateLimiter(t, func(*testing.T) (ports.RateLimiter, ports.RateLimiter) {
		l := memory.NewRateLimiter()
		return l, l // one process: both instances share its buckets
	})
}

func TestWebhookStoreContract(t *testing.T) {
	t.Parallel()
	porttest.WebhookStore(t, func(*testing.T) (ports.WebhookStore, ports.Transactor) {
		return memory.NewWebhooks(), memory.Transactor{}
	})
}

func TestOffers(t *testing.T) {
	t.Parallel()
	porttest.OfferRepository(t, func(*testing.T) (ports.OfferRepository, ports.CatalogRepository) {
		c := memory.NewCatalog()
		return memory.NewOffers(c), c
	})
}
