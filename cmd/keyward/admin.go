package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
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
// record, or the checkpoint the trail does not match, is printed before.
var errChainBroken = errors.New("the audit trail is not whole")

const auditUsage = `usage: keyward audit verify [--checkpoint FILE]
       keyward audit checkpoint --out FILE`

// audit verifies the audit trail in the database, or writes a signed
// checkpoint of its head.
func audit(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New(auditUsage)
	}
	fs := flag.NewFlagSet("audit "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var file *string
	switch args[0] {
	case "verify":
		file = fs.String("checkpoint", "", "a checkpoint file from keyward audit checkpoint")
	case "checkpoint":
		file = fs.String("out", "", "where to write the checkpoint")
	default:
		return errors.New(auditUsage)
	}
	if err := fs.Parse(args[1:]); err != nil || fs.NArg() != 0 || (args[0] == "checkpoint" && *file == "") {
		return errors.New(auditUsage)
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if args[0] == "checkpoint" {
		return writeCheckpoint(ctx, cfg, *file, out)
	}
	var checkpoint []byte
	if *file != "" {
		if checkpoint, err = os.ReadFile(*file); err != nil {
			return fmt.Errorf("read the checkpoint: %w", err)
		}
	}
	return printVerification(ctx, cfg, checkpoint, out)
}

// writeCheckpoint writes a signed checkpoint of the trail's head to path,
// readable only by its owner, replacing what was there.
func writeCheckpoint(ctx context.Context, cfg bootstrap.Config, path string, out io.Writer) error {
	c, err := bootstrap.CheckpointAudit(ctx, cfg)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write the checkpoint: %w", err)
	}
	fmt.Fprintf(out, "audit checkpoint written to %s: seq %d, hash %s, at %s\n", path, c.Seq, c.Hash, c.At.Format(time.RFC3339Nano))
	return nil
}

func printVerification(ctx context.Context, cfg bootstrap.Config, checkpoint []byte, out io.Writer) error {
	v, err := bootstrap.VerifyAudit(ctx, cfg, checkpoint)
	if err != nil {
		return err
	}
	if v.Broken != nil {
		return printBroken(v, out)
	}
	fmt.Fprintf(out, "audit chain verified: %d records, every MAC checked\n", v.Verified)
	if v.Quarantined > 0 {
		fmt.Fprintf(out, "%d staged records were refused and wait in audit_quarantine (pending ids %v): written around the audit log\n",
			v.Quarantined, v.QuarantinedIDs)
	}
	for _, c := range v.Checkpoints {
		switch {
		case c.Missing:
			fmt.Fprintf(out, "no checkpoint stored under %s yet\n", c.From)
		case c.Mismatch != "":
			fmt.Fprintf(out, "checkpoint from %s (seq %d, %s) does not hold: %s\n", c.From, c.Seq, c.At.Format(time.RFC3339), c.Mismatch)
		default:
			fmt.Fprintf(out, "checkpoint from %s (seq %d, %s) holds\n", c.From, c.Seq, c.At.Format(time.RFC3339))
		}
	}
	if !v.Whole() {
		return errChainBroken
	}
	return nil
}

func printBroken(v bootstrap.AuditVerification, out io.Writer) error {
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
		MAC      string            `json:"mac,omitempty"`
	}{v.Broken.Seq, v.Broken.At, v.Broken.Actor, v.Broken.Action, v.Broken.Subject, v.Broken.Details, v.Broken.PrevHash, v.Broken.Hash, v.Broken.MAC})
	if err != nil {
		return fmt.Errorf("print the broken record: %w", err)
	}
	fmt.Fprintf(out, "first broken record: %s\n", rec)
	return errChainBroken
}
