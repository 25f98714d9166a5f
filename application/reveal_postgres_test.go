package application_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// pgDelivered fulfils and delivers one order of a stocked product in w and
// returns its id and the token of the link mailed.
func pgDelivered(t *testing.T, w *pgStockWorld) (string, string) {
	t.Helper()
	id, err := w.orderPaidAndFulfilled(t, w.stockProduct(t, domain.SourcingStockOnly))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.app.Commands.DeliverOrder.Handle(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	body := w.mail.sent[len(w.mail.sent)-1].Text
	i := strings.Index(body, "/deliver/")
	if i < 0 {
		t.Fatal("no delivery link mailed")
	}
	return id, strings.Fields(body[i+len("/deliver/"):])[0]
}

// revealedKey reveals token and returns its one key and the reveals left.
func revealedKey(t *testing.T, reveal application.RevealKeys, token string) (string, int) {
	t.Helper()
	rv, err := reveal.Handle(t.Context(), application.RevealCommand{Token: token})
	if err != nil {
		t.Fatalf("reveal: %v", err)
	}
	if len(rv.Items) != 1 || len(rv.Items[0].Keys) != 1 {
		t.Fatalf("revealed %+v, want one item with one key", rv.Items)
	}
	return string(rv.Items[0].Keys[0].Data), rv.Link.RevealsLeft()
}

// linksApart hides the optional ports of the links it wraps: a reveal
// reads the link, order, data key and sealed keys apart and consumes the
// reveal through Update.
type linksApart struct{ ports.DeliveryLinkRepository }

// countedDataKeys counts Get; it is kept where the keys it wraps are.
type countedDataKeys struct {
	ports.DataKeyRepository
	gets *atomic.Int32
}

func (c countedDataKeys) StoredIn() any { return ports.StoredIn(c.DataKeyRepository) }

func (c countedDataKeys) Get(ctx context.Context, orderID string) (ports.WrappedKey, error) {
	c.gets.Add(1)
	return c.DataKeyRepository.Get(ctx, orderID)
}

// countedBlobs counts Get; it is kept where the blobs it wraps are.
type countedBlobs struct {
	ports.BlobStore
	gets *atomic.Int32
}

func (c countedBlobs) StoredIn() any { return ports.StoredIn(c.BlobStore) }

func (c countedBlobs) Get(ctx context.Context, ref string) ([]byte, error) {
	c.gets.Add(1)
	return c.BlobStore.Get(ctx, ref)
}

// TestRevealOnPostgresReadsAsApart: a reveal reads the data key and the
// sealed keys along with the link and order, and shows what reading them
// apart shows, consuming the reveals alike.
func TestRevealOnPostgresReadsAsApart(t *testing.T) {
	t.Parallel()
	var (
		d                 application.Deps
		keyGets, blobGets atomic.Int32
	)
	w := newPGStockWorld(t, func(deps *application.Deps) {
		deps.DataKeys = countedDataKeys{deps.DataKeys, &keyGets}
		deps.Blobs = countedBlobs{deps.Blobs, &blobGets}
		d = *deps
	})
	_, token := pgDelivered(t, w)
	apart := application.NewRevealKeys(d.Tx, linksApart{d.Links}, d.Orders, d.DataKeys, d.Vault, d.Blobs, d.Revelations, d.Audit, d.Clock, d.IDs, d.Log)
	keyGets.Store(0)
	blobGets.Store(0)
	one, left1 := revealedKey(t, w.app.Commands.RevealKeys, token)
	if k, b := keyGets.Load(), blobGets.Load(); k != 0 || b != 0 {
		t.Errorf("the reveal read %d data keys and %d sealed keys apart, want them read with the link", k, b)
	}
	two, left2 := revealedKey(t, apart, token)
	if k, b := keyGets.Load(), blobGets.Load(); k != 1 || b != 1 {
		t.Errorf("the reveal apart read %d data keys and %d sealed keys, want 1 and 1", k, b)
	}
	if !strings.HasPrefix(one, "PG-STOCK-") || one != two {
		t.Errorf("revealed %q in one read, %q apart; want the same stocked key", one, two)
	}
	if left1 != 2 || left2 != 1 {
		t.Errorf("reveals left %d then %d, want 2 then 1", left1, left2)
	}
}

// TestRevealOnPostgresOfShreddedKeys: a data key or a sealed key gone
// (shredded) makes the link revoked, read in one statement as apart, and
// consumes nothing.
func TestRevealOnPostgresOfShreddedKeys(t *testing.T) {
	t.Parallel()
	for name, shred := range map[string]func(t *testing.T, w *pgStockWorld, orderID string){
		"data key": func(t *testing.T, w *pgStockWorld, orderID string) {
			if err := postgres.NewDataKeys(w.db).Delete(t.Context(), orderID); err != nil {
				t.Fatal(err)
			}
		},
		"sealed key": func(t *testing.T, w *pgStockWorld, orderID string) {
			o, err := w.orders.Get(t.Context(), orderID)
			if err != nil {
				t.Fatal(err)
			}
			ref := o.Items()[0].CurrentKeys()[0].BlobRef
			if err := postgres.NewBlobs(w.db).Delete(t.Context(), ref); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newPGStockWorld(t)
			id, token := pgDelivered(t, w)
			shred(t, w, id)
			_, err := w.app.Commands.RevealKeys.Handle(t.Context(), application.RevealCommand{Token: token})
			if !errors.Is(err, domain.ErrLinkRevoked) {
				t.Fatalf("reveal of shredded keys: %v, want ErrLinkRevoked", err)
			}
			l, err := postgres.NewLinks(w.db).GetByTokenHash(t.Context(), domain.HashToken(token))
			if err != nil || l.RevealsUsed() != 0 {
				t.Fatalf("link after the refused reveal: %v, want no reveal used (%v)", l, err)
			}
		})
	}
}

// TestRevealOnPostgresWithKeysKeptElsewhere: data keys or sealed keys kept
// in another store than the links' database are read from that store, not
// looked for along with the link.
func TestRevealOnPostgresWithKeysKeptElsewhere(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*application.Deps){
		"data keys in memory":   func(d *application.Deps) { d.DataKeys = memory.NewDataKeys() },
		"sealed keys in memory": func(d *application.Deps) { d.Blobs = memory.NewBlobs() },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newPGStockWorld(t, change)
			_, token := pgDelivered(t, w)
			if key, left := revealedKey(t, w.app.Commands.RevealKeys, token); !strings.HasPrefix(key, "PG-STOCK-") || left != 2 {
				t.Errorf("revealed %q with %d reveals left, want a stocked key and 2", key, left)
			}
		})
	}
}
