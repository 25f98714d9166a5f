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

// FormatDay writes a release day as YYYY-MM-DD (UTC); "" for the zero
// time, a date not known.
func FormatDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(DateLayout)
}

// PreorderReason is the reason EventOrderPreordered carries: the item that
// waits and its release date (the item alone while the date is unknown).
func PreorderReason(itemID string, release time.Time) string {
	if release.IsZero() {
		return itemID
	}
	return itemID + " " + ReleaseDay(release).Format(DateLayout)
}

// ParsePreorderReason reads PreorderReason back (a zero release for an
// unknown date); false when r is not one.
func ParsePreorderReason(r string) (itemID string, release time.Time, ok bool) {
	itemID, date, found := strings.Cut(r, " ")
	if itemID == "" {
		return "", time.Time{}, false
	}
	if !found {
		return itemID, time.Time{}, true
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

// awaitRelease moves a purchased item to awaiting_release until release
// (zero: a date not known yet); an item awaiting already takes the new
// date.
func (i *OrderItem) awaitRelease(release time.Time) error {
	if i.status != ItemPurchased && i.status != ItemAwaitingRelease {
		return fmt.Errorf("%w: item %s cannot await a release from %s", ErrInvalidTransition, i.id, i.status)
	}
	i.status, i.releaseDate = ItemAwaitingRelease, ReleaseDay(release)
	return nil
}

// AwaitItemRelease records that a purchased item is a pre-order whose keys
// the supplier releases on release (a day): the item waits as
// awaiting_release, and the order stays fulfilling. The first time, and
// each time a later call moves the date, it records the date on the
// timeline and collects EventOrderPreordered with it (the customer and
// the shop are told the day); the same date again changes nothing. A zero
// release is a pre-order whose supplier names no date yet: it waits the
// same, its date unknown (the event's reason names the item alone). It
// returns ErrInvalidTransition unless the order is fulfilling and the item
// purchased or awaiting its release; ErrItemNotFound for an unknown item.
func (o *Order) AwaitItemRelease(itemID string, release time.Time, now time.Time) error {
	it, err := o.fulfillingItem(itemID)
	if err != nil {
		return err
	}
	if it.status == ItemAwaitingRelease && it.releaseDate.Equal(ReleaseDay(release)) {
		return nil
	}
	if err := it.awaitRelease(release); err != nil {
		return err
	}
	o.touch(itemEvent(EventKindItemAwaitingRelease, o.status, it, now, "release_date", FormatDay(it.releaseDate), "supplier_order_id", it.supplierOrderID), now)
	o.emit(EventOrderPreordered, now, PreorderReason(it.id, it.releaseDate))
	return nil
}

// AwaitingReleaseUntil returns the earliest release date of the order's
// pre-ordered items that still wait, and true when every item not yet
// sealed awaits its release: the order waits for the supplier's release,
// not for a person, until the first of those days; from it on, a look may
// find keys. The date is zero when no waiting item has a known one. It
// returns false when an unsealed item is not a pre-order awaiting its
// release, or no item awaits one.
func (o *Order) AwaitingReleaseUntil() (time.Time, bool) {
	var until time.Time
	waiting := false
	for _, it := range o.items {
		switch it.status {
		case ItemSealed:
		case ItemAwaitingRelease:
			waiting = true
			if !it.releaseDate.IsZero() && (until.IsZero() || it.releaseDate.Before(until)) {
				until = it.releaseDate
			}
		default:
			return time.Time{}, false
		}
	}
	return until, waiting
}
