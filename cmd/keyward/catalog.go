package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// catalog runs catalog commands: `catalog sync [--full|--incremental]`.
func catalog(args []string, out io.Writer) error {
	const use = "usage: keyward catalog sync [--full | --incremental]"
	if len(args) < 1 || args[0] != "sync" {
		return errors.New(use)
	}
	fs := flag.NewFlagSet("catalog sync", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	full := fs.Bool("full", false, "read every product; products not seen go out of stock")
	incremental := fs.Bool("incremental", false, "read what changed since the last successful run")
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() > 0 || *full && *incremental {
		return errors.New(use)
	}
	mode := ""
	switch {
	case *full:
		mode = "full"
	case *incremental:
		mode = "incremental"
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()
	res, err := bootstrap.SyncCatalog(ctx, cfg, mode)
	if res.RunID != "" {
		c := res.Counts
		fmt.Fprintf(out, "sync run %s (%s): %d products seen, %d created, %d changed, %d deactivated\n",
			res.RunID, res.Mode, c.Seen, c.Created, c.Changed, c.Deactivated)
	}
	return err
}
