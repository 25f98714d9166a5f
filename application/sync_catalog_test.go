package application_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

func TestSyncCatalogPagesAndSkipsAFilledCatalog(t *testing.T) {
	t.Parallel()
	w := newWorld(t) // synced once already
	app := w.app()
	res, err := app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{OnlyIfEmpty: true})
	if err != nil || !res.Skipped || res.Products != 0 {
		t.Fatalf("sync of a filled catalog with OnlyIfEmpty: %+v, %v", res, err)
	}
	res, err = app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{})
	if err != nil || res.Products != 15 || res.Pages != 1 {
		t.Fatalf("full sync: %+v, %v; want the sandbox's 15 products in one page", res, err)
	}
	release, ok, _ := w.locks.TryLock(t.Context(), "catalog-sync")
	if !ok {
		t.Fatal("lock not free after a sync")
	}
	defer release()
	if _, err := app.Commands.SyncCatalog.Handle(t.Context(), application.SyncCatalogCommand{}); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("sync while another runs: %v, want ErrConflict", err)
	}
}

func TestSyncCatalogResumesFromItsCursor(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// One page at a time, five products a page, of the sandbox's 15.
	small := &smallPages{Supplier: w.supplier}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Suppliers[0].Supplier = small })
	total, pages := 0, 0
	cmd := application.SyncCatalogCommand{MaxPages: 1}
	for {
		res, err := app.Commands.SyncCatalog.Handle(t.Context(), cmd)
		if err != nil {
			t.Fatal(err)
		}
		total, pages = total+res.Products, pages+res.Pages
		if res.Next == "" {
			break
		}
		cmd.Cursor = res.Next
	}
	if total != 15 || pages != 3 {
		t.Fatalf("stepwise sync stored %d products in %d pages, want 15 in 3", total, pages)
	}
}

// smallPages pages the supplier's catalog by five.
type smallPages struct{ ports.Supplier }

func (s *smallPages) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	q.Limit = 5
	return s.Supplier.Products(ctx, q)
}
