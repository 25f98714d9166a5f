package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

var (
	// ErrInvalidAdminKey: an admin key without an id, with an invalid name
	// or role, or corrupt stored admin-key data.
	ErrInvalidAdminKey = errors.New("invalid admin key")
	// ErrAdminKeyRevoked: the admin key was revoked already.
	ErrAdminKeyRevoked = errors.New("admin key revoked")
)

// AdminRole is what an admin key may do. The zero value is not a role.
type AdminRole struct{ s string }

// The admin roles: admin may do everything; support may read orders,
// timelines and the audit log and re-send delivery links.
var (
	RoleAdmin   = AdminRole{"admin"}
	RoleSupport = AdminRole{"support"}
)

// ParseAdminRole returns the role named s, or ErrInvalidAdminKey.
func ParseAdminRole(s string) (AdminRole, error) {
	switch s {
	case RoleAdmin.s:
		return RoleAdmin, nil
	case RoleSupport.s:
		return RoleSupport, nil
	}
	return AdminRole{}, fmt.Errorf("%w: unknown role %q (admin or support)", ErrInvalidAdminKey, s)
}

// String names the role ("admin", "support"; "" for the zero value).
func (r AdminRole) String() string { return r.s }

// AdminKey is a named bearer key of the admin API. Only the hash of the
// key is kept; the key itself is shown once, when it is made.
type AdminKey struct {
	id        string
	name      string
	role      AdminRole
	hash      TokenHash
	createdAt time.Time
	revokedAt *time.Time
}

// maxAdminKeyName bounds a key's name, which the audit log repeats.
const maxAdminKeyName = 64

// NewAdminKey validates a new admin key. It returns ErrInvalidAdminKey for
// an empty id, a zero role, or a name that is empty, longer than 64
// characters or holds anything but letters, digits, '-', '_', '.' and '@'.
func NewAdminKey(id, name string, role AdminRole, hash TokenHash, now time.Time) (*AdminKey, error) {
	if id == "" {
		return nil, fmt.Errorf("%w: an admin key needs an id", ErrInvalidAdminKey)
	}
	if role == (AdminRole{}) {
		return nil, fmt.Errorf("%w: an admin key needs a role", ErrInvalidAdminKey)
	}
	if err := checkAdminKeyName(name); err != nil {
		return nil, err
	}
	return &AdminKey{id: id, name: name, role: role, hash: hash, createdAt: now}, nil
}

func checkAdminKeyName(name string) error {
	if name == "" || len(name) > maxAdminKeyName {
		return fmt.Errorf("%w: a name of 1 to %d characters is needed", ErrInvalidAdminKey, maxAdminKeyName)
	}
	bad := strings.IndexFunc(name, func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.@", r))
	})
	if bad >= 0 {
		return fmt.Errorf("%w: name %q: only letters, digits, '-', '_', '.' and '@'", ErrInvalidAdminKey, name)
	}
	return nil
}

// Revoke stops the key from authenticating from now on; it returns
// ErrAdminKeyRevoked when it was revoked already.
func (k *AdminKey) Revoke(now time.Time) error {
	if k.revokedAt != nil {
		return fmt.Errorf("%w: %s", ErrAdminKeyRevoked, k.id)
	}
	k.revokedAt = &now
	return nil
}

// Active reports whether the key may authenticate.
func (k *AdminKey) Active() bool { return k.revokedAt == nil }

// ID returns the key's id (never the key).
func (k *AdminKey) ID() string { return k.id }

// Name returns the operator-given name.
func (k *AdminKey) Name() string { return k.name }

// Role returns what the key may do.
func (k *AdminKey) Role() AdminRole { return k.role }

// Hash returns the SHA-256 of the key.
func (k *AdminKey) Hash() TokenHash { return k.hash }

// CreatedAt returns when the key was made.
func (k *AdminKey) CreatedAt() time.Time { return k.createdAt }

// RevokedAt returns when the key was revoked, or nil.
func (k *AdminKey) RevokedAt() *time.Time {
	if k.revokedAt == nil {
		return nil
	}
	t := *k.revokedAt
	return &t
}

// AdminKeySnapshot carries an admin key's stored fields.
type AdminKeySnapshot struct {
	ID        string
	Name      string
	Role      string
	Hash      TokenHash
	CreatedAt time.Time
	RevokedAt *time.Time
}

// Snapshot returns the key's fields for storage.
func (k *AdminKey) Snapshot() AdminKeySnapshot {
	return AdminKeySnapshot{ID: k.id, Name: k.name, Role: k.role.s, Hash: k.hash, CreatedAt: k.createdAt, RevokedAt: k.RevokedAt()}
}

// UnmarshalAdminKey rehydrates a stored key; it returns ErrInvalidAdminKey
// for corrupt data (an unknown role, a missing id or name).
func UnmarshalAdminKey(s AdminKeySnapshot) (*AdminKey, error) {
	role, err := ParseAdminRole(s.Role)
	if err != nil {
		return nil, err
	}
	k, err := NewAdminKey(s.ID, s.Name, role, s.Hash, s.CreatedAt)
	if err != nil {
		return nil, err
	}
	if s.RevokedAt != nil {
		t := *s.RevokedAt
		k.revokedAt = &t
	}
	return k, nil
}
