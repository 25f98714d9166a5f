package domain

import (
	"errors"
	"fmt"
	"time"
)

// Errors of a customer's access to their orders. One error stands for an
// unknown, expired and used sign-in link alike: which of them it was tells
// a guesser nothing it should learn.
var (
	// ErrSignInLinkInvalid: the sign-in link is unknown, expired or used.
	ErrSignInLinkInvalid = errors.New("sign-in link is unknown, expired or already used")
	// ErrCustomerSessionInvalid: the customer's access token is malformed,
	// forged or expired.
	ErrCustomerSessionInvalid = errors.New("customer session is invalid or expired")
)

// CustomerLink lets whoever reads an address's mail sign in once, before it
// expires, and see that address's orders. Only the hash of its token is
// kept.
type CustomerLink struct {
	id        string
	email     Email
	tokenHash TokenHash
	createdAt time.Time
	expiresAt time.Time
	usedAt    *time.Time
}

// NewCustomerLink validates a sign-in link for email that expires ttl after
// now; ErrInvalidLink when the id or address is missing or ttl is not
// positive.
func NewCustomerLink(id string, email Email, tokenHash TokenHash, now time.Time, ttl time.Duration) (*CustomerLink, error) {
	if id == "" || email.String() == "" {
		return nil, fmt.Errorf("%w: sign-in link needs an id and an address", ErrInvalidLink)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("%w: sign-in link needs a positive ttl", ErrInvalidLink)
	}
	return &CustomerLink{id: id, email: email, tokenHash: tokenHash, createdAt: now, expiresAt: now.Add(ttl)}, nil
}

// CustomerLinkSnapshot carries a sign-in link's stored fields.
type CustomerLinkSnapshot struct {
	ID        string
	Email     Email
	TokenHash TokenHash
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    *time.Time
}

// UnmarshalCustomerLink rehydrates a stored link; it cannot fail.
func UnmarshalCustomerLink(s CustomerLinkSnapshot) *CustomerLink {
	return &CustomerLink{id: s.ID, email: s.Email, tokenHash: s.TokenHash, createdAt: s.CreatedAt, expiresAt: s.ExpiresAt, usedAt: s.UsedAt}
}

// Snapshot returns the link's fields for storage.
func (l *CustomerLink) Snapshot() CustomerLinkSnapshot {
	return CustomerLinkSnapshot{ID: l.id, Email: l.email, TokenHash: l.tokenHash, CreatedAt: l.createdAt, ExpiresAt: l.expiresAt, UsedAt: l.usedAt}
}

// ID returns the link's id.
func (l *CustomerLink) ID() string { return l.id }

// Email returns the address whose orders the link shows.
func (l *CustomerLink) Email() Email { return l.email }

// TokenHash returns the hash of the link's token.
func (l *CustomerLink) TokenHash() TokenHash { return l.tokenHash }

// CreatedAt returns when the link was issued.
func (l *CustomerLink) CreatedAt() time.Time { return l.createdAt }

// ExpiresAt returns the first instant at which the link no longer signs in.
func (l *CustomerLink) ExpiresAt() time.Time { return l.expiresAt }

// Used reports whether the link signed someone in.
func (l *CustomerLink) Used() bool { return l.usedAt != nil }

// Use signs in with the link at now, once: ErrSignInLinkInvalid when it was
// used or has expired, changing nothing.
func (l *CustomerLink) Use(now time.Time) error {
	switch {
	case l.usedAt != nil:
		return fmt.Errorf("%w: used", ErrSignInLinkInvalid)
	case !now.Before(l.expiresAt):
		return fmt.Errorf("%w: expired", ErrSignInLinkInvalid)
	}
	t := now
	l.usedAt = &t
	return nil
}

// EventCustomerAccessRequested: someone asked for a sign-in link to an
// address's orders. It is recorded alike for every address; whether a link
// is emailed is decided later, apart from the request.
const EventCustomerAccessRequested = "customer.access_requested"

// CustomerEventNames lists the events of customers' access (the topics they
// travel on), apart from the order events.
var CustomerEventNames = []string{EventCustomerAccessRequested}

// CustomerAccessRequest is a request for a sign-in link to an address's
// orders, as typed by whoever asked: it holds no token, and says nothing of
// whether the address has orders.
type CustomerAccessRequest struct {
	ID          string
	Email       Email
	RequestedAt time.Time
}

// NewCustomerAccessRequest validates a request; ErrInvalidLink when the id
// or address is missing.
func NewCustomerAccessRequest(id string, email Email, now time.Time) (CustomerAccessRequest, error) {
	if id == "" || email.String() == "" {
		return CustomerAccessRequest{}, fmt.Errorf("%w: access request needs an id and an address", ErrInvalidLink)
	}
	return CustomerAccessRequest{ID: id, Email: email, RequestedAt: now}, nil
}

// Event is the event that carries the request to the worker that answers
// it: the request's id stands where an order event has the order's.
func (r CustomerAccessRequest) Event() OrderEvent {
	return OrderEvent{Name: EventCustomerAccessRequested, OrderID: r.ID, At: r.RequestedAt}
}
