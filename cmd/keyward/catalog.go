package main

import (
	"context"
	"fmt"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// catalogCmd runs catalog commands.
type catalogCmd struct {
	Sync catalogSyncCmd `cmd:"" help:"Sync the catalog from the supplier now (default: full or incremental as the periodic sync would choose)."`
}

type catalogSyncCmd struct {
	Full        bool   `xor:"mode" help:"Read every product; products not seen go out of stock."`
	Incremental bool   `xor:"mode" help:"Read what changed since the last successful run."`
	Supplier    string `help:"The supplier to read, as named in KEYWARD_SUPPLIERS (default: the first); any other is read in full."`
}

func (catalogSyncCmd) environment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_SUPPLIERS")
}

func (c catalogSyncCmd) Run(e *env) error {
	mode := ""
	switch {
	case c.Full:
		mode = "full"
	case c.Incremental:
		mode = "incremental"
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	p := newProgress(e, "supplier pages read")
	res, err := bootstrap.SyncCatalog(ctx, cfg, mode, bootstrap.WithProgress(p.fn()), bootstrap.WithSupplier(c.Supplier))
	p.end()
	if res.RunID != "" {
		c := res.Counts
		fmt.Fprintf(e.stdout, "sync run %s (%s): %d products seen, %d created, %d changed, %d deactivated\n",
			res.RunID, res.Mode, c.Seen, c.Created, c.Changed, c.Deactivated)
	}
	return err
}
