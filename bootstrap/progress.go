package bootstrap

import (
	"context"

	"github.com/keyward/keyward/ports"
)

// Progress is told how far a long operator command has come: done steps
// so far, of total (0 when not known ahead), and what the last step was
// when that is worth showing (a migration's file). A step is the
// command's own unit: a migration applied, a key sealed, a catalog page
// read, a data key rewrapped, an order done. It is called from the
// command's goroutine, or under a lock, never concurrently.
type Progress func(done, total int, item string)

// ToolOption changes how an operator command runs.
type ToolOption func(*toolOptions)

type toolOptions struct {
	progress Progress
	supplier string
}

// WithProgress has the command report its progress to p.
func WithProgress(p Progress) ToolOption { return func(o *toolOptions) { o.progress = p } }

// WithSupplier has a catalog sync read the named supplier (default: the
// first of KEYWARD_SUPPLIERS).
func WithSupplier(name string) ToolOption { return func(o *toolOptions) { o.supplier = name } }

// supplierOf is the supplier opts name, "" for the default.
func supplierOf(opts []ToolOption) string {
	var o toolOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o.supplier
}

// progressOf is the Progress opts ask for; it is never nil, so callers
// report without checking.
func progressOf(opts []ToolOption) Progress {
	var o toolOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.progress == nil {
		return func(int, int, string) {}
	}
	return o.progress
}

// pageCountingSupplier reports each page of products the catalog sync
// reads: the sync's own loop stays as it is, and a page is the unit an
// operator can relate to the supplier's catalog.
type pageCountingSupplier struct {
	ports.Supplier
	pages  int
	report Progress
}

func (s *pageCountingSupplier) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	page, err := s.Supplier.Products(ctx, q)
	if err == nil {
		s.pages++
		s.report(s.pages, 0, "")
	}
	return page, err
}

// rewrapCountingDataKeys reports each data key the rotation stored
// rewrapped.
type rewrapCountingDataKeys struct {
	ports.DataKeyRepository
	rewrapped int
	report    Progress
}

func (d *rewrapCountingDataKeys) Replace(ctx context.Context, orderID string, old, rewrapped ports.WrappedKey) (bool, error) {
	ok, err := d.DataKeyRepository.Replace(ctx, orderID, old, rewrapped)
	if ok && err == nil {
		d.rewrapped++
		d.report(d.rewrapped, 0, "")
	}
	return ok, err
}
