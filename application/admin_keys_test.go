package application_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// failingAudit refuses every append.
type failingAudit struct{ ports.AuditLog }

func (failingAudit) Append(context.Context, string, string, string, map[string]string) (domain.AuditRecord, error) {
	return domain.AuditRecord{}, errors.New("audit log down")
}

// TestCreateAdminKey: a 256-bit base64url key, shown once; only its hash is
// stored, the creation is audited without it, and the key authenticates
// as its id, name and role until it is revoked.
func TestCreateAdminKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	keys := memory.NewAdminKeys()
	create := application.NewCreateAdminKey(keys, w.audit, w.clock, w.ids)
	auth := application.NewAuthenticateAdminKey(keys)

	made, err := create.Handle(t.Context(), "support", "desk-1", application.ActorOperatorCLI)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.RawURLEncoding.DecodeString(made.Secret)
	if err != nil || len(raw) != 32 {
		t.Fatalf("key %q is not 32 base64url bytes: %v", made.Secret, err)
	}
	if made.Key.Hash() != domain.HashToken(made.Secret) {
		t.Fatal("the stored hash is not the key's")
	}
	who, err := auth.Handle(t.Context(), made.Secret)
	if err != nil || who.ID != made.Key.ID() || who.Name != "desk-1" || who.Role != domain.RoleSupport || who.Actor() != "admin:"+made.Key.ID() {
		t.Fatalf("authenticate: %+v, %v", who, err)
	}
	if _, err := auth.Handle(t.Context(), made.Secret+"x"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another key: %v", err)
	}
	records, _ := w.audit.List(t.Context(), 0, 10)
	if len(records) != 1 || records[0].Action != application.AuditAdminKeyCreated || records[0].Details["role"] != "support" ||
		strings.Contains(fmt.Sprint(records[0]), made.Secret) {
		t.Fatalf("audit %+v", records)
	}

	unnamed, err := create.Handle(t.Context(), "admin", "", application.ActorOperatorCLI)
	if err != nil || !strings.HasPrefix(unnamed.Key.Name(), "key-") || unnamed.Secret == made.Secret {
		t.Fatalf("unnamed key: %v %+v", err, unnamed.Key)
	}
	for _, bad := range [][2]string{{"root", "x"}, {"", "x"}, {"admin", "two words"}} {
		if _, err := create.Handle(t.Context(), bad[0], bad[1], application.ActorOperatorCLI); !errors.Is(err, domain.ErrInvalidAdminKey) {
			t.Errorf("create %q: %v", bad, err)
		}
	}

	revoke := application.NewRevokeAdminKey(keys, w.audit, w.clock)
	if _, err := revoke.Handle(t.Context(), made.Key.ID(), application.ActorOperatorCLI); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Handle(t.Context(), made.Secret); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a revoked key authenticates: %v", err)
	}
	if _, err := revoke.Handle(t.Context(), made.Key.ID(), application.ActorOperatorCLI); !errors.Is(err, domain.ErrAdminKeyRevoked) {
		t.Fatalf("second revoke: %v", err)
	}
}

// TestCreateAdminKeyUnaudited: a key whose creation the audit log did not
// take is revoked again and never handed out.
func TestCreateAdminKeyUnaudited(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	keys := memory.NewAdminKeys()
	made, err := application.NewCreateAdminKey(keys, failingAudit{w.audit}, w.clock, w.ids).Handle(t.Context(), "admin", "ops", application.ActorOperatorCLI)
	if err == nil || made.Secret != "" {
		t.Fatalf("create with the audit log down: %v, %q", err, made.Secret)
	}
	all, _ := keys.List(t.Context())
	if len(all) != 1 || all[0].Active() {
		t.Fatalf("the unaudited key is usable: %+v", all)
	}
}
