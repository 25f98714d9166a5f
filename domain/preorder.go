package domain

import (
	"fmt"
	"strings"
	"time"
)

// DateLayout is how a release date is written: a day, YYYY-MM-DD.
const DateLayout = "2006-01-02"

// ReleaseDay returns the UTC day of t, at midnight: a release date is a
// day, whatever time of it a supplier names. The zero time stays zero.
func ReleaseDay(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// PreorderReason is the reason EventOrderPreordered carries: the item that
// waits and its release date.
func PreorderReason(itemID string, release time.Time) string {
	return itemID + " " + ReleaseDay(release).Format(DateLayout)
}

// ParsePreorderReason reads PreorderReason back; false when r is not one.
func ParsePreorderReason(r string) (itemID string, release time.Time, ok bool) {
	itemID, date, found := strings.Cut(r, " ")
	if !found || itemID == "" {
		return "", time.Time{}, false
	}
	release, err := time.Parse(DateLayout, date)
	if err != nil {
		return "", time.Time{}, false
	}
	return itemID, release, true
}

// ReleaseDate returns the day a pre-ordered item's keys are released, the
// zero time for an item that is no pre-order.
func (i *OrderItem) ReleaseDate() time.Time { return i.releaseDate }

// awaitRelease moves a purchased item to awaiting_release until release;
// an item awaiting already takes the new date. It reports whether the item
// was not awaiting before.
func (i *OrderItem) awaitRelease(release time.Time) (bool, error) {
	if release.IsZero() {
		return false, fmt.Errorf("%w: item %s: a pre-order needs a release date", ErrInvalidOrder, i.id)
	}
	switch i.status {
	case ItemPurchased:
		i.status, i.releaseDate = ItemAwaitingRelease, ReleaseDay(release)
		return true, nil
	case ItemAwaitingRelease:
		i.releaseDate = ReleaseDay(release)
		return false, nil
	}
	return false, fmt.Errorf("%w: item %s cannot await a release from %s", ErrInvalidTransition, i.id, i.status)
}

// AwaitItemRelease records that a purchased item is a pre-order whose keys
// the supplier releases on release (a day): the item waits as
// awaiting_release, and the order stays fulfilling. The first time it
// collects EventOrderPreordered (the customer is told the date); a later
// call with another date moves the date and records it on the timeline;
// the same date again changes nothing. It returns ErrInvalidTransition
// unless the order is fulfilling and the item purchased or awaiting its
// release; ErrInvalidOrder for a zero date; ErrItemNotFound for an unknown
// item.
func (o *Order) AwaitItemRelease(itemID string, release time.Time, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if it.status == ItemAwaitingRelease && it.releaseDate.Equal(ReleaseDay(release)) {
		return nil
	}
	first, err := it.awaitRelease(release)
	if err != nil {
		return err
	}
	day := it.releaseDate.Format(DateLayout)
	o.touch(itemEvent(EventKindItemAwaitingRelease, o.status, it, now, "release_date", day, "supplier_order_id", it.supplierOrderID), now)
	if first {
		o.emit(EventOrderPreordered, now, PreorderReason(it.id, it.releaseDate))
	}
	return nil
}

// AwaitingReleaseUntil returns the latest release date of the order's
// pre-ordered items and true when every item not yet sealed awaits its
// release: the order waits for the supplier's release, not for a person.
// It returns false when an unsealed item is not a pre-order awaiting its
// release, or no item awaits one.
func (o *Order) AwaitingReleaseUntil() (time.Time, bool) {
	var until time.Time
	waiting := false
	for _, it := range o.items {
		switch it.status {
		case ItemSealed:
		case ItemAwaitingRelease:
			waiting = true
			if it.releaseDate.After(until) {
				until = it.releaseDate
			}
		default:
			return time.Time{}, false
		}
	}
	return until, waiting
}
