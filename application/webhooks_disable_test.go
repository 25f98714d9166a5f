package application_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// TestWebhookEndpointDisabledWithItsAuditRecord: the record of the attempt
// that disables an endpoint failing too long commits with the disable's
// audit record. When the audit record cannot be written (as when the
// process dies between the two), the endpoint stays enabled, no operator
// is told and its message stays claimed; the attempt after the lease
// disables it with its record, once. On memory and on Postgres.
func TestWebhookEndpointDisabledWithItsAuditRecord(t *testing.T) {
	t.Parallel()
	type stores struct {
		store    ports.WebhookStore
		tx       ports.Transactor
		audit    ports.AuditLog
		dataKeys ports.DataKeyRepository
	}
	for _, c := range []struct {
		name string
		open func(*testing.T, ports.Clock, ports.KeyVault) stores
	}{
		{"memory", func(_ *testing.T, clock ports.Clock, kr ports.KeyVault) stores {
			return stores{memory.NewWebhooks(), memory.Transactor{}, memory.NewAuditLog(clock, application.NewAuditKey(kr, memory.NewDataKeys())), memory.NewDataKeys()}
		}},
		{"postgres", func(t *testing.T, clock ports.Clock, kr ports.KeyVault) stores {
			db := pgtest.NewDB(t)
			log := postgres.NewAuditLog(db, clock, application.NewAuditKey(kr, postgres.NewDataKeys(db)), slog.New(slog.DiscardHandler))
			if err := log.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			return stores{postgres.NewWebhooks(db), postgres.NewTransactor(db), log, postgres.NewDataKeys(db)}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			kr, err := localkeyring.NewInMemory()
			if err != nil {
				t.Fatal(err)
			}
			clock := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
			s := c.open(t, clock, kr)
			audit := &flakyAudit{AuditLog: s.audit, action: application.AuditWebhookEndpointDisabled}
			sender, mail := &fakeSender{answer: map[string]int{}, slow: map[string]chan struct{}{}, sent: map[string]int{}}, &hookMailbox{}
			hooks := application.NewWebhooks(application.WebhookDeps{Store: s.store, Sender: sender, Tx: s.tx, Audit: audit, Mailer: mail, Clock: clock,
				IDs: &hookIDs{}, Log: slog.New(slog.DiscardHandler), Vault: kr, DataKeys: s.dataKeys},
				application.WebhookSettings{RetrySchedule: []time.Duration{time.Hour, time.Hour, time.Hour}, DisableAfter: 2 * time.Hour, OperatorEmail: "ops@example.com"})
			pass := func(want int) {
				t.Helper()
				if n, err := hooks.Deliver(t.Context()); err != nil || n != want {
					t.Fatalf("Deliver = %d, %v; want %d sent", n, err, want)
				}
				hooks.Wait()
			}
			disabled := func() []domain.AuditRecord {
				t.Helper()
				recs, err := s.audit.List(t.Context(), 0, 100)
				if err != nil {
					t.Fatal(err)
				}
				var out []domain.AuditRecord
				for _, r := range recs {
					if r.Action == application.AuditWebhookEndpointDisabled {
						out = append(out, r)
					}
				}
				return out
			}
			e, err := hooks.CreateEndpoint(t.Context(), "admin:test", "https://dead.example/hooks", []string{"*"}, "")
			if err != nil {
				t.Fatal(err)
			}
			m, err := hooks.SendTest(t.Context(), "admin:test", e.ID)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 { // fails for an hour and more, not yet two
				pass(1)
				clock.Advance(time.Hour + 10*time.Minute) // past the retry and its jitter
			}
			audit.fail = 1 // the next failure disables the endpoint, and its audit record is lost
			pass(1)
			if got, _ := s.store.Endpoint(t.Context(), e.ID); got.Disabled {
				t.Fatalf("the endpoint is disabled without its audit record (%d records): %+v", len(disabled()), got)
			}
			if recs := disabled(); len(recs) != 0 || len(mail.sent) != 0 {
				t.Fatalf("%d disable records and %d operator mails for a disable that did not commit", len(recs), len(mail.sent))
			}
			if got, attempts, _ := s.store.Message(t.Context(), m.ID); got.Status != domain.WebhookPending || got.Attempts != 2 || len(attempts) != 2 {
				t.Fatalf("message after the lost record: %+v with %d attempts kept, want pending after 2", got, len(attempts))
			}
			pass(0)                        // still claimed
			clock.Advance(2 * time.Minute) // the lease (3×10s + 30s) lapses
			pass(1)
			got, _ := s.store.Endpoint(t.Context(), e.ID)
			recs := disabled()
			if !got.Disabled || len(recs) != 1 || recs[0].Details["endpoint_id"] != e.ID || recs[0].Details["disabled"] != "true" || recs[0].Actor != application.ActorSystem {
				t.Fatalf("after the attempt past the lease: disabled %v, records %+v; want disabled with one record", got.Disabled, recs)
			}
			if len(mail.sent) != 1 || mail.sent[0].To != "ops@example.com" {
				t.Fatalf("operator mails %+v, want one", mail.sent)
			}
			if sender.count(e.URL) != 4 {
				t.Fatalf("%d attempts sent, want 4", sender.count(e.URL))
			}
		})
	}
}
