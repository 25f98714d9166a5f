package domain

import (
	"crypto/sha256"
	"fmt"
	"time"
)

// TokenHash is the SHA-256 of a secret token. Only hashes are stored.
type TokenHash [32]byte

// HashToken hashes a delivery or access token.
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

// NewDeliveryLink validates a link; it returns ErrInvalidOrder when the ttl
// or reveal limit is not positive.
func NewDeliveryLink(id, orderID string, tokenHash TokenHash, now time.Time, ttl time.Duration, maxReveals int) (*DeliveryLink, error) {
	if id == "" || orderID == "" {
		return nil, fmt.Errorf("%w: link needs an id and an order", ErrInvalidOrder)
	}
	if ttl <= 0 || maxReveals < 1 {
		return nil, fmt.Errorf("%w: link needs a positive ttl and reveal limit", ErrInvalidOrder)
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

// UnmarshalDeliveryLink rehydrates a stored link.
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

func (l *DeliveryLink) ID() string           { return l.id }
func (l *DeliveryLink) OrderID() string      { return l.orderID }
func (l *DeliveryLink) TokenHash() TokenHash { return l.tokenHash }
func (l *DeliveryLink) ExpiresAt() time.Time { return l.expiresAt }
func (l *DeliveryLink) CreatedAt() time.Time { return l.createdAt }
func (l *DeliveryLink) MaxReveals() int      { return l.maxReveals }
func (l *DeliveryLink) RevealsUsed() int     { return l.revealsUsed }
func (l *DeliveryLink) Revoked() bool        { return l.revokedAt != nil }

// RevealsLeft is how many reveals remain.
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

// Reveal consumes one reveal and reports whether it was the first; it
// returns CanReveal's errors.
func (l *DeliveryLink) Reveal(now time.Time) (first bool, err error) {
	if err := l.CanReveal(now); err != nil {
		return false, err
	}
	l.revealsUsed++
	return l.revealsUsed == 1, nil
}

// UndoReveal gives back a reveal consumed by a request that then failed
// before showing the keys.
func (l *DeliveryLink) UndoReveal() {
	if l.revealsUsed > 0 {
		l.revealsUsed--
	}
}

// Revoke ends the link; revoking twice keeps the first time.
func (l *DeliveryLink) Revoke(now time.Time) {
	if l.revokedAt == nil {
		t := now
		l.revokedAt = &t
	}
}

// KeyRevelation is the audit record of one item's keys being shown.
type KeyRevelation struct {
	ID        string
	OrderID   string
	ItemID    string
	LinkID    string
	Email     string
	IP        string
	UserAgent string
	At        time.Time
	First     bool
}
