package domain

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// TokenHash is the SHA-256 of a secret token. Only hashes are stored.
type TokenHash [32]byte

// HashToken hashes a delivery or access token; it cannot fail.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// DeliveryLink grants a limited number of reveals of an order's keys until
// it expires or is revoked.
type DeliveryLink struct {
	id          string
	orderID     string
	tokenHash   TokenHash
	createdAt   time.Time
	expiresAt   time.Time
	maxReveals  int
	revealsUsed int
	revokedAt   *time.Time
}

// NewDeliveryLink validates a link that expires ttl after now. It returns
// ErrInvalidLink when the id or order id is empty, or the ttl or reveal
// limit is not positive.
func NewDeliveryLink(id, orderID string, tokenHash TokenHash, now time.Time, ttl time.Duration, maxReveals int) (*DeliveryLink, error) {
	if id == "" || orderID == "" {
		return nil, fmt.Errorf("%w: link needs an id and an order", ErrInvalidLink)
	}
	if ttl <= 0 || maxReveals < 1 {
		return nil, fmt.Errorf("%w: link needs a positive ttl and reveal limit", ErrInvalidLink)
	}
	return &DeliveryLink{id: id, orderID: orderID, tokenHash: tokenHash, createdAt: now, expiresAt: now.Add(ttl), maxReveals: maxReveals}, nil
}

// DeliveryLinkSnapshot carries a link's stored fields.
type DeliveryLinkSnapshot struct {
	ID          string
	OrderID     string
	TokenHash   TokenHash
	CreatedAt   time.Time
	ExpiresAt   time.Time
	MaxReveals  int
	RevealsUsed int
	RevokedAt   *time.Time
}

// UnmarshalDeliveryLink rehydrates a stored link without re-validating it;
// it cannot fail.
func UnmarshalDeliveryLink(s DeliveryLinkSnapshot) *DeliveryLink {
	return &DeliveryLink{
		id: s.ID, orderID: s.OrderID, tokenHash: s.TokenHash, createdAt: s.CreatedAt,
		expiresAt: s.ExpiresAt, maxReveals: s.MaxReveals, revealsUsed: s.RevealsUsed, revokedAt: s.RevokedAt,
	}
}

// Snapshot returns the link's fields for storage.
func (l *DeliveryLink) Snapshot() DeliveryLinkSnapshot {
	return DeliveryLinkSnapshot{
		ID: l.id, OrderID: l.orderID, TokenHash: l.tokenHash, CreatedAt: l.createdAt,
		ExpiresAt: l.expiresAt, MaxReveals: l.maxReveals, RevealsUsed: l.revealsUsed, RevokedAt: l.revokedAt,
	}
}

// ID returns the link's id.
func (l *DeliveryLink) ID() string { return l.id }

// OrderID returns the id of the order whose keys the link reveals.
func (l *DeliveryLink) OrderID() string { return l.orderID }

// TokenHash returns the hash of the link's token.
func (l *DeliveryLink) TokenHash() TokenHash { return l.tokenHash }

// ExpiresAt returns the first instant at which the link no longer reveals.
func (l *DeliveryLink) ExpiresAt() time.Time { return l.expiresAt }

// CreatedAt returns when the link was issued.
func (l *DeliveryLink) CreatedAt() time.Time { return l.createdAt }

// MaxReveals returns how many reveals the link allows in all.
func (l *DeliveryLink) MaxReveals() int { return l.maxReveals }

// RevealsUsed returns how many reveals have been consumed.
func (l *DeliveryLink) RevealsUsed() int { return l.revealsUsed }

// Revoked reports whether the link was revoked.
func (l *DeliveryLink) Revoked() bool { return l.revokedAt != nil }

// RevealsLeft returns how many reveals remain.
func (l *DeliveryLink) RevealsLeft() int { return l.maxReveals - l.revealsUsed }

// CanReveal returns ErrLinkRevoked, ErrLinkExpired or ErrLinkExhausted when
// the link may not reveal at now.
func (l *DeliveryLink) CanReveal(now time.Time) error {
	switch {
	case l.revokedAt != nil:
		return ErrLinkRevoked
	case !now.Before(l.expiresAt):
		return ErrLinkExpired
	case l.revealsUsed >= l.maxReveals:
		return ErrLinkExhausted
	}
	return nil
}

// Reveal consumes one reveal and reports whether it was the first. It
// returns CanReveal's errors, consuming nothing.
func (l *DeliveryLink) Reveal(now time.Time) (first bool, err error) {
	if err := l.CanReveal(now); err != nil {
		return false, err
	}
	l.revealsUsed++
	return l.revealsUsed == 1, nil
}

// Revoke ends the link; revoking twice keeps the first time. It cannot
// fail.
func (l *DeliveryLink) Revoke(now time.Time) {
	if l.revokedAt == nil {
		t := now
		l.revokedAt = &t
	}
}
