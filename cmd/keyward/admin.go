package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// adminCmd manages the admin API's keys in the database.
type adminCmd struct {
	CreateKey createKeyCmd `cmd:"" help:"Make an admin API key (printed once, on the last line; only its hash is kept)."`
	ListKeys  listKeysCmd  `cmd:"" help:"List the admin keys (never the keys themselves)."`
	RevokeKey revokeKeyCmd `cmd:"" help:"Revoke an admin key."`
}

func adminEnvironment() string { return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_KEY_VAULT") }

// adminContext is the deadline of an admin command.
func adminContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

type createKeyCmd struct {
	Role string `required:"" placeholder:"admin|support" help:"What the key may do: admin or support."`
	Name string `help:"A name for the audit log (letters, digits, - _ . @)."`
}

func (createKeyCmd) environment() string { return adminEnvironment() }

func (c createKeyCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := adminContext()
	defer cancel()
	k, err := bootstrap.CreateAdminKey(ctx, cfg, c.Role, c.Name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "created %s key %s (%s); it is shown this once, only its hash is kept:\n", k.Key.Role(), k.Key.ID(), k.Key.Name())
	fmt.Fprintln(e.stdout, k.Secret)
	return nil
}

type listKeysCmd struct{}

func (listKeysCmd) environment() string { return adminEnvironment() }

func (listKeysCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := adminContext()
	defer cancel()
	keys, err := bootstrap.ListAdminKeys(ctx, cfg)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
	for _, k := range keys {
		revoked := "-"
		if at := k.RevokedAt(); at != nil {
			revoked = at.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID(), k.Name(), k.Role(), k.CreatedAt().UTC().Format(time.RFC3339), revoked)
	}
	return tw.Flush()
}

type revokeKeyCmd struct {
	ID string `arg:"" name:"ID" help:"The key's id, as list-keys shows it."`
}

func (revokeKeyCmd) environment() string { return adminEnvironment() }

func (c revokeKeyCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := adminContext()
	defer cancel()
	k, err := bootstrap.RevokeAdminKey(ctx, cfg, c.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "revoked %s key %s (%s)\n", k.Role(), k.ID(), k.Name())
	return nil
}
