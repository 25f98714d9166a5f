package domain_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

var macKey = []byte("0123456789abcdef0123456789abcdef")

func hmacHex(msg []byte) string {
	h := hmac.New(sha256.New, macKey)
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil))
}

func checkMAC(msg []byte, mac string) (bool, error) {
	return hmac.Equal([]byte(hmacHex(msg)), []byte(mac)), nil
}

// trail returns n chained records; signed(seq) says which carry a MAC, and
// adopt (when not 0) makes that seq the adoption of the records before.
func trail(t *testing.T, n int, signed func(int64) bool, adopt int64) []domain.AuditRecord {
	t.Helper()
	prev, out := domain.GenesisAuditHash, make([]domain.AuditRecord, 0, n)
	for i := range n {
		seq := int64(i + 1)
		action, details := "test.record", map[string]string(nil)
		if seq == adopt {
			action, details = domain.AuditMACAdopted, map[string]string{"through_seq": strconv.FormatInt(seq-1, 10)}
		}
		r, err := domain.NewAuditRecord("system", action, "", details)
		if err != nil {
			t.Fatal(err)
		}
		r.Seq, r.At = seq, time.Date(2026, 11, 27, 12, 0, i, 0, time.UTC)
		r = domain.ChainAuditRecord(prev, r)
		if signed(seq) {
			r.MAC = hmacHex(domain.AuditMACInput(r))
		}
		prev = r.Hash
		out = append(out, r)
	}
	return out
}

func TestAuditTrailVerifier(t *testing.T) {
	t.Parallel()
	all := func(int64) bool { return true }
	from := func(s int64) func(int64) bool { return func(seq int64) bool { return seq >= s } }
	tests := []struct {
		name     string
		records  []domain.AuditRecord
		pages    int
		want     int
		brokenAt int64 // 0: verifies
	}{
		{"every record signed", trail(t, 5, all, 0), 1, 5, 0},
		{"signed, across pages", trail(t, 5, all, 0), 3, 5, 0},
		{"adopted at seq 4", trail(t, 6, from(4), 4), 2, 6, 0},
		{"nothing signed, never adopted", trail(t, 3, func(int64) bool { return false }, 0), 1, 0, 1},
		{"a record without a MAC after signed ones", trail(t, 4, func(s int64) bool { return s != 3 }, 0), 1, 2, 3},
		{"signed records after unsigned ones without an adoption", trail(t, 4, from(3), 0), 1, 2, 1},
		{"an adoption naming another record", func() []domain.AuditRecord {
			rs := trail(t, 4, from(3), 3)
			rs[2].Details["through_seq"] = "1"
			rs[2] = domain.ChainAuditRecord(rs[1].Hash, rs[2])
			rs[2].MAC = hmacHex(domain.AuditMACInput(rs[2]))
			rs[3].PrevHash = rs[2].Hash
			rs[3] = domain.ChainAuditRecord(rs[2].Hash, rs[3])
			rs[3].MAC = hmacHex(domain.AuditMACInput(rs[3]))
			return rs
		}(), 1, 2, 1},
		{"a MAC under another key", func() []domain.AuditRecord {
			rs := trail(t, 3, all, 0)
			rs[1].MAC = hex.EncodeToString(make([]byte, 32))
			return rs
		}(), 1, 1, 2},
		{"a MAC copied from another record", func() []domain.AuditRecord {
			rs := trail(t, 3, all, 0)
			rs[2].MAC = rs[1].MAC
			return rs
		}(), 1, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := domain.NewAuditTrailVerifier(checkMAC)
			size := (len(tt.records) + tt.pages - 1) / tt.pages
			var err error
			for i := 0; i < len(tt.records) && err == nil; i += size {
				err = v.Next(tt.records[i:min(i+size, len(tt.records))])
			}
			n := v.Verified()
			if err == nil {
				n, err = v.Done()
			}
			var broken *domain.AuditChainError
			switch {
			case tt.brokenAt == 0 && (err != nil || n != tt.want):
				t.Errorf("= %d, %v; want %d, nil", n, err, tt.want)
			case tt.brokenAt != 0 && (!errors.As(err, &broken) || broken.Seq != tt.brokenAt || n != tt.want):
				t.Errorf("= %d, %v; want %d verified and a break at seq %d", n, err, tt.want, tt.brokenAt)
			}
		})
	}
}

// The MAC inputs are separated by purpose: a staged record's MAC never
// passes for a chained record's, nor a checkpoint's.
func TestAuditMACInputsDiffer(t *testing.T) {
	t.Parallel()
	r := trail(t, 1, func(int64) bool { return false }, 0)[0]
	cp := domain.AuditCheckpoint{Seq: r.Seq, Hash: r.Hash, At: r.At}
	inputs := [][]byte{domain.AuditMACInput(r), domain.AuditStagedMACInput(r), domain.AuditCheckpointMACInput(cp)}
	for i := range inputs {
		for j := i + 1; j < len(inputs); j++ {
			if string(inputs[i]) == string(inputs[j]) {
				t.Errorf("MAC inputs %d and %d are equal", i, j)
			}
		}
	}
	edited := r
	edited.Subject = "ord-2"
	if string(domain.AuditStagedMACInput(edited)) == string(domain.AuditStagedMACInput(r)) {
		t.Error("a staged record's MAC input does not cover its subject")
	}
}
