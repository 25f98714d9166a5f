package porttest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// StockRepository runs the ports.StockRepository contract. newRepo is
// called once per subtest, from parallel subtests, and must return an
// empty repository and the units of work its writes join.
func StockRepository(t *testing.T, newRepo func(t *testing.T) (ports.StockRepository, ports.Transactor)) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.StockRepository, ports.Transactor)
	}{
		{"a claim resumed in its unit of work returns the ciphertext", testStockClaimResumedSealed},
		{"a rehash withdraws duplicates and finds keys by hash", testStockApplyRehash},
		{"add skips known hashes, even of keys that left the stock", stockTest(testStockDedupe)},
		{"claim assigns available keys, oldest first, once", stockTest(testStockClaim)},
		{"a claim larger than the stock takes nothing", stockTest(testStockClaimShort)},
		{"concurrent claims never share a key", stockTest(testStockConcurrentClaims)},
		{"withdraw takes only available keys", stockTest(testStockWithdraw)},
		{"sourcing is stored per sku", stockTest(testStockSourcing)},
		{"restock puts keys assigned to an item back, with their new ciphertext", stockTest(testStockRestock)},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			repo, tx := newRepo(t)
			st.run(t, repo, tx)
		})
	}
}

// stockTest adapts a test of the repository alone.
func stockTest(run func(*testing.T, ports.StockRepository)) func(*testing.T, ports.StockRepository, ports.Transactor) {
	return func(t *testing.T, repo ports.StockRepository, _ ports.Transactor) { run(t, repo) }
}

var stockT0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// stockKey builds a valid stock key for sku whose secret is "secret-n".
func stockKey(sku string, n int) domain.StockKey {
	h := sha256.Sum256(fmt.Appendf(nil, "secret-%d", n)) // stands for the keyed hash
	return domain.StockKey{
		ID: domain.StockKeyID(fmt.Sprintf("sk-%s-%03d", sku, n)), SKU: sku, Hash: h[:],
		Sealed: fmt.Appendf(nil, "sealed-%d", n), ContentType: "text/plain",
		CreatedAt: stockT0.Add(time.Duration(n) * time.Second),
	}
}

func addStock(t *testing.T, repo ports.StockRepository, want int, keys ...domain.StockKey) {
	t.Helper()
	got, err := repo.Add(t.Context(), keys)
	if err != nil || len(got) != want {
		t.Fatalf("Add(%d keys) = %v, %v; want %d added", len(keys), got, err, want)
	}
	known := map[domain.StockKeyID]bool{}
	for _, k := range keys {
		known[k.ID] = true
	}
	for _, id := range got {
		if !known[id] {
			t.Fatalf("Add returned id %s it was not given", id)
		}
	}
}

func wantCounts(t *testing.T, repo ports.StockRepository, sku string, want domain.StockCounts) {
	t.Helper()
	got, err := repo.Counts(t.Context(), sku)
	if err != nil || got != want {
		t.Fatalf("Counts(%s) = %+v, %v; want %+v", sku, got, err, want)
	}
}

func testStockDedupe(t *testing.T, repo ports.StockRepository) {
	addStock(t, repo, 2, stockKey("A", 1), stockKey("A", 2))
	again := stockKey("A", 2)
	again.ID = "sk-other"
	addStock(t, repo, 1, again, stockKey("A", 3)) // 2 is known
	if _, err := repo.Claim(t.Context(), "A", "item-1", 1); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if err := repo.Withdraw(t.Context(), "A", stockKey("A", 2).ID, stockT0); err != nil {
		t.Fatalf("Withdraw: %v", err)
	}
	sold, withdrawn := stockKey("A", 1), stockKey("A", 2)
	sold.ID, withdrawn.ID = "sk-sold-again", "sk-withdrawn-again"
	addStock(t, repo, 0, sold, withdrawn)
	wantCounts(t, repo, "A", domain.StockCounts{Available: 1, Assigned: 1, Withdrawn: 1})
}

func testStockClaim(t *testing.T, repo ports.StockRepository) {
	addStock(t, repo, 4, stockKey("A", 3), stockKey("A", 1), stockKey("A", 2), stockKey("B", 9))
	got, err := repo.Claim(t.Context(), "A", "item-1", 2)
	if err != nil || len(got) != 2 || got[0].ID != stockKey("A", 1).ID || got[1].ID != stockKey("A", 2).ID {
		t.Fatalf("Claim = %+v, %v; want A-1 and A-2", got, err)
	}
	if string(got[0].Sealed) != "sealed-1" || got[0].ContentType != "text/plain" || got[0].ItemID != "item-1" {
		t.Fatalf("claimed key = %+v, want its ciphertext and item", got[0])
	}
	again, err := repo.Claim(t.Context(), "A", "item-1", 2)
	if err != nil || len(again) != 2 || again[0].ID != got[0].ID || again[1].ID != got[1].ID {
		t.Fatalf("resumed Claim = %+v, %v; want the same keys", again, err)
	}
	wantCounts(t, repo, "A", domain.StockCounts{Available: 1, Assigned: 2})
	wantCounts(t, repo, "B", domain.StockCounts{Available: 1})
}

func testStockClaimShort(t *testing.T, repo ports.StockRepository) {
	addStock(t, repo, 2, stockKey("A", 1), stockKey("A", 2))
	_, err := repo.Claim(t.Context(), "A", "item-1", 3)
	wantIs(t, err, domain.ErrOutOfStock, "Claim of 3 out of 2")
	wantCounts(t, repo, "A", domain.StockCounts{Available: 2})
	_, err = repo.Claim(t.Context(), "Z", "item-2", 1)
	wantIs(t, err, domain.ErrOutOfStock, "Claim of an empty stock")
}

func testStockConcurrentClaims(t *testing.T, repo ports.StockRepository) {
	for i := range 5 {
		addStock(t, repo, 1, stockKey("A", i))
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		owner = map[domain.StockKeyID]string{}
		won   int
	)
	for i := range 20 {
		wg.Go(func() {
			item := fmt.Sprintf("item-%02d", i)
			got, err := repo.Claim(t.Context(), "A", item, 1)
			if err != nil {
				wantIs(t, err, domain.ErrOutOfStock, "losing Claim")
				return
			}
			mu.Lock()
			defer mu.Unlock()
			won++
			for _, k := range got {
				if prev, ok := owner[k.ID]; ok {
					t.Errorf("key %s claimed by %s and %s", k.ID, prev, item)
				}
				owner[k.ID] = item
			}
		})
	}
	wg.Wait()
	if won != 5 || len(owner) != 5 {
		t.Fatalf("%d claims won %d keys; want 5 and 5", won, len(owner))
	}
	wantCounts(t, repo, "A", domain.StockCounts{Assigned: 5})
}

func testStockWithdraw(t *testing.T, repo ports.StockRepository) {
	addStock(t, repo, 2, stockKey("A", 1), stockKey("A", 2))
	if err := repo.Withdraw(t.Context(), "A", stockKey("A", 2).ID, stockT0); err != nil {
		t.Fatalf("Withdraw: %v", err)
	}
	wantIs(t, repo.Withdraw(t.Context(), "A", stockKey("A", 2).ID, stockT0), domain.ErrInvalidTransition, "second Withdraw")
	wantIs(t, repo.Withdraw(t.Context(), "B", stockKey("A", 1).ID, stockT0), domain.ErrNotFound, "Withdraw under another sku")
	wantIs(t, repo.Withdraw(t.Context(), "A", "sk-nope", stockT0), domain.ErrNotFound, "Withdraw of an unknown key")
	if _, err := repo.Claim(t.Context(), "A", "item-1", 1); err != nil {
		t.Fatalf("Claim: %v", err)
	}
	wantIs(t, repo.Withdraw(t.Context(), "A", stockKey("A", 1).ID, stockT0), domain.ErrInvalidTransition, "Withdraw of a sold key")
	_, err := repo.Claim(t.Context(), "A", "item-2", 1)
	wantIs(t, err, domain.ErrOutOfStock, "Claim after every key left")
	wantCounts(t, repo, "A", domain.StockCounts{Assigned: 1, Withdrawn: 1})
}

func testStockSourcing(t *testing.T, repo ports.StockRepository) {
	_, err := repo.Sourcing(t.Context(), "A")
	wantIs(t, err, domain.ErrNotFound, "Sourcing never set")
	for _, m := range []domain.Sourcing{domain.SourcingStockOnly, domain.SourcingStockThenSupplier} {
		if err := repo.SetSourcing(t.Context(), "A", m); err != nil {
			t.Fatalf("SetSourcing(%s): %v", m, err)
		}
		if got, err := repo.Sourcing(t.Context(), "A"); err != nil || got != m {
			t.Fatalf("Sourcing = %v, %v; want %v", got, err, m)
		}
	}
}

// testStockClaimResumedSealed: within the unit of work that claims them,
// a resumed claim returns the same keys with their ciphertext, which the
// caller still has to re-seal for the order.
func testStockClaimResumedSealed(t *testing.T, repo ports.StockRepository, tx ports.Transactor) {
	addStock(t, repo, 3, stockKey("A", 1), stockKey("A", 2), stockKey("A", 3))
	err := tx.Atomically(t.Context(), func(ctx context.Context) error {
		first, err := repo.Claim(ctx, "A", "item-1", 2)
		if err != nil || len(first) != 2 {
			return fmt.Errorf("Claim = %+v, %w", first, err)
		}
		again, err := repo.Claim(ctx, "A", "item-1", 2)
		if err != nil || len(again) != 2 {
			return fmt.Errorf("resumed Claim = %+v, %w", again, err)
		}
		for i, k := range again {
			if k.ID != first[i].ID || string(k.Sealed) != string(first[i].Sealed) || len(k.Sealed) == 0 {
				return fmt.Errorf("resumed claim key %d = %s with ciphertext %q; want %s with %q", i, k.ID, k.Sealed, first[i].ID, first[i].Sealed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantCounts(t, repo, "A", domain.StockCounts{Available: 1, Assigned: 2})
}

// testStockApplyRehash: a rehash plan withdraws its duplicates (counted as
// withdrawn, no longer found by hash) and refuses, changing nothing, a
// plan whose duplicate left the stock meanwhile; keys are found by hash
// whatever their status.
func testStockApplyRehash(t *testing.T, repo ports.StockRepository, _ ports.Transactor) {
	pending, err := repo.PendingRehash(t.Context(), 10)
	if err != nil || len(pending) != 0 {
		t.Fatalf("PendingRehash of keys all stored canonically = %v, %v; want none", pending, err)
	}
	k1, k2, k3 := stockKey("A", 1), stockKey("A", 2), stockKey("A", 3)
	addStock(t, repo, 3, k1, k2, k3)
	if _, err := repo.Claim(t.Context(), "A", "item-1", 1); err != nil { // k1
		t.Fatal(err)
	}
	holders, err := repo.HashHolders(t.Context(), [][]byte{k1.Hash, k2.Hash, []byte("unknown")})
	if err != nil || len(holders) != 2 {
		t.Fatalf("HashHolders = %+v, %v; want k1 and k2", holders, err)
	}
	for _, h := range holders {
		if h.ID == k1.ID && (h.Status != domain.StockAssigned || string(h.Hash) != string(k1.Hash)) {
			t.Fatalf("holder %+v, want k1 assigned with its hash", h)
		}
	}
	k2.Status, k3.Status = domain.StockAvailable, domain.StockAvailable
	if err := repo.ApplyRehash(t.Context(), domain.StockRehashPlan{Duplicates: []domain.StockDuplicate{{Key: k3, Of: k2}}}, stockT0); err != nil {
		t.Fatalf("ApplyRehash: %v", err)
	}
	wantCounts(t, repo, "A", domain.StockCounts{Available: 1, Assigned: 1, Withdrawn: 1})
	if got, err := repo.HashHolders(t.Context(), [][]byte{k3.Hash}); err != nil || len(got) != 0 {
		t.Fatalf("HashHolders of a withdrawn duplicate = %+v, %v; want none", got, err)
	}
	k1.Status = domain.StockAvailable
	err = repo.ApplyRehash(t.Context(), domain.StockRehashPlan{Duplicates: []domain.StockDuplicate{{Key: k2, Of: k3}, {Key: k1, Of: k3}}}, stockT0)
	wantIs(t, err, domain.ErrConflict, "ApplyRehash withdrawing a sold key")
	wantCounts(t, repo, "A", domain.StockCounts{Available: 1, Assigned: 1, Withdrawn: 1})
}

// testStockRestock: keys assigned to an item go back into the stock with
// the ciphertext given, keep their hash (a re-import is a duplicate) and
// are claimed again; a key not assigned to that item restocks nothing.
func testStockRestock(t *testing.T, repo ports.StockRepository) {
	addStock(t, repo, 3, stockKey("A", 1), stockKey("A", 2), stockKey("A", 3))
	got, err := repo.Claim(t.Context(), "A", "item-1", 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("Claim = %+v, %v", got, err)
	}
	back := domain.StockKey{ID: got[0].ID, SKU: "A", Sealed: []byte("resealed-1"), ContentType: "text/plain"}
	other := domain.StockKey{ID: stockKey("A", 3).ID, SKU: "A", Sealed: []byte("x"), ContentType: "text/plain"}
	if err := repo.Restock(t.Context(), "A", "item-1", []domain.StockKey{back, other}, stockT0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("Restock of an available key = %v, want ErrInvalidTransition", err)
	}
	if err := repo.Restock(t.Context(), "A", "item-2", []domain.StockKey{back}, stockT0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("Restock for another item = %v, want ErrInvalidTransition", err)
	}
	if err := repo.Restock(t.Context(), "B", "item-1", []domain.StockKey{back}, stockT0); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Restock under another sku = %v, want ErrNotFound", err)
	}
	wantCounts(t, repo, "A", domain.StockCounts{Available: 1, Assigned: 2})
	if err := repo.Restock(t.Context(), "A", "item-1", []domain.StockKey{back}, stockT0); err != nil {
		t.Fatal(err)
	}
	wantCounts(t, repo, "A", domain.StockCounts{Available: 2, Assigned: 1})
	addStock(t, repo, 0, stockKey("A", 1))
	again, err := repo.Claim(t.Context(), "A", "item-9", 2)
	if err != nil || len(again) != 2 {
		t.Fatalf("Claim after the restock = %+v, %v", again, err)
	}
	found := false
	for _, k := range again {
		if k.ID == back.ID {
			found = string(k.Sealed) == "resealed-1"
		}
	}
	if !found {
		t.Fatalf("the restocked key %s is not claimed again with its new ciphertext: %+v", back.ID, again)
	}
	if err := repo.Restock(t.Context(), "A", "item-1", []domain.StockKey{back}, stockT0); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("a second Restock = %v, want ErrInvalidTransition", err)
	}
}
