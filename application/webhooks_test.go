package application_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/localkeyring"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// fakeSender answers each URL as its answer says; a URL in slow waits
// until released (or the attempt's deadline).
type fakeSender struct {
	mu      sync.Mutex
	answer  map[string]int
	slow    map[string]chan struct{}
	sent    map[string]int
	waiting atomic.Int32
	onSend  func(ports.WebhookRequest)
}

func (s *fakeSender) CheckURL(context.Context, string) error { return nil }

func (s *fakeSender) Send(ctx context.Context, r ports.WebhookRequest) ports.WebhookResponse {
	s.mu.Lock()
	s.sent[r.URL]++
	release, status := s.slow[r.URL], s.answer[r.URL]
	if s.onSend != nil {
		s.onSend(r)
	}
	s.mu.Unlock()
	if release != nil {
		s.waiting.Add(1)
		select {
		case <-release:
		case <-ctx.Done():
			return ports.WebhookResponse{Err: ctx.Err()}
		}
	}
	if status == 0 {
		return ports.WebhookResponse{Err: fmt.Errorf("connection refused")}
	}
	return ports.WebhookResponse{Status: status}
}

func (s *fakeSender) count(url string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent[url]
}

type hookMailbox struct {
	mu   sync.Mutex
	sent []ports.Email
}

func (m *hookMailbox) Send(_ context.Context, e ports.Email) (ports.Receipt, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, e)
	return ports.Receipt{ProviderID: "m"}, nil
}

type hookIDs struct{ n atomic.Int64 }

func (i *hookIDs) NewID() string { return fmt.Sprintf("id-%d", i.n.Add(1)) }

type hookWorld struct {
	hooks  *application.Webhooks
	store  *memory.Webhooks
	sender *fakeSender
	mail   *hookMailbox
	clock  *testkit.Clock
}

func newHookWorld(t *testing.T, s application.WebhookSettings) hookWorld {
	t.Helper()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	w := hookWorld{store: memory.NewWebhooks(), sender: &fakeSender{answer: map[string]int{}, slow: map[string]chan struct{}{}, sent: map[string]int{}},
		mail: &hookMailbox{}, clock: testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))}
	w.hooks = application.NewWebhooks(application.WebhookDeps{Store: w.store, Sender: w.sender, Tx: memory.Transactor{},
		Audit: memory.NewAuditLog(w.clock, application.NewAuditKey(kr, memory.NewDataKeys())), Mailer: w.mail, Clock: w.clock, IDs: &hookIDs{},
		Log: slog.New(slog.DiscardHandler), Vault: kr, DataKeys: memory.NewDataKeys()}, s)
	return w
}

func (w hookWorld) endpoint(t *testing.T, url string) domain.WebhookEndpoint {
	t.Helper()
	e, err := w.hooks.CreateEndpoint(t.Context(), "admin:test", url, []string{"*"}, "")
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (w hookWorld) pass(t *testing.T) int {
	t.Helper()
	n, err := w.hooks.Deliver(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w.hooks.Wait()
	return n
}

// TestWebhookEndpointDisabledAfterFailingTooLong: an endpoint failing
// every attempt for DisableAfter is disabled, and the operator is told by
// email, once.
func TestWebhookEndpointDisabledAfterFailingTooLong(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, application.WebhookSettings{RetrySchedule: []time.Duration{time.Hour, time.Hour, time.Hour, time.Hour},
		DisableAfter: 2 * time.Hour, OperatorEmail: "ops@example.com"})
	e := w.endpoint(t, "https://dead.example/hooks")
	if _, err := w.hooks.SendTest(t.Context(), "admin:test", e.ID); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if n := w.pass(t); n != 1 {
			t.Fatalf("pass %d sent %d, want 1", i, n)
		}
		got, _ := w.store.Endpoint(t.Context(), e.ID)
		if wantDisabled := i == 2; got.Disabled != wantDisabled {
			t.Fatalf("after %d failed attempts over %v: disabled %v", i+1, time.Duration(i)*time.Hour, got.Disabled)
		}
		w.clock.Advance(time.Hour + 10*time.Minute) // past the retry and its jitter
	}
	if n := w.pass(t); n != 0 {
		t.Fatalf("a disabled endpoint was sent %d messages", n)
	}
	if len(w.mail.sent) != 1 || w.mail.sent[0].To != "ops@example.com" || !strings.Contains(w.mail.sent[0].Text, e.ID) {
		t.Fatalf("operator mail %+v", w.mail.sent)
	}
	// Enabled again, it forgets its failures and gets the message.
	w.sender.answer[e.URL] = 204
	off := false
	if _, err := w.hooks.UpdateEndpoint(t.Context(), "admin:test", e.ID, application.WebhookPatch{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	if n := w.pass(t); n != 1 {
		t.Fatalf("after enabling: %d sent", n)
	}
	if got, _ := w.store.Endpoint(t.Context(), e.ID); got.Disabled || !got.FailingSince.IsZero() {
		t.Fatalf("enabled endpoint %+v", got)
	}
}

// TestWebhookSlowEndpointHoldsNoOther: while one endpoint's attempts hang,
// at most PerEndpoint of them are in flight and other endpoints are served.
func TestWebhookSlowEndpointHoldsNoOther(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, application.WebhookSettings{PerEndpoint: 2, Concurrency: 8, Timeout: 5 * time.Second})
	slow, fast := w.endpoint(t, "https://slow.example/hooks"), w.endpoint(t, "https://fast.example/hooks")
	release := make(chan struct{})
	w.sender.slow[slow.URL], w.sender.answer[slow.URL], w.sender.answer[fast.URL] = release, 200, 200
	for range 5 {
		for _, id := range []string{slow.ID, fast.ID} {
			if _, err := w.hooks.SendTest(t.Context(), "admin:test", id); err != nil {
				t.Fatal(err)
			}
		}
	}
	testkit.Eventually(t, 10*time.Second, "the fast endpoint gets its five messages", func() bool {
		if _, err := w.hooks.Deliver(t.Context()); err != nil {
			t.Fatal(err)
		}
		return w.sender.count(fast.URL) == 5
	})
	if n := w.sender.waiting.Load(); n != 2 {
		t.Fatalf("%d attempts to the slow endpoint in flight, want its limit of 2", n)
	}
	close(release)
	testkit.Eventually(t, 10*time.Second, "the slow endpoint catches up", func() bool {
		if _, err := w.hooks.Deliver(t.Context()); err != nil {
			t.Fatal(err)
		}
		return w.sender.count(slow.URL) == 5
	})
	w.hooks.Wait()
	for _, e := range []domain.WebhookEndpoint{slow, fast} {
		ms, _ := w.store.Messages(t.Context(), ports.WebhookMessageQuery{EndpointID: e.ID, Status: domain.WebhookDelivered})
		if len(ms) != 5 {
			t.Errorf("%s: %d delivered, want 5", e.URL, len(ms))
		}
	}
}

// TestWebhookSupplierBalanceLow: a balance below the threshold writes one
// supplier.balance_low a day, whoever checks; at or above it, none.
func TestWebhookSupplierBalanceLow(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, application.WebhookSettings{})
	e := w.endpoint(t, "https://shop.example/hooks")
	check := func(balance float64) {
		t.Helper()
		if err := w.hooks.CheckSupplierBalance(t.Context(), "kinguin", balance, 100); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		ms, _ := w.store.Messages(t.Context(), ports.WebhookMessageQuery{EndpointID: e.ID, Type: domain.WebhookSupplierBalanceLow})
		return len(ms)
	}
	check(100)
	if n := count(); n != 0 {
		t.Fatalf("%d events at the threshold", n)
	}
	check(42.5)
	check(10)
	if n := count(); n != 1 {
		t.Fatalf("%d events for a low balance checked twice a day, want 1", n)
	}
	ms, _ := w.store.Messages(t.Context(), ports.WebhookMessageQuery{EndpointID: e.ID})
	if !strings.Contains(string(ms[0].Body), `"balance":42.5`) || !strings.Contains(string(ms[0].Body), `"threshold":100`) {
		t.Fatalf("payload %s", ms[0].Body)
	}
	w.clock.Advance(24 * time.Hour)
	check(10)
	if n := count(); n != 2 {
		t.Fatalf("%d events after a day, want 2", n)
	}
}

// TestWebhookRecoverSince: messages that failed for good are sent again
// by a recovery from a time on, with their webhook-id; older ones stay
// failed.
func TestWebhookRecoverSince(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, application.WebhookSettings{RetrySchedule: []time.Duration{time.Minute}})
	e := w.endpoint(t, "https://down.example/hooks")
	old, err := w.hooks.SendTest(t.Context(), "admin:test", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Hour)
	recent, err := w.hooks.SendTest(t.Context(), "admin:test", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // each fails twice: the first attempt and its one retry
		w.pass(t)
		w.clock.Advance(2 * time.Minute)
	}
	failed, _ := w.store.Messages(t.Context(), ports.WebhookMessageQuery{Status: domain.WebhookFailed})
	if len(failed) != 2 {
		t.Fatalf("%d failed, want 2", len(failed))
	}
	w.sender.answer[e.URL] = 200
	n, err := w.hooks.Recover(t.Context(), "admin:test", e.ID, recent.CreatedAt)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want the recent one", n, err)
	}
	if sent := w.pass(t); sent != 1 {
		t.Fatalf("sent %d after the recovery", sent)
	}
	m, attempts, _ := w.store.Message(t.Context(), recent.ID)
	if m.Status != domain.WebhookDelivered || m.EventID != recent.EventID || len(attempts) != 3 {
		t.Fatalf("recovered message %+v with %d attempts", m, len(attempts))
	}
	if m, _, _ := w.store.Message(t.Context(), old.ID); m.Status != domain.WebhookFailed {
		t.Fatalf("the older message is %s, want failed", m.Status)
	}
}

// TestWebhookSecretsSealedAtRest: the store never holds a signing secret
// in the clear, after creation or rotation, yet deliveries are signed with
// both during the overlap; a sealed secret moved to another endpoint does
// not open.
func TestWebhookSecretsSealedAtRest(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, application.WebhookSettings{})
	e := w.endpoint(t, "https://shop.example/hooks")
	rotated, err := w.hooks.RotateSecret(t.Context(), "admin:test", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := w.store.Endpoint(t.Context(), e.ID)
	for _, plain := range []string{e.Secret, rotated.Secret} {
		if !strings.HasPrefix(plain, domain.WebhookSecretPrefix) {
			t.Fatalf("shown secret %q", plain)
		}
		raw := strings.TrimPrefix(plain, domain.WebhookSecretPrefix)
		if strings.Contains(stored.Secret+stored.PreviousSecret, raw) {
			t.Fatal("the store holds a signing secret in the clear")
		}
	}
	if !strings.HasPrefix(stored.Secret, "sealed:v1:") || !strings.HasPrefix(stored.PreviousSecret, "sealed:v1:") {
		t.Fatalf("stored secrets %q / %q", stored.Secret, stored.PreviousSecret)
	}
	// Deliveries carry two signatures, made with the two secrets.
	var sigs []string
	w.sender.answer[e.URL] = 200
	w.sender.onSend = func(r ports.WebhookRequest) { sigs = strings.Fields(r.Header.Get("webhook-signature")) }
	if _, err := w.hooks.SendTest(t.Context(), "admin:test", e.ID); err != nil {
		t.Fatal(err)
	}
	w.pass(t)
	if len(sigs) != 2 {
		t.Fatalf("signatures %v, want two during the overlap", sigs)
	}
	// A sealed secret copied onto another endpoint does not sign there.
	other := w.endpoint(t, "https://other.example/hooks")
	if _, err := w.store.UpdateEndpoint(t.Context(), other.ID, func(o *domain.WebhookEndpoint) error { o.Secret = stored.Secret; return nil }); err != nil {
		t.Fatal(err)
	}
	w.sender.answer[other.URL] = 200
	if _, err := w.hooks.SendTest(t.Context(), "admin:test", other.ID); err != nil {
		t.Fatal(err)
	}
	w.pass(t)
	if n := w.sender.count(other.URL); n != 0 {
		t.Fatalf("a moved secret signed %d requests", n)
	}
}

// TestWebhookDisabledEndpointRefusesResends: test, recover and redeliver
// on a disabled endpoint answer ErrWebhookEndpointDisabled instead of
// queueing what would never be sent; events while it is disabled are kept
// and recovered once it is enabled; a message still pending is not
// redelivered (it would go twice at once).
func TestWebhookDisabledEndpointRefusesResends(t *testing.T) {
	t.Parallel()
	w := newHookWorld(t, application.WebhookSettings{})
	e := w.endpoint(t, "https://shop.example/hooks")
	w.sender.answer[e.URL] = 204
	sent, err := w.hooks.SendTest(t.Context(), "admin:test", e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.hooks.Redeliver(t.Context(), "admin:test", sent.ID); !errors.Is(err, domain.ErrWebhookMessagePending) {
		t.Fatalf("redeliver of a pending message: %v, want ErrWebhookMessagePending", err)
	}
	w.pass(t)

	on, off := false, true
	if _, err := w.hooks.UpdateEndpoint(t.Context(), "admin:test", e.ID, application.WebhookPatch{Disabled: &off}); err != nil {
		t.Fatal(err)
	}
	since := w.clock.Now()
	w.clock.Advance(time.Minute)
	ev, err := domain.NewWebhookEvent("ev-missed", "order.paid", "o1", w.clock.Now(), map[string]any{"order_id": "o1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.Enqueue(t.Context(), ev); err != nil {
		t.Fatal(err)
	}
	if _, err := w.hooks.SendTest(t.Context(), "admin:test", e.ID); !errors.Is(err, domain.ErrWebhookEndpointDisabled) {
		t.Errorf("test to a disabled endpoint: %v, want ErrWebhookEndpointDisabled", err)
	}
	if _, err := w.hooks.Redeliver(t.Context(), "admin:test", sent.ID); !errors.Is(err, domain.ErrWebhookEndpointDisabled) {
		t.Errorf("redeliver to a disabled endpoint: %v, want ErrWebhookEndpointDisabled", err)
	}
	if _, err := w.hooks.Recover(t.Context(), "admin:test", e.ID, since); !errors.Is(err, domain.ErrWebhookEndpointDisabled) {
		t.Errorf("recover of a disabled endpoint: %v, want ErrWebhookEndpointDisabled", err)
	}

	if _, err := w.hooks.UpdateEndpoint(t.Context(), "admin:test", e.ID, application.WebhookPatch{Disabled: &on}); err != nil {
		t.Fatal(err)
	}
	if n := w.pass(t); n != 0 {
		t.Fatalf("%d sent on enabling, before a recover", n)
	}
	n, err := w.hooks.Recover(t.Context(), "admin:test", e.ID, since)
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want the event missed while disabled", n, err)
	}
	before := w.sender.count(e.URL)
	if n := w.pass(t); n != 1 || w.sender.count(e.URL) != before+1 {
		t.Fatalf("recovered: %d claimed, %d sent", n, w.sender.count(e.URL)-before)
	}
	if ms, _ := w.store.Messages(t.Context(), ports.WebhookMessageQuery{Type: "order.paid"}); len(ms) != 1 || ms[0].Status != domain.WebhookDelivered {
		t.Fatalf("missed message after recovery: %+v", ms)
	}
	if _, err := w.hooks.Redeliver(t.Context(), "admin:test", sent.ID); err != nil {
		t.Fatalf("redeliver of a delivered message to an enabled endpoint: %v", err)
	}
}

// slowVault advances the clock by delay whenever it unwraps a data key: a
// vault that answers late.
type slowVault struct {
	ports.KeyVault
	clock *testkit.Clock
	delay time.Duration
}

func (v slowVault) UnwrapDataKey(ctx context.Context, keyID string, wrapped ports.WrappedKey) ([]byte, error) {
	v.clock.Advance(v.delay)
	return v.KeyVault.UnwrapDataKey(ctx, keyID, wrapped)
}

// TestWebhookAttemptSkippedWhenItsLeaseRunsOut: a worker whose claim has
// less than the timeout left when it is ready to send (here: a slow vault
// opening the signing secret) sends nothing; the message stays due and the
// next claim sends it once.
func TestWebhookAttemptSkippedWhenItsLeaseRunsOut(t *testing.T) {
	t.Parallel()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	store, dataKeys, sender := memory.NewWebhooks(), memory.NewDataKeys(), &fakeSender{answer: map[string]int{}, slow: map[string]chan struct{}{}, sent: map[string]int{}}
	settings := application.WebhookSettings{Timeout: 10 * time.Second}
	newHooks := func(vault ports.KeyVault) *application.Webhooks {
		return application.NewWebhooks(application.WebhookDeps{Store: store, Sender: sender, Tx: memory.Transactor{},
			Audit: memory.NewAuditLog(clock, application.NewAuditKey(kr, memory.NewDataKeys())), Mailer: &hookMailbox{}, Clock: clock, IDs: &hookIDs{},
			Log: slog.New(slog.DiscardHandler), Vault: vault, DataKeys: dataKeys}, settings)
	}
	first := newHooks(kr)
	e, err := first.CreateEndpoint(t.Context(), "admin:test", "https://shop.example/hooks", []string{"*"}, "")
	if err != nil {
		t.Fatal(err)
	}
	sender.answer[e.URL] = 204
	if _, err := first.SendTest(t.Context(), "admin:test", e.ID); err != nil {
		t.Fatal(err)
	}
	// A new process whose vault takes most of the lease (3×10s + 30s).
	late := newHooks(slowVault{KeyVault: kr, clock: clock, delay: 55 * time.Second})
	if n, err := late.Deliver(t.Context()); err != nil || n != 1 {
		t.Fatalf("Deliver = %d, %v; want one claimed", n, err)
	}
	late.Wait()
	if got := sender.count(e.URL); got != 0 {
		t.Fatalf("sent %d times with %v of its lease left, want 0", got, 5*time.Second)
	}
	clock.Advance(10 * time.Second) // the lease lapses
	if n, err := late.Deliver(t.Context()); err != nil || n != 1 {
		t.Fatalf("after the lease: Deliver = %d, %v", n, err)
	}
	late.Wait()
	if got := sender.count(e.URL); got != 1 {
		t.Fatalf("sent %d times after the lease lapsed, want 1", got)
	}
}

// TestWebhookURLSecretsStayOutOfAuditAndLogs: an endpoint URL's query
// string (where a shop may keep a secret) is in neither the audit records
// nor the log when it is created, changed and disabled.
func TestWebhookURLSecretsStayOutOfAuditAndLogs(t *testing.T) {
	t.Parallel()
	kr, err := localkeyring.NewInMemory()
	if err != nil {
		t.Fatal(err)
	}
	clock := testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	audit := memory.NewAuditLog(clock, application.NewAuditKey(kr, memory.NewDataKeys()))
	var logs strings.Builder
	var logMu sync.Mutex
	sender := &fakeSender{answer: map[string]int{}, slow: map[string]chan struct{}{}, sent: map[string]int{}}
	hooks := application.NewWebhooks(application.WebhookDeps{Store: memory.NewWebhooks(), Sender: sender, Tx: memory.Transactor{}, Audit: audit,
		Mailer: &hookMailbox{}, Clock: clock, IDs: &hookIDs{}, Log: slog.New(slog.NewJSONHandler(lockedWriter{&logMu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Vault: kr, DataKeys: memory.NewDataKeys()}, application.WebhookSettings{RetrySchedule: []time.Duration{time.Minute}, DisableAfter: time.Minute})
	e, err := hooks.CreateEndpoint(t.Context(), "admin:test", "https://shop.example/hooks?token=s3cret&key=pa55word", []string{"*"}, "")
	if err != nil {
		t.Fatal(err)
	}
	moved := "https://shop.example/v2/hooks?token=s3cret2"
	if _, err := hooks.UpdateEndpoint(t.Context(), "admin:test", e.ID, application.WebhookPatch{URL: &moved}); err != nil {
		t.Fatal(err)
	}
	if _, err := hooks.SendTest(t.Context(), "admin:test", e.ID); err != nil {
		t.Fatal(err)
	}
	for range 2 { // fails, then fails past DisableAfter: disabled
		if _, err := hooks.Deliver(t.Context()); err != nil {
			t.Fatal(err)
		}
		hooks.Wait()
		clock.Advance(2 * time.Minute)
	}
	recs, err := audit.List(t.Context(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	urls := 0
	for _, r := range recs {
		if u, ok := r.Details["url"]; ok {
			urls++
			if strings.Contains(u, "s3cret") || strings.Contains(u, "pa55word") || strings.Contains(u, "?") {
				t.Errorf("%s audits the URL %q", r.Action, u)
			}
		}
	}
	if urls < 3 {
		t.Fatalf("%d audit records name the URL, want created, updated and disabled", urls)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logs.String(), "webhook endpoint disabled") {
		t.Fatalf("no disabled log line:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), "pa55word") {
		t.Fatalf("the log shows the URL's secret:\n%s", logs.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
