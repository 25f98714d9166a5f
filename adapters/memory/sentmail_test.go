package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/memory"
)

// TestSentMailAuditMarkRollsBack: a mark made in a unit of work that
// fails (its audit record was not written) is undone, so that the next
// try marks it and writes the record.
func TestSentMailAuditMarkRollsBack(t *testing.T) {
	t.Parallel()
	log := memory.NewSentMail()
	if err := log.RecordSent(t.Context(), "k", time.Now()); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("the record failed")
	err := memory.Transactor{}.Atomically(t.Context(), func(ctx context.Context) error {
		if marked, err := log.MarkAudited(ctx, "k", time.Now()); err != nil || !marked {
			t.Fatalf("first mark: %v %v", marked, err)
		}
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatal(err)
	}
	if sent, audited, _ := log.WasSent(t.Context(), "k"); !sent || audited {
		t.Fatalf("after the failed unit of work: sent %v audited %v, want sent and not audited", sent, audited)
	}
	if marked, _ := log.MarkAudited(t.Context(), "k", time.Now()); !marked {
		t.Fatal("the retry did not mark it")
	}
}
