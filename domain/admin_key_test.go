package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

func TestParseAdminRole(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want domain.AdminRole
		err  bool
	}{
		{"admin", domain.RoleAdmin, false},
		{"support", domain.RoleSupport, false},
		{"", domain.AdminRole{}, true},
		{"Admin", domain.AdminRole{}, true},
		{"root", domain.AdminRole{}, true},
	} {
		got, err := domain.ParseAdminRole(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseAdminRole(%q) = %v, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, domain.ErrInvalidAdminKey) {
			t.Errorf("ParseAdminRole(%q): %v is not ErrInvalidAdminKey", tc.in, err)
		}
	}
}

func TestNewAdminKeyValidates(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	h := domain.HashToken("k")
	for name, tc := range map[string]struct {
		id, name string
		role     domain.AdminRole
	}{
		"no id":           {"", "desk", domain.RoleSupport},
		"no role":         {"id", "desk", domain.AdminRole{}},
		"no name":         {"id", "", domain.RoleSupport},
		"long name":       {"id", strings.Repeat("n", 65), domain.RoleSupport},
		"control in name": {"id", "desk\n", domain.RoleSupport},
		"space in name":   {"id", "help desk", domain.RoleSupport},
	} {
		if _, err := domain.NewAdminKey(tc.id, tc.name, tc.role, h, now); !errors.Is(err, domain.ErrInvalidAdminKey) {
			t.Errorf("%s: %v", name, err)
		}
	}
	k, err := domain.NewAdminKey("id", "desk-1", domain.RoleSupport, h, now)
	if err != nil || !k.Active() || k.Role() != domain.RoleSupport || k.Name() != "desk-1" || k.Hash() != h {
		t.Fatalf("valid key: %v %+v", err, k)
	}
}

func TestAdminKeyRevokeOnce(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	k, _ := domain.NewAdminKey("id", "desk", domain.RoleAdmin, domain.HashToken("k"), now)
	if err := k.Revoke(now.Add(time.Hour)); err != nil || k.Active() || !k.RevokedAt().Equal(now.Add(time.Hour)) {
		t.Fatalf("revoke: %v", err)
	}
	if err := k.Revoke(now.Add(2 * time.Hour)); !errors.Is(err, domain.ErrAdminKeyRevoked) || !k.RevokedAt().Equal(now.Add(time.Hour)) {
		t.Fatalf("second revoke: %v", err)
	}
	back, err := domain.UnmarshalAdminKey(k.Snapshot())
	if err != nil || back.Active() || back.Snapshot().Role != "admin" {
		t.Fatalf("round trip: %v", err)
	}
	s := k.Snapshot()
	s.Role = "root"
	if _, err := domain.UnmarshalAdminKey(s); !errors.Is(err, domain.ErrInvalidAdminKey) {
		t.Fatalf("corrupt role: %v", err)
	}
}
