package domain

import (
	"fmt"
	"time"
)

// RevealAccess is who asked for a reveal, as the client presented itself.
type RevealAccess struct {
	IP        string
	UserAgent string
}

// KeyRevelation is the record of one item's keys being shown through a
// delivery link: which order, item and link, to whom, from where, when,
// and whether it was the link's first reveal. It never changes once made,
// so it is passed by value; its fields are read through its methods.
type KeyRevelation struct {
	id      string
	orderID string
	itemID  string
	linkID  string
	email   Email
	access  RevealAccess
	at      time.Time
	first   bool
}

// NewKeyRevelation records that the keys of item itemID of order o were
// shown through link l at at; first says whether that reveal was the
// link's first. It returns ErrInvalidRevelation when the id or time is
// missing, o or l is nil, l is not o's link, or o has no item itemID.
func NewKeyRevelation(id string, o *Order, itemID string, l *DeliveryLink, access RevealAccess, at time.Time, first bool) (KeyRevelation, error) {
	switch {
	case id == "":
		return KeyRevelation{}, fmt.Errorf("%w: no id", ErrInvalidRevelation)
	case o == nil || l == nil:
		return KeyRevelation{}, fmt.Errorf("%w: %s has no order or no link", ErrInvalidRevelation, id)
	case l.OrderID() != o.ID():
		return KeyRevelation{}, fmt.Errorf("%w: link %s is not of order %s", ErrInvalidRevelation, l.ID(), o.ID())
	case at.IsZero():
		return KeyRevelation{}, fmt.Errorf("%w: %s has no time", ErrInvalidRevelation, id)
	}
	if _, err := o.Item(itemID); err != nil {
		return KeyRevelation{}, fmt.Errorf("%w: %v", ErrInvalidRevelation, err)
	}
	return KeyRevelation{
		id: id, orderID: o.ID(), itemID: itemID, linkID: l.ID(), email: o.Email(),
		access: access, at: at, first: first,
	}, nil
}

// KeyRevelationSnapshot carries a revelation's stored fields.
type KeyRevelationSnapshot struct {
	ID        string
	OrderID   string
	ItemID    string
	LinkID    string
	Email     Email
	IP        string
	UserAgent string
	At        time.Time
	First     bool
}

// UnmarshalKeyRevelation rehydrates a stored revelation. It returns
// ErrInvalidRevelation only for corrupt data: a missing id, order, item,
// link, email or time.
func UnmarshalKeyRevelation(s KeyRevelationSnapshot) (KeyRevelation, error) {
	if s.ID == "" || s.OrderID == "" || s.ItemID == "" || s.LinkID == "" || s.Email == (Email{}) || s.At.IsZero() {
		return KeyRevelation{}, fmt.Errorf("%w: corrupt revelation %q", ErrInvalidRevelation, s.ID)
	}
	return KeyRevelation{
		id: s.ID, orderID: s.OrderID, itemID: s.ItemID, linkID: s.LinkID, email: s.Email,
		access: RevealAccess{IP: s.IP, UserAgent: s.UserAgent}, at: s.At, first: s.First,
	}, nil
}

// Snapshot returns the revelation's fields for storage.
func (r KeyRevelation) Snapshot() KeyRevelationSnapshot {
	return KeyRevelationSnapshot{
		ID: r.id, OrderID: r.orderID, ItemID: r.itemID, LinkID: r.linkID, Email: r.email,
		IP: r.access.IP, UserAgent: r.access.UserAgent, At: r.at, First: r.first,
	}
}

// ID returns the revelation's id.
func (r KeyRevelation) ID() string { return r.id }

// OrderID returns the id of the order whose keys were shown.
func (r KeyRevelation) OrderID() string { return r.orderID }

// ItemID returns the id of the item whose keys were shown.
func (r KeyRevelation) ItemID() string { return r.itemID }

// LinkID returns the id of the delivery link that showed them.
func (r KeyRevelation) LinkID() string { return r.linkID }

// Email returns the order's email address when the keys were shown.
func (r KeyRevelation) Email() Email { return r.email }

// Access returns the client's address and user agent.
func (r KeyRevelation) Access() RevealAccess { return r.access }

// At returns when the keys were shown.
func (r KeyRevelation) At() time.Time { return r.at }

// First reports whether this was the link's first reveal.
func (r KeyRevelation) First() bool { return r.first }
