package domain

import "sort"

// StockDuplicate is a stock key found to be another key again (one
// canonical hash): it is withdrawn, never deleted, and points at the copy
// kept. Key.Hash is its canonical hash.
type StockDuplicate struct {
	Key StockKey
	Of  StockKey
}

// StockRehashPlan is what a rehash of keys hashed in their old form does:
// Rehashed keys take their canonical hash; Duplicates and Refused keys (a
// text the canonical form refuses) are withdrawn and held: off sale, with
// their ciphertext kept for an operator, since a rehash decides on its own
// and a key the shop paid for is never destroyed by it.
type StockRehashPlan struct {
	Rehashed   []StockKey
	Duplicates []StockDuplicate
	Refused    []StockKey
}

// PlanStockRehash decides, for available keys of the old hash form that
// now carry their canonical Hash (pending) and the keys stored under any of
// those hashes already (holders), which copy of each key stays. A holder
// sold or withdrawn stays known and every pending copy of it is a
// duplicate (it must not be sold again); otherwise the oldest available
// copy stays on sale (created first, then the smaller id), whether pending
// or a holder, and every other copy is a duplicate of it.
func PlanStockRehash(pending, holders []StockKey) StockRehashPlan {
	byHash := map[string][]StockKey{}
	var order []string
	add := func(k StockKey) {
		h := string(k.Hash)
		if _, ok := byHash[h]; !ok {
			order = append(order, h)
		}
		byHash[h] = append(byHash[h], k)
	}
	isPending := make(map[StockKeyID]bool, len(pending))
	for _, k := range pending {
		isPending[k.ID] = true
		add(k)
	}
	for _, k := range holders {
		if _, ours := byHash[string(k.Hash)]; ours && !isPending[k.ID] {
			add(k)
		}
	}
	var plan StockRehashPlan
	for _, h := range order {
		copies := byHash[h]
		sort.Slice(copies, func(i, j int) bool { return stockOlder(copies[i], copies[j]) })
		kept := copies[0]
		for _, k := range copies {
			if k.Status != StockAvailable {
				kept = k // left the stock: it stays known, the others go
				break
			}
		}
		for _, k := range copies {
			switch {
			case k.ID == kept.ID && isPending[k.ID]:
				plan.Rehashed = append(plan.Rehashed, k)
			case k.ID != kept.ID:
				plan.Duplicates = append(plan.Duplicates, StockDuplicate{Key: k, Of: kept})
			}
		}
	}
	return plan
}

func stockOlder(a, b StockKey) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.Before(b.CreatedAt)
	}
	return a.ID < b.ID
}
