package application

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of admin keys and admin requests.
const (
	AuditAdminKeyCreated  = "admin_key.created"
	AuditAdminKeyRevoked  = "admin_key.revoked"
	AuditAdminRequest     = "admin.request"     // an authenticated admin request and its status
	AuditAdminDenied      = "admin.denied"      // a key whose role does not allow the operation
	AuditAdminUnknownKey  = "admin.unknown_key" // a missing, unknown or revoked key
	ActorOperatorCLI      = "operator:cli"
	ActorAnonymous        = "anonymous"
	adminKeySecretBytes   = 32 // 256 bits
	defaultAdminKeyPrefix = "key-"
)

// AdminPrincipal is who an admin request acts as: a key's id, name and
// role, never the key.
type AdminPrincipal struct {
	ID   string
	Name string
	Role domain.AdminRole
}

// Actor names the principal in the audit log ("admin:<key id>").
func (p AdminPrincipal) Actor() string { return "admin:" + p.ID }

// AuthenticateAdminKey finds the stored, unrevoked admin key a bearer key
// opens.
type AuthenticateAdminKey struct {
	keys ports.AdminKeys
}

// NewAuthenticateAdminKey wires AuthenticateAdminKey; it panics when a
// dependency is nil.
func NewAuthenticateAdminKey(keys ports.AdminKeys) AuthenticateAdminKey {
	require("AuthenticateAdminKey", "adminKeys", keys)
	return AuthenticateAdminKey{keys: keys}
}

// Handle returns the principal of secret. It returns domain.ErrNotFound
// for an unknown or revoked key (the caller cannot tell which), and the
// store's error otherwise. Keys are looked up by their SHA-256: a 256-bit
// random key cannot be guessed from how long a lookup takes.
func (h AuthenticateAdminKey) Handle(ctx context.Context, secret string) (AdminPrincipal, error) {
	k, err := h.keys.GetByHash(ctx, domain.HashToken(secret))
	if err != nil {
		return AdminPrincipal{}, err
	}
	if !k.Active() {
		return AdminPrincipal{}, fmt.Errorf("%w: admin key %s is revoked", domain.ErrNotFound, k.ID())
	}
	return AdminPrincipal{ID: k.ID(), Name: k.Name(), Role: k.Role()}, nil
}

// CreatedAdminKey is a new admin key and its secret, shown this once.
type CreatedAdminKey struct {
	Key    *domain.AdminKey
	Secret string
}

// CreateAdminKey makes a named admin key with a role.
type CreateAdminKey struct {
	keys  ports.AdminKeys
	audit ports.AuditLog
	clock ports.Clock
	ids   ports.IDs
}

// NewCreateAdminKey wires CreateAdminKey; it panics when a dependency is nil.
func NewCreateAdminKey(keys ports.AdminKeys, audit ports.AuditLog, clock ports.Clock, ids ports.IDs) CreateAdminKey {
	require("CreateAdminKey", "adminKeys", keys, "audit", audit, "clock", clock, "ids", ids)
	return CreateAdminKey{keys: keys, audit: audit, clock: clock, ids: ids}
}

// Handle makes a 256-bit random key (base64url, no padding), stores only
// its hash and audits the creation as actor. An empty name becomes
// "key-" and the start of the id. It returns domain.ErrInvalidAdminKey for
// an unknown role or an invalid name.
func (h CreateAdminKey) Handle(ctx context.Context, role, name, actor string) (CreatedAdminKey, error) {
	r, err := domain.ParseAdminRole(role)
	if err != nil {
		return CreatedAdminKey{}, err
	}
	raw := make([]byte, adminKeySecretBytes)
	if _, err := rand.Read(raw); err != nil {
		return CreatedAdminKey{}, fmt.Errorf("create admin key: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(raw)
	id := h.ids.NewID()
	if name == "" {
		name = defaultAdminKeyPrefix + id[:min(8, len(id))]
	}
	k, err := domain.NewAdminKey(id, name, r, domain.HashToken(secret), h.clock.Now())
	if err != nil {
		return CreatedAdminKey{}, err
	}
	if err := h.keys.Create(ctx, k); err != nil {
		return CreatedAdminKey{}, fmt.Errorf("create admin key: %w", err)
	}
	// After the key is stored: a failed append leaves a key the log does
	// not name, which the error reports; the key is then revoked below.
	if _, err := h.audit.Append(ctx, actor, AuditAdminKeyCreated, k.ID(), map[string]string{"name": k.Name(), "role": k.Role().String()}); err != nil {
		_, rerr := h.keys.Update(context.WithoutCancel(ctx), k.ID(), func(k *domain.AdminKey) error { return k.Revoke(h.clock.Now()) })
		return CreatedAdminKey{}, errors.Join(fmt.Errorf("audit admin key %s (revoked again): %w", k.ID(), err), rerr)
	}
	return CreatedAdminKey{Key: k, Secret: secret}, nil
}

// ListAdminKeys lists the admin keys (never a key itself).
type ListAdminKeys struct{ keys ports.AdminKeys }

// NewListAdminKeys wires ListAdminKeys; it panics when a dependency is nil.
func NewListAdminKeys(keys ports.AdminKeys) ListAdminKeys {
	require("ListAdminKeys", "adminKeys", keys)
	return ListAdminKeys{keys: keys}
}

// Handle returns every key, revoked ones included, oldest first.
func (h ListAdminKeys) Handle(ctx context.Context) ([]*domain.AdminKey, error) {
	return h.keys.List(ctx)
}

// RevokeAdminKey stops an admin key from authenticating.
type RevokeAdminKey struct {
	keys  ports.AdminKeys
	audit ports.AuditLog
	clock ports.Clock
}

// NewRevokeAdminKey wires RevokeAdminKey; it panics when a dependency is nil.
func NewRevokeAdminKey(keys ports.AdminKeys, audit ports.AuditLog, clock ports.Clock) RevokeAdminKey {
	require("RevokeAdminKey", "adminKeys", keys, "audit", audit, "clock", clock)
	return RevokeAdminKey{keys: keys, audit: audit, clock: clock}
}

// Handle revokes the key with id and audits it as actor. It returns
// domain.ErrNotFound for an unknown id and domain.ErrAdminKeyRevoked for
// a key revoked already.
func (h RevokeAdminKey) Handle(ctx context.Context, id, actor string) (*domain.AdminKey, error) {
	k, err := h.keys.Update(ctx, id, func(k *domain.AdminKey) error { return k.Revoke(h.clock.Now()) })
	if err != nil {
		return nil, fmt.Errorf("revoke admin key %s: %w", id, err)
	}
	// The key is revoked whatever happens next; the error says the log
	// missed it.
	if _, err := h.audit.Append(ctx, actor, AuditAdminKeyRevoked, k.ID(), map[string]string{"name": k.Name(), "role": k.Role().String()}); err != nil {
		return k, fmt.Errorf("audit revoke of admin key %s: %w", id, err)
	}
	return k, nil
}
