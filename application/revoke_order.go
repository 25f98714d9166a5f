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
	Orders   ports.OrderRepository
	Links    ports.DeliveryLinkRepository
	DataKeys ports.DataKeyRepository
	Blobs    ports.BlobStore
	Audit    ports.AuditLog
	Clock    ports.Clock
	Log      *slog.Logger
}

// Handle returns domain.ErrNotFound or domain.ErrInvalidTransition when the
// order has no keys to revoke. Revoking a revoked order finishes any
// shredding a crash interrupted.
func (h RevokeOrder) Handle(ctx context.Context, orderID, reason, actor string) (*domain.Order, error) {
	o, err := h.Orders.Update(ctx, orderID, func(o *domain.Order) error {
		if o.Status() == domain.StatusRevoked {
			return nil
		}
		return o.Revoke(reason, h.Clock.Now())
	})
	if err != nil {
		return nil, err
	}
	// The order is revoked first, so a failure below leaves it revoked and a
	// retry of this use case completes the shredding.
	if err := h.DataKeys.Delete(ctx, orderID); err != nil {
		return nil, fmt.Errorf("destroy data key: %w", err)
	}
	// Every ref fulfilment may have written, derived from the items: the
	// order forgets its sealed keys when revoked, and a re-run after a
	// crash must still find them.
	var refs []string
	for _, it := range o.Items() {
		for slot := range it.Quantity() {
			refs = append(refs, blobRef(orderID, it.ID(), slot))
		}
	}
	if err := h.Blobs.Delete(ctx, refs...); err != nil {
		return nil, fmt.Errorf("delete ciphertext: %w", err)
	}
	revoked, err := revokeLinks(ctx, h.Links, orderID, "", h.Clock.Now())
	if err != nil {
		return nil, err
	}
	if _, err := h.Audit.Append(ctx, actor, AuditOrderRevoked, orderID, map[string]string{
		"reason": reason, "ciphertexts_deleted": fmt.Sprint(len(refs)), "links_revoked": fmt.Sprint(revoked),
	}); err != nil {
		return nil, fmt.Errorf("audit revoke: %w", err)
	}
	h.Log.InfoContext(ctx, "order revoked", "order_id", orderID, "reason", reason)
	return o, nil
}
