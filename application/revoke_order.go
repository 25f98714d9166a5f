package application

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// RevokeOrder destroys an order's keys by crypto-shredding: the wrapped data
// key is deleted (after which the ciphertext opens nowhere it lives now; a
// backup taken before still holds both until a key rotation raises the
// vault's minimum version past it), the ciphertext is deleted, and every
// link is revoked.
type RevokeOrder struct {
	tx     ports.Transactor
	orders ports.OrderRepository
	links  ports.DeliveryLinkRepository
	keys   envelope
	audit  ports.AuditLog
	clock  ports.Clock
	log    *slog.Logger
}

// NewRevokeOrder wires RevokeOrder; it panics when a dependency is nil.
func NewRevokeOrder(tx ports.Transactor, orders ports.OrderRepository, links ports.DeliveryLinkRepository, dataKeys ports.DataKeyRepository, vault ports.KeyVault, blobs ports.BlobStore, audit ports.AuditLog, clock ports.Clock, log *slog.Logger) RevokeOrder {
	require("RevokeOrder", "tx", tx, "orders", orders, "links", links, "dataKeys", dataKeys, "vault", vault, "blobs", blobs, "audit", audit, "clock", clock, "log", log)
	return RevokeOrder{tx: tx, orders: orders, links: links, keys: envelope{dataKeys: dataKeys, vault: vault, blobs: blobs}, audit: audit, clock: clock, log: log}
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order has no keys to revoke. Revoking a revoked order finishes any
// shredding a crash interrupted.
func (h RevokeOrder) Handle(ctx context.Context, orderID, reason, actor string) (*domain.Order, error) {
	var (
		o       *domain.Order
		revoked bool // by this call: a re-run only finishes the shredding
	)
	// The revoke, the destruction of the data key (after which no copy of
	// the ciphertext opens), the links and the audit record commit together.
	err := h.tx.Atomically(ctx, func(ctx context.Context) error {
		revoked = false
		var err error
		o, err = h.orders.Update(ctx, orderID, func(o *domain.Order) error {
			if o.Status() == domain.StatusRevoked {
				return nil
			}
			revoked = true
			return o.Revoke(reason, h.clock.Now())
		})
		if err != nil || !revoked {
			return err
		}
		if err := h.keys.dataKeys.Delete(ctx, orderID); err != nil {
			return fmt.Errorf("destroy data key: %w", err)
		}
		links, err := revokeLinks(ctx, h.links, orderID, "", h.clock.Now())
		if err != nil {
			return err
		}
		if _, err := h.audit.Append(ctx, actor, AuditOrderRevoked, orderID, map[string]string{
			"reason": reason, "ciphertexts": fmt.Sprint(len(orderBlobRefs(o))), "links_revoked": fmt.Sprint(links),
		}); err != nil {
			return fmt.Errorf("audit revoke: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The ciphertext may live outside the database (S3): deleted after the
	// commit, and again by any re-run, so a crash here is finished later.
	if _, err := h.keys.shred(ctx, o); err != nil {
		return nil, err
	}
	if revoked {
		h.log.InfoContext(ctx, "order revoked", "order_id", orderID, "reason", reason)
	}
	return o, nil
}
