package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

const claimWindow = 14 * 24 * time.Hour

func openClaim(t *testing.T) *domain.Claim {
	t.Helper()
	c, err := domain.NewClaim("c1", "o1", "i1", domain.ClaimNotWorking, "  says \x1b[31mused\u202e  ", t0, t0.Add(time.Hour), claimWindow)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestClaimOpensWithinTheWindowOfTheFirstReveal: a claim needs a revealed
// key and comes within the window; its message is cleaned and bounded.
func TestClaimOpensWithinTheWindowOfTheFirstReveal(t *testing.T) {
	t.Parallel()
	c := openClaim(t)
	if c.Status() != domain.ClaimOpen || c.Message() != "says [31mused" {
		t.Fatalf("claim %s with message %q", c.Status(), c.Message())
	}
	cases := []struct {
		name        string
		firstReveal time.Time
		at          time.Time
		message     string
		want        error
	}{
		{"never revealed", time.Time{}, t0, "", domain.ErrClaimWindowClosed},
		{"at the window's end", t0, t0.Add(claimWindow), "", domain.ErrClaimWindowClosed},
		{"just inside", t0, t0.Add(claimWindow - time.Nanosecond), "", nil},
		{"message too long", t0, t0, strings.Repeat("x", domain.MaxClaimText+1), domain.ErrInvalidClaim},
	}
	for _, tc := range cases {
		if _, err := domain.NewClaim("c", "o", "i", domain.ClaimOther, tc.message, tc.firstReveal, tc.at, claimWindow); !errors.Is(err, tc.want) && (err != nil || tc.want != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := domain.NewClaim("", "o", "i", domain.ClaimOther, "", t0, t0, claimWindow); !errors.Is(err, domain.ErrInvalidClaim) {
		t.Errorf("no id: %v", err)
	}
	for _, name := range []string{"not_working", "already_used", "wrong_region", "other"} {
		if r, err := domain.ParseClaimReason(name); err != nil || r.String() != name {
			t.Errorf("reason %s: %v", name, err)
		}
	}
	if _, err := domain.ParseClaimReason("angry"); !errors.Is(err, domain.ErrInvalidClaim) {
		t.Errorf("unknown reason: %v", err)
	}
}

// TestClaimIsDecidedOnce: a claim is approved or rejected once; approvals
// stop at the replacement limit unless forced; a rejection needs words.
func TestClaimIsDecidedOnce(t *testing.T) {
	t.Parallel()
	at := t0.Add(2 * time.Hour)
	c := openClaim(t)
	if err := c.Approve(domain.ReplaceFromStock, "", "admin:a", 1, 1, false, at); !errors.Is(err, domain.ErrReplacementLimit) || c.Status() != domain.ClaimOpen {
		t.Fatalf("approve at the limit: %v, status %s", err, c.Status())
	}
	if err := c.Approve(domain.ReplaceFromStock, "second key", "admin:a", 1, 1, true, at); err != nil || !c.Forced() || c.Status() != domain.ClaimApproved {
		t.Fatalf("forced approval: %v, forced %v, status %s", err, c.Forced(), c.Status())
	}
	if err := c.Reject("no", "admin:a", at); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("reject an approved claim: %v", err)
	}
	back := domain.UnmarshalClaim(c.Snapshot())
	if back.Source() != domain.ReplaceFromStock || back.Note() != "second key" || *back.Snapshot().DecidedAt != at || back.Snapshot().DecidedBy != "admin:a" {
		t.Fatalf("round trip %+v", back.Snapshot())
	}

	r := openClaim(t)
	if err := r.Reject("  ", "admin:a", at); !errors.Is(err, domain.ErrInvalidClaim) {
		t.Fatalf("reject without a message: %v", err)
	}
	if err := r.Reject("The key was redeemed on your account on 12 May.", "admin:a", at); err != nil || r.Status() != domain.ClaimRejected {
		t.Fatalf("reject: %v, %s", err, r.Status())
	}
	if err := r.Approve(domain.ReplaceFromSupplier, "", "admin:a", 0, 1, false, at); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("approve a rejected claim: %v", err)
	}
}
