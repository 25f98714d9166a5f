package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// auditChain returns a valid chain of n records, one a minute from t0 (plus
// some microseconds, so that the time's fraction is hashed too).
func auditChain(t *testing.T, n int) []domain.AuditRecord {
	t.Helper()
	out := make([]domain.AuditRecord, 0, n)
	prev := domain.GenesisAuditHash
	for i := range n {
		r, err := domain.NewAuditRecord("admin:key-1", "keys.revealed", fmt.Sprintf("ord-%d", i+1),
			map[string]string{"item": fmt.Sprintf("item-%d", i+1), "ip": "2001:db8::1"})
		if err != nil {
			t.Fatal(err)
		}
		r.Seq, r.At = int64(i+1), t0.Add(time.Duration(i)*time.Minute+123456*time.Microsecond)
		r = domain.ChainAuditRecord(prev, r)
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func TestVerifyAuditChainAcceptsAValidChain(t *testing.T) {
	t.Parallel()
	chain := auditChain(t, 5)
	if n, err := domain.VerifyAuditChain(chain, domain.GenesisAuditHash); n != 5 || err != nil {
		t.Fatalf("VerifyAuditChain = %d, %v; want 5, nil", n, err)
	}
	// A chain verifies in pieces, each continuing from the hash before it.
	if n, err := domain.VerifyAuditChain(chain[2:], chain[1].Hash); n != 3 || err != nil {
		t.Errorf("VerifyAuditChain of the tail = %d, %v; want 3, nil", n, err)
	}
	if n, err := domain.VerifyAuditChain(nil, domain.GenesisAuditHash); n != 0 || err != nil {
		t.Errorf("VerifyAuditChain of nothing = %d, %v; want 0, nil", n, err)
	}
}

func TestVerifyAuditChainFindsTampering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		tamper  func(c []domain.AuditRecord) []domain.AuditRecord
		want    int   // records verified
		wantSeq int64 // the record reported
	}{
		{"change a detail", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Details["item"] = "item-99"
			return c
		}, 2, 3},
		{"add a detail", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Details["note"] = ""
			return c
		}, 2, 3},
		{"drop the details", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Details = nil
			return c
		}, 2, 3},
		{"change the actor", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Actor = "system"
			return c
		}, 2, 3},
		{"change the action", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Action = "keys.rotated"
			return c
		}, 2, 3},
		{"change the subject", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Subject = "ord-99"
			return c
		}, 2, 3},
		{"change At by a microsecond", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].At = c[2].At.Add(time.Microsecond)
			return c
		}, 2, 3},
		{"change At by a nanosecond", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].At = c[2].At.Add(time.Nanosecond)
			return c
		}, 2, 3},
		{"swap two records", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2], c[3] = c[3], c[2]
			return c
		}, 2, 4},
		{"swap two records and their seqs", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2], c[3] = c[3], c[2]
			c[2].Seq, c[3].Seq = 3, 4
			return c
		}, 2, 3},
		{"delete a middle record", func(c []domain.AuditRecord) []domain.AuditRecord {
			return slices.Delete(c, 2, 3)
		}, 2, 4},
		{"delete a middle record and renumber", func(c []domain.AuditRecord) []domain.AuditRecord {
			c = slices.Delete(c, 2, 3)
			c[2].Seq, c[3].Seq = 3, 4
			return c
		}, 2, 3},
		{"delete the first record", func(c []domain.AuditRecord) []domain.AuditRecord {
			return c[1:]
		}, 0, 2},
		{"forge a hash", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Hash = c[1].Hash
			return c
		}, 2, 3},
		{"rehash a changed record", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Subject = "ord-99"
			c[2] = domain.ChainAuditRecord(c[2].PrevHash, c[2])
			return c
		}, 3, 4},
		{"link to another prev hash", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2] = domain.ChainAuditRecord(c[0].Hash, c[2])
			return c
		}, 2, 3},
		{"renumber a record", func(c []domain.AuditRecord) []domain.AuditRecord {
			c[2].Seq = 30
			return c
		}, 2, 30},
		{"insert a record", func(c []domain.AuditRecord) []domain.AuditRecord {
			extra := c[2]
			extra.Details = map[string]string{"forged": "yes"}
			return slices.Insert(c, 2, domain.ChainAuditRecord(c[1].Hash, extra))
		}, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			chain := tt.tamper(auditChain(t, 5))
			n, err := domain.VerifyAuditChain(chain, domain.GenesisAuditHash)
			wantChainBroken(t, n, err, tt.want, tt.wantSeq)
		})
	}
}

func TestVerifyAuditChainChecksWhereItStarts(t *testing.T) {
	t.Parallel()
	chain := auditChain(t, 3)
	n, err := domain.VerifyAuditChain(chain[1:], domain.GenesisAuditHash)
	wantChainBroken(t, n, err, 0, 2)
	n, err = domain.VerifyAuditChain(chain, chain[2].Hash)
	wantChainBroken(t, n, err, 0, 1)
	n, err = domain.VerifyAuditChain(chain[1:], chain[1].Hash)
	wantChainBroken(t, n, err, 0, 2)
}

func wantChainBroken(t *testing.T, n int, err error, want int, wantSeq int64) {
	t.Helper()
	var broken *domain.AuditChainError
	if !errors.As(err, &broken) || !errors.Is(err, domain.ErrAuditChainBroken) {
		t.Fatalf("VerifyAuditChain = %d, %v; want an *AuditChainError wrapping ErrAuditChainBroken", n, err)
	}
	if n != want || broken.Seq != wantSeq || broken.Reason == "" {
		t.Errorf("VerifyAuditChain = %d, %v; want %d verified and the error at seq %d with a reason", n, err, want, wantSeq)
	}
}

// The encoding is pinned by a vector computed independently from the
// documentation of the format (not from this code), so that an outside
// verifier can be written from the doc comment alone.
func TestChainAuditRecordHashIsStable(t *testing.T) {
	t.Parallel()
	r := domain.ChainAuditRecord(domain.GenesisAuditHash, domain.AuditRecord{
		Seq: 1, At: time.Date(2026, 11, 27, 13, 0, 0, 123456789, time.FixedZone("CET", 3600)),
		Actor: "admin:key-1", Action: "keys.revealed", Subject: "ord-1",
		Details: map[string]string{"item": "item-1", "ip": "2001:db8::1", "note": "ünïcode ✓"},
	})
	const want = "cf45e1f2733d12afd843b589ffcfed531357f5b86a9d1e5dce1ae4716995b6a7"
	if r.Hash != want {
		t.Errorf("Hash = %s, want %s", r.Hash, want)
	}
	if got := r.At.Format(time.RFC3339Nano); got != "2026-11-27T12:00:00.123456Z" {
		t.Errorf("At = %s, want it in UTC truncated to the microsecond", got)
	}
}

func TestAuditHashSeparatesFields(t *testing.T) {
	t.Parallel()
	base := domain.AuditRecord{Seq: 1, At: t0, Actor: "ab", Action: "c", Subject: "d", Details: map[string]string{"k": "vw"}}
	variants := map[string]func(*domain.AuditRecord){
		"actor/action boundary":   func(r *domain.AuditRecord) { r.Actor, r.Action = "a", "bc" },
		"action/subject boundary": func(r *domain.AuditRecord) { r.Action, r.Subject = "cd", "" },
		"key/value boundary":      func(r *domain.AuditRecord) { r.Details = map[string]string{"kv": "w"} },
		"details split":           func(r *domain.AuditRecord) { r.Details = map[string]string{"k": "v", "w": ""} },
	}
	want := domain.ChainAuditRecord(domain.GenesisAuditHash, base).Hash
	for name, change := range variants {
		r := base
		change(&r)
		if got := domain.ChainAuditRecord(domain.GenesisAuditHash, r).Hash; got == want {
			t.Errorf("%s: two different records hash alike", name)
		}
	}
}

func TestChainAuditRecordCopiesDetails(t *testing.T) {
	t.Parallel()
	details := map[string]string{"k": "v"}
	r := domain.ChainAuditRecord(domain.GenesisAuditHash, domain.AuditRecord{Seq: 1, At: t0, Actor: "system", Action: "a", Details: details})
	details["k"] = "changed"
	if n, err := domain.VerifyAuditChain([]domain.AuditRecord{r}, domain.GenesisAuditHash); n != 1 || err != nil {
		t.Errorf("a record verifies after its caller's map changed: %d, %v", n, err)
	}
	empty := domain.ChainAuditRecord(domain.GenesisAuditHash, domain.AuditRecord{Seq: 1, At: t0, Actor: "system", Action: "a", Details: map[string]string{}})
	if empty.Details != nil {
		t.Errorf("empty details = %#v, want nil", empty.Details)
	}
}

func TestNewAuditRecord(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                   string
		actor, action, subject string
		details                map[string]string
		wantErr                bool
	}{
		{"complete", "admin:key-1", "order.revoked", "ord-1", map[string]string{"reason": "chargeback"}, false},
		{"no subject nor details", "system", "keys.rotated", "", nil, false},
		{"no actor", "", "order.revoked", "ord-1", nil, true},
		{"no action", "system", "", "ord-1", nil, true},
		{"empty detail key", "system", "a", "", map[string]string{"": "v"}, true},
		{"NUL in the subject", "system", "a", "ord\x00", nil, true},
		{"NUL in a detail", "system", "a", "", map[string]string{"k": "v\x00"}, true},
		{"invalid UTF-8 in the actor", "admin:\xff", "a", "", nil, true},
		{"invalid UTF-8 in a key", "system", "a", "", map[string]string{"\xc3": "v"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, err := domain.NewAuditRecord(tt.actor, tt.action, tt.subject, tt.details)
			if tt.wantErr {
				if !errors.Is(err, domain.ErrInvalidAuditRecord) {
					t.Errorf("NewAuditRecord = %v, want ErrInvalidAuditRecord", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewAuditRecord: %v", err)
			}
			if r.Actor != tt.actor || r.Action != tt.action || r.Subject != tt.subject || len(r.Details) != len(tt.details) {
				t.Errorf("NewAuditRecord = %+v", r)
			}
		})
	}
}
