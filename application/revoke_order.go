package application

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// RevokeOrder destroys an order's keys by crypto-shredding: the wrapped data
// key is deleted (no copy of the ciphertext, backups included, can be opened
// again), the ciphertext is deleted, and every link is revoked.
type RevokeOrder struct {
	orders ports.OrderRepository
	links  ports.DeliveryLinkRepository
	keys   envelope
	audit  ports.AuditLog
	clock  ports.Clock
	log    *slog.Logger
}

// NewRevokeOrder wires RevokeOrder; it panics when a dependency is nil.
func NewRevokeOrder(orders ports.OrderRepository, links ports.DeliveryLinkRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, blobs ports.BlobStore, audit ports.AuditLog, clock ports.Clock, log *slog.Logger) RevokeOrder {
	require("RevokeOrder", "orders", orders, "links", links, "dataKeys", dataKeys, "vault", vault, "blobs", blobs, "audit", audit, "clock", clock, "log", log)
	return RevokeOrder{orders: orders, links: links, keys: envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}, audit: audit, clock: clock, log: log}
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order has no keys to revoke. Revoking a revoked order finishes any
// shredding a crash interrupted.
func (h RevokeOrder) Handle(ctx context.Context, orderID, reason, actor string) (*domain.Order, error) {
	o, err := h.orders.Update(ctx, orderID, func(o *domain.Order) error {
		if o.Status() == domain.StatusRevoked {
			return nil
		}
		return o.Revoke(reason, h.clock.Now())
	})
	if err != nil {
		return nil, err
	}
	// The order is revoked first, so a failure below leaves it revoked and a
	// retry of this use case completes the shredding.
	deleted, err := h.keys.shred(ctx, o)
	if err != nil {
		return nil, err
	}
	revoked, err := revokeLinks(ctx, h.links, orderID, "", h.clock.Now())
	if err != nil {
		return nil, err
	}
	if _, err := h.audit.Append(ctx, actor, AuditOrderRevoked, orderID, map[string]string{
		"reason": reason, "ciphertexts_deleted": fmt.Sprint(deleted), "links_revoked": fmt.Sprint(revoked),
	}); err != nil {
		return nil, fmt.Errorf("audit revoke: %w", err)
	}
	h.log.InfoContext(ctx, "order revoked", "order_id", orderID, "reason", reason)
	return o, nil
}
