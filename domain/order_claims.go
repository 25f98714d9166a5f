package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RecordClaimOpened adds a timeline entry for a claim opened on one of the
// order's items and collects EventClaimOpened. It returns
// ErrInvalidTransition unless the order is delivered, ErrItemNotFound for
// an item of another order.
func (o *Order) RecordClaimOpened(claimID, itemID string, now time.Time) error {
	return o.recordClaim(EventKindClaimOpened, EventClaimOpened, claimID, itemID, now)
}

// RecordClaimRejected adds a timeline entry for a claim support rejected
// and collects EventClaimRejected; the errors are RecordClaimOpened's.
func (o *Order) RecordClaimRejected(claimID, itemID string, now time.Time) error {
	return o.recordClaim(EventKindClaimRejected, EventClaimRejected, claimID, itemID, now)
}

func (o *Order) recordClaim(kind EventKind, event, claimID, itemID string, now time.Time) error {
	if o.status != StatusDelivered {
		return fmt.Errorf("%w: order %s is %s, not delivered", ErrInvalidTransition, o.id, o.status)
	}
	it, err := o.Item(itemID)
	if err != nil {
		return err
	}
	o.record(kind, map[string]string{"item_id": it.id, "claim_id": claimID}, now)
	o.emit(event, now, claimID)
	return nil
}

// ReplaceItemKeys carries out an approved claim on an item: the keys the
// customer is shown now are marked bad (they stay sealed, as evidence, and
// are never revealed again) and replacements, sealed by the caller at
// slots no key holds, take their place, as many as were replaced. It
// records a key_replaced entry and collects EventClaimApproved and
// EventKeyReplaced, both with the claim's id as their reason.
//
// It returns ErrInvalidTransition unless the order is delivered and the
// item sealed with keys to replace, ErrItemNotFound for an item of another
// order, and ErrInvalidOrder for a wrong number of replacements or a slot
// already taken.
func (o *Order) ReplaceItemKeys(itemID, claimID string, replacements []SealedKey, now time.Time) error {
	if o.status != StatusDelivered {
		return fmt.Errorf("%w: order %s is %s, not delivered", ErrInvalidTransition, o.id, o.status)
	}
	it, err := o.Item(itemID)
	if err != nil {
		return err
	}
	current := it.CurrentKeys()
	if it.status != ItemSealed || len(current) == 0 {
		return fmt.Errorf("%w: item %s has no keys to replace", ErrInvalidTransition, it.id)
	}
	if claimID == "" {
		return fmt.Errorf("%w: a replacement needs its claim", ErrInvalidOrder)
	}
	if len(replacements) != len(current) {
		return fmt.Errorf("%w: item %s shows %d keys, got %d replacements", ErrInvalidOrder, it.id, len(current), len(replacements))
	}
	taken := map[int]bool{}
	for _, k := range it.keys {
		taken[k.Slot] = true
	}
	for _, r := range replacements {
		if taken[r.Slot] || r.BlobRef == "" {
			return fmt.Errorf("%w: replacement of item %s at slot %d: slot taken or no blob", ErrInvalidOrder, it.id, r.Slot)
		}
		taken[r.Slot] = true
	}
	var badSlots []string
	for i := range it.keys {
		if !it.keys[i].Bad {
			it.keys[i].Bad, it.keys[i].ClaimID = true, claimID
			badSlots = append(badSlots, strconv.Itoa(it.keys[i].Slot))
		}
	}
	for _, r := range replacements {
		r.Bad, r.ClaimID = false, claimID
		it.keys = append(it.keys, r)
	}
	o.record(EventKindKeyReplaced, map[string]string{
		"item_id": it.id, "claim_id": claimID, "bad_slots": strings.Join(badSlots, ","), "replacements": fmt.Sprint(len(replacements)),
	}, now)
	o.emit(EventClaimApproved, now, claimID)
	o.emit(EventKeyReplaced, now, claimID)
	return nil
}
