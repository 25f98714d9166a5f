package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

// TestCustomerLinkSignsInOnce: a sign-in link works once, before it
// expires; a used or expired link changes nothing.
func TestCustomerLinkSignsInOnce(t *testing.T) {
	t.Parallel()
	email, _ := domain.ParseEmail("buyer@example.com")
	if _, err := domain.NewCustomerLink("", email, domain.HashToken("t"), t0, time.Minute); !errors.Is(err, domain.ErrInvalidLink) {
		t.Fatalf("no id: %v", err)
	}
	if _, err := domain.NewCustomerLink("c", domain.Email{}, domain.HashToken("t"), t0, time.Minute); !errors.Is(err, domain.ErrInvalidLink) {
		t.Fatalf("no address: %v", err)
	}
	if _, err := domain.NewCustomerLink("c", email, domain.HashToken("t"), t0, 0); !errors.Is(err, domain.ErrInvalidLink) {
		t.Fatalf("no ttl: %v", err)
	}
	l, err := domain.NewCustomerLink("c", email, domain.HashToken("t"), t0, 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	expired := domain.UnmarshalCustomerLink(l.Snapshot())
	if err := expired.Use(t0.Add(30 * time.Minute)); !errors.Is(err, domain.ErrSignInLinkInvalid) || expired.Used() {
		t.Fatalf("use at expiry: %v, used %v", err, expired.Used())
	}
	if err := l.Use(t0.Add(30*time.Minute - 1)); err != nil || !l.Used() {
		t.Fatalf("first use: %v, used %v", err, l.Used())
	}
	used := *l.Snapshot().UsedAt
	if err := l.Use(t0.Add(time.Minute)); !errors.Is(err, domain.ErrSignInLinkInvalid) || !l.Snapshot().UsedAt.Equal(used) {
		t.Fatalf("second use: %v, used at %v", err, l.Snapshot().UsedAt)
	}
	if l.Email() != email || l.TokenHash() != domain.HashToken("t") || !l.ExpiresAt().Equal(t0.Add(30*time.Minute)) {
		t.Fatalf("link %+v", l.Snapshot())
	}
}
