package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keyward/keyward/bootstrap"
)

// errChainBroken makes `keyward audit verify` exit non-zero; the broken
// record, or the checkpoint the trail does not match, is printed before.
var errChainBroken = errors.New("the audit trail is not whole")

// auditCmd verifies the audit trail in the database, or writes a signed
// checkpoint of its head.
type auditCmd struct {
	Verify     auditVerifyCmd     `cmd:"" help:"Verify the trail's hash chain and MACs, and that it still extends the checkpoint (and the newest one under KEYWARD_AUDIT_CHECKPOINT_PATH); fails at the first break."`
	Checkpoint auditCheckpointCmd `cmd:"" help:"Write a checkpoint of the trail's head, signed with the audit key."`
}

func auditEnvironment() string {
	return wholeConfig("KEYWARD_DATABASE_URL", "KEYWARD_KEY_VAULT", "KEYWARD_AUDIT_CHECKPOINT_PATH")
}

// auditContext is the deadline of an audit command: a long trail takes a
// while to verify.
func auditContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Minute)
}

type auditVerifyCmd struct {
	Checkpoint string `placeholder:"FILE" help:"A checkpoint file from keyward audit checkpoint."`
}

func (auditVerifyCmd) environment() string { return auditEnvironment() }

func (c auditVerifyCmd) Run(e *env) error {
	var checkpoint []byte
	if c.Checkpoint != "" {
		var err error
		if checkpoint, err = os.ReadFile(c.Checkpoint); err != nil {
			return fmt.Errorf("read the checkpoint: %w", err)
		}
	}
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := auditContext()
	defer cancel()
	return printVerification(ctx, cfg, checkpoint, e.stdout)
}

type auditCheckpointCmd struct {
	Out string `required:"" placeholder:"FILE" help:"Where to write the checkpoint (readable only by its owner; replaced if it exists)."`
}

func (auditCheckpointCmd) environment() string { return auditEnvironment() }

func (c auditCheckpointCmd) Run(e *env) error {
	cfg, err := bootstrap.LoadConfig(bootstrap.EnvLookup)
	if err != nil {
		return err
	}
	ctx, cancel := auditContext()
	defer cancel()
	return writeCheckpoint(ctx, cfg, c.Out, e.stdout)
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
