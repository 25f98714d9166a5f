package application_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// putRecorder is a blob store outside the unit of work, as S3 is: a
// rollback keeps what it stored. It records the refs put.
type putRecorder struct {
	ports.BlobStore
	mu   sync.Mutex
	refs []string
}

func (p *putRecorder) Put(ctx context.Context, ref string, data []byte) error {
	p.mu.Lock()
	p.refs = append(p.refs, ref)
	p.mu.Unlock()
	return p.BlobStore.Put(ctx, ref, data)
}

func (p *putRecorder) put() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.refs...)
}

// auditFailingOnce fails the next Append of action, once armed: the last
// write of a unit of work, so the store rolls back all that came before.
type auditFailingOnce struct {
	ports.AuditLog
	action string
	armed  atomic.Bool
}

func (a *auditFailingOnce) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	if action == a.action && a.armed.CompareAndSwap(true, false) {
		return domain.AuditRecord{}, errors.New("audit append failed (injected)")
	}
	return a.AuditLog.Append(ctx, actor, action, subject, details)
}

// TestOwnStockRollbackLeavesBlobUnreferenced pins what ports.Transactor
// lets a unit of work rely on for blobs: taking a key from stock writes
// its blob inside the unit of work, on a blob store that does not roll
// back. When the unit of work rolls back after the write (its audit record
// fails) and another order takes the key then, the item references no
// blob, and the retry seals another key under the same ref, overwriting
// the orphan: each order reveals its own key.
func TestOwnStockRollbackLeavesBlobUnreferenced(t *testing.T) {
	t.Parallel()
	blobs := &putRecorder{BlobStore: memory.NewBlobs()}
	var audit *auditFailingOnce
	w := newPGStockWorld(t, func(d *application.Deps) {
		d.Blobs = blobs
		audit = &auditFailingOnce{AuditLog: d.Audit, action: application.AuditStockAssigned}
		d.Audit = audit
	})
	sku := w.stockProduct(t, domain.SourcingStockOnly)
	ours, err := w.orderPaid(t, sku)
	if err != nil {
		t.Fatal(err)
	}
	audit.armed.Store(true)
	if err := w.app.Commands.FulfilOrder.Handle(t.Context(), ours); err == nil {
		t.Fatal("fulfilment whose unit of work rolled back succeeded")
	}
	if audit.armed.Load() {
		t.Fatal("the unit of work never reached its audit record")
	}
	orphans := blobs.put()
	if len(orphans) == 0 {
		t.Fatal("the rolled-back unit of work wrote no blob: the test no longer covers a write before the rollback")
	}
	o, err := w.orders.Get(t.Context(), ours)
	if err != nil {
		t.Fatal(err)
	}
	if it := o.Items()[0]; it.Status() != domain.ItemPending || len(it.Keys()) != 0 {
		t.Fatalf("after the rollback the item is %s with %d keys, want pending with none", it.Status(), len(it.Keys()))
	}
	// Another order takes a key now: the one our unit of work had claimed
	// and written, since the stock hands out its oldest key first.
	other, err := w.orderPaidAndFulfilled(t, sku)
	if err != nil {
		t.Fatalf("the other order: %v", err)
	}
	revealed := map[string]string{}
	if err := w.app.Commands.DeliverOrder.Handle(t.Context(), other); err != nil {
		t.Fatal(err)
	}
	revealed[other] = revealLast(t, w.app, w.mail)

	if err := w.app.Commands.FulfilOrder.Handle(t.Context(), ours); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if o, err = w.orders.Get(t.Context(), ours); err != nil {
		t.Fatal(err)
	}
	keys := o.Items()[0].Keys()
	if len(keys) != 1 || keys[0].BlobRef != orphans[0] {
		t.Fatalf("sealed keys %+v, want one under the orphan's ref %s", keys, orphans[0])
	}
	if err := w.app.Commands.DeliverOrder.Handle(t.Context(), ours); err != nil {
		t.Fatal(err)
	}
	revealed[ours] = revealLast(t, w.app, w.mail)
	if revealed[ours] == revealed[other] || revealed[ours] == "" {
		t.Fatalf("both orders reveal %q: the orphan blob was not overwritten", revealed[ours])
	}
}
