package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

const adminUsage = `usage: keyward admin create-key --role admin|support [--name NAME]
       keyward admin list-keys
       keyward admin revoke-key ID`

// admin manages the admin API's keys in the database.
func admin(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch args[0] {
	case "create-key":
		fs := flag.NewFlagSet("admin create-key", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		role := fs.String("role", "", "admin or support")
		name := fs.String("name", "", "a name for the audit log (letters, digits, - _ . @)")
		if err := fs.Parse(args[1:]); err != nil || *role == "" || fs.NArg() != 0 {
			return errors.New(adminUsage)
		}
		k, err := bootstrap.CreateAdminKey(ctx, cfg, *role, *name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "created %s key %s (%s); it is shown this once, only its hash is kept:\n", k.Key.Role(), k.Key.ID(), k.Key.Name())
		fmt.Fprintln(out, k.Secret)
		return nil
	case "list-keys":
		if len(args) != 1 {
			return errors.New(adminUsage)
		}
		keys, err := bootstrap.ListAdminKeys(ctx, cfg)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tCREATED\tREVOKED")
		for _, k := range keys {
			revoked := "-"
			if at := k.RevokedAt(); at != nil {
				revoked = at.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.ID(), k.Name(), k.Role(), k.CreatedAt().UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	case "revoke-key":
		if len(args) != 2 {
			return errors.New(adminUsage)
		}
		k, err := bootstrap.RevokeAdminKey(ctx, cfg, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "revoked %s key %s (%s)\n", k.Role(), k.ID(), k.Name())
		return nil
	}
	return errors.New(adminUsage)
}

// errChainBroken makes `keyward audit verify` exit non-zero; the broken
// record is printed before.
var errChainBroken = errors.New("the audit chain is broken")

// audit verifies the audit log's hash chain in the database.
func audit(args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "verify" {
		return errors.New("usage: keyward audit verify")
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	return printVerification(ctx, cfg, out)
}

func printVerification(ctx context.Context, cfg bootstrap.Config, out io.Writer) error {
	v, err := bootstrap.VerifyAudit(ctx, cfg)
	if err != nil {
		return err
	}
	if v.Broken == nil {
		fmt.Fprintf(out, "audit chain verified: %d records\n", v.Verified)
		return nil
	}
	fmt.Fprintf(out, "audit chain broken at seq %d after %d verified records: %s\n", v.Broken.Seq, v.Verified, v.Reason)
	rec, err := json.Marshal(struct {
		Seq      int64             `json:"seq"`
		At       time.Time         `json:"at"`
		Actor    string            `json:"actor"`
		Action   string            `json:"action"`
		Subject  string            `json:"subject"`
		Details  map[string]string `json:"details,omitempty"`
		PrevHash string            `json:"prev_hash"`
		Hash     string            `json:"hash"`
	}{v.Broken.Seq, v.Broken.At, v.Broken.Actor, v.Broken.Action, v.Broken.Subject, v.Broken.Details, v.Broken.PrevHash, v.Broken.Hash})
	if err != nil {
		return fmt.Errorf("print the broken record: %w", err)
	}
	fmt.Fprintf(out, "first broken record: %s\n", rec)
	return errChainBroken
}
