package application

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of the webhook operations.
const (
	AuditWebhookEndpointCreated  = "webhook.endpoint_created"
	AuditWebhookEndpointUpdated  = "webhook.endpoint_updated"
	AuditWebhookEndpointDeleted  = "webhook.endpoint_deleted"
	AuditWebhookSecretRotated    = "webhook.secret_rotated"
	AuditWebhookEndpointDisabled = "webhook.endpoint_disabled"
	AuditWebhookTestSent         = "webhook.test_sent"
	AuditWebhookRedelivered      = "webhook.redelivered"
	AuditWebhookRecovered        = "webhook.recovered"
)

// WebhookSettings tune the webhooks; zero fields take the defaults named.
type WebhookSettings struct {
	SecretOverlap time.Duration   // the old secret keeps signing after a rotation; 24h (negative: not at all)
	AllowPrivate  bool            // development: http and private addresses allowed
	RetrySchedule []time.Duration // delays between attempts; domain.DefaultWebhookRetrySchedule
	DisableAfter  time.Duration   // an endpoint failing this long is disabled; 5 days
	Retention     time.Duration   // settled messages and attempts are kept this long; 30 days
	OperatorEmail string          // told when an endpoint is disabled; "" for nobody
	UserAgent     string          // e.g. keyward/1.2.0
	Timeout       time.Duration   // one attempt's budget; the claim's lease exceeds it; 10s
	Concurrency   int             // attempts in flight in this process; 16
	PerEndpoint   int             // of which to one endpoint; 4
	RecordGather  time.Duration   // a finished attempt's record waits this long at most for the rest of its batch; 20ms
}

func (s WebhookSettings) withDefaults() WebhookSettings {
	switch {
	case s.SecretOverlap == 0:
		s.SecretOverlap = 24 * time.Hour
	case s.SecretOverlap < 0:
		s.SecretOverlap = 0 // no overlap
	}
	if len(s.RetrySchedule) == 0 {
		s.RetrySchedule = domain.DefaultWebhookRetrySchedule
	}
	if s.DisableAfter <= 0 {
		s.DisableAfter = 5 * 24 * time.Hour
	}
	if s.Retention <= 0 {
		s.Retention = 30 * 24 * time.Hour
	}
	if s.Timeout <= 0 {
		s.Timeout = 10 * time.Second
	}
	if s.Concurrency <= 0 {
		s.Concurrency = 16
	}
	if s.PerEndpoint <= 0 {
		s.PerEndpoint = 4
	}
	if s.RecordGather <= 0 {
		s.RecordGather = 20 * time.Millisecond
	}
	if s.UserAgent == "" {
		s.UserAgent = "keyward"
	}
	return s
}

// lease is how long a claimed message is kept from other workers: past
// it, a worker that died mid-attempt has its message tried again.
func (s WebhookSettings) lease() time.Duration { return 3*s.Timeout + 30*time.Second }

// WebhookObserver counts deliveries for the metrics; nil counts nothing.
type WebhookObserver interface {
	// Attempted: one attempt to endpointID of an event of type, its
	// outcome (delivered, retry, failed) and how long it took.
	Attempted(endpointID, eventType, outcome string, d time.Duration)
	// Disabled: an endpoint was disabled after failing too long.
	Disabled(endpointID string)
}

type noObserver struct{}

func (noObserver) Attempted(string, string, string, time.Duration) {}
func (noObserver) Disabled(string)                                 {}

// Webhooks are the use cases of the shop's outbound webhooks: endpoints,
// the message log, redelivery, and the delivery worker's passes.
type Webhooks struct {
	store    ports.WebhookStore
	sender   ports.WebhookSender
	tx       ports.Transactor
	audit    ports.AuditLog
	mailer   ports.Mailer
	clock    ports.Clock
	ids      ports.IDs
	log      *slog.Logger
	observer WebhookObserver
	secrets  *webhookSecretKey
	s        WebhookSettings

	claiming sync.Mutex // held by a claim: Deliver's, or a record's
	mu       sync.Mutex
	inFlight map[string]int // attempts running or to record, by endpoint
	running  int
	wg       sync.WaitGroup
	wake     chan struct{}
}

// WebhookDeps are what Webhooks drives.
type WebhookDeps struct {
	Store    ports.WebhookStore
	Sender   ports.WebhookSender
	Tx       ports.Transactor
	Audit    ports.AuditLog
	Mailer   ports.Mailer
	Clock    ports.Clock
	IDs      ports.IDs
	Log      *slog.Logger
	Observer WebhookObserver
	// Vault and DataKeys keep the key that seals the signing secrets at
	// rest (WebhookSecretKeyID).
	Vault    ports.KeyVault
	DataKeys ports.DataKeyRepository
}

// NewWebhooks wires Webhooks; it panics when a dependency is nil.
func NewWebhooks(d WebhookDeps, s WebhookSettings) *Webhooks {
	require("Webhooks", "store", d.Store, "sender", d.Sender, "tx", d.Tx, "audit", d.Audit, "mailer", d.Mailer, "clock", d.Clock, "ids", d.IDs, "log", d.Log,
		"vault", d.Vault, "dataKeys", d.DataKeys)
	if d.Observer == nil {
		d.Observer = noObserver{}
	}
	return &Webhooks{store: d.Store, sender: d.Sender, tx: d.Tx, audit: d.Audit, mailer: d.Mailer, clock: d.Clock, ids: d.IDs, log: d.Log,
		observer: d.Observer, secrets: &webhookSecretKey{vault: d.Vault, dataKeys: d.DataKeys}, s: s.withDefaults(), inFlight: map[string]int{}, wake: make(chan struct{}, 1)}
}

// EventTypes is the catalogue of event types.
func (w *Webhooks) EventTypes() []domain.WebhookEventType { return domain.WebhookEventTypes }

func newWebhookSecret() (string, error) {
	key := make([]byte, domain.WebhookSecretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return domain.NewWebhookSecret(key)
}

// checkURL validates an endpoint URL and, unless private addresses are
// allowed, that it resolves to public addresses only.
func (w *Webhooks) checkURL(ctx context.Context, raw string) error {
	if _, err := domain.ValidateWebhookURL(raw, w.s.AllowPrivate); err != nil {
		return err
	}
	if err := w.sender.CheckURL(ctx, raw); err != nil {
		return fmt.Errorf("%w: %w", domain.ErrInvalidWebhook, err)
	}
	return nil
}

// CreateEndpoint registers an endpoint for actor; it returns it with its
// signing secret, which is never shown again (it is stored sealed).
func (w *Webhooks) CreateEndpoint(ctx context.Context, actor, rawURL string, events []string, description string) (domain.WebhookEndpoint, error) {
	events, err := domain.NormalizeWebhookEvents(events)
	if err != nil {
		return domain.WebhookEndpoint{}, err
	}
	if err := w.checkURL(ctx, rawURL); err != nil {
		return domain.WebhookEndpoint{}, err
	}
	secret, err := newWebhookSecret()
	if err != nil {
		return domain.WebhookEndpoint{}, err
	}
	now := w.clock.Now().UTC()
	e := domain.WebhookEndpoint{ID: w.ids.NewID(), URL: rawURL, Events: events, Description: description, Secret: secret, CreatedAt: now, UpdatedAt: now}
	stored := e
	if stored.Secret, err = w.secrets.seal(ctx, e.ID, secret); err != nil {
		return domain.WebhookEndpoint{}, err
	}
	err = w.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := w.store.CreateEndpoint(ctx, stored); err != nil {
			return err
		}
		return w.auditEndpoint(ctx, actor, AuditWebhookEndpointCreated, e)
	})
	if err != nil {
		return domain.WebhookEndpoint{}, err
	}
	return e, nil
}

func (w *Webhooks) auditEndpoint(ctx context.Context, actor, action string, e domain.WebhookEndpoint) error {
	meta := map[string]string{"endpoint_id": e.ID, "url": domain.RedactedWebhookURL(e.URL), "disabled": strconv.FormatBool(e.Disabled)}
	if _, err := w.audit.Append(ctx, actor, action, "", meta); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// Endpoint returns an endpoint; its secrets are sealed.
func (w *Webhooks) Endpoint(ctx context.Context, id string) (domain.WebhookEndpoint, error) {
	return w.store.Endpoint(ctx, id)
}

// Endpoints returns every endpoint, oldest first.
func (w *Webhooks) Endpoints(ctx context.Context) ([]domain.WebhookEndpoint, error) {
	return w.store.Endpoints(ctx)
}

// WebhookPatch changes the fields that are set.
type WebhookPatch struct {
	URL         *string
	Events      []string // nil: unchanged
	Description *string
	Disabled    *bool
}

// UpdateEndpoint applies p for actor. Enabling an endpoint forgets its
// run of failures.
func (w *Webhooks) UpdateEndpoint(ctx context.Context, actor, id string, p WebhookPatch) (domain.WebhookEndpoint, error) {
	if p.URL != nil {
		if err := w.checkURL(ctx, *p.URL); err != nil {
			return domain.WebhookEndpoint{}, err
		}
	}
	var events []string
	if p.Events != nil {
		var err error
		if events, err = domain.NormalizeWebhookEvents(p.Events); err != nil {
			return domain.WebhookEndpoint{}, err
		}
	}
	var out domain.WebhookEndpoint
	err := w.tx.Atomically(ctx, func(ctx context.Context) error {
		e, err := w.store.UpdateEndpoint(ctx, id, func(e *domain.WebhookEndpoint) error {
			if p.URL != nil {
				e.URL = *p.URL
			}
			if events != nil {
				e.Events = events
			}
			if p.Description != nil {
				e.Description = *p.Description
			}
			if p.Disabled != nil {
				if e.Disabled && !*p.Disabled {
					e.FailingSince = time.Time{}
				}
				e.Disabled = *p.Disabled
			}
			e.UpdatedAt = w.clock.Now().UTC()
			return nil
		})
		if err != nil {
			return err
		}
		out = e
		return w.auditEndpoint(ctx, actor, AuditWebhookEndpointUpdated, e)
	})
	return out, err
}

// DeleteEndpoint removes an endpoint and its message log.
func (w *Webhooks) DeleteEndpoint(ctx context.Context, actor, id string) error {
	return w.tx.Atomically(ctx, func(ctx context.Context) error {
		e, err := w.store.Endpoint(ctx, id)
		if err != nil {
			return err
		}
		if err := w.store.DeleteEndpoint(ctx, id); err != nil {
			return err
		}
		return w.auditEndpoint(ctx, actor, AuditWebhookEndpointDeleted, e)
	})
}

// RotateSecret gives the endpoint a new secret, returned once (in the
// endpoint's Secret); the old one keeps signing beside it for the overlap.
func (w *Webhooks) RotateSecret(ctx context.Context, actor, id string) (domain.WebhookEndpoint, error) {
	secret, err := newWebhookSecret()
	if err != nil {
		return domain.WebhookEndpoint{}, err
	}
	sealed, err := w.secrets.seal(ctx, id, secret)
	if err != nil {
		return domain.WebhookEndpoint{}, err
	}
	var out domain.WebhookEndpoint
	err = w.tx.Atomically(ctx, func(ctx context.Context) error {
		e, err := w.store.UpdateEndpoint(ctx, id, func(e *domain.WebhookEndpoint) error {
			if err := e.Rotate(secret, w.clock.Now().UTC(), w.s.SecretOverlap); err != nil {
				return err
			}
			e.Secret = sealed // the previous one was sealed already
			return nil
		})
		if err != nil {
			return err
		}
		out = e
		return w.auditEndpoint(ctx, actor, AuditWebhookSecretRotated, e)
	})
	if err != nil {
		return domain.WebhookEndpoint{}, err // a secret never stored is never handed out
	}
	out.Secret = secret
	return out, nil
}

// SendTest queues a webhook.test event for the endpoint, due now;
// domain.ErrWebhookEndpointDisabled for a disabled one.
func (w *Webhooks) SendTest(ctx context.Context, actor, id string) (domain.WebhookMessage, error) {
	now := w.clock.Now().UTC()
	ev, err := domain.NewWebhookEvent(w.ids.NewID(), domain.WebhookTest, "", now, map[string]any{"endpoint_id": id})
	if err != nil {
		return domain.WebhookMessage{}, err
	}
	var m domain.WebhookMessage
	err = w.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := w.enabled(ctx, id); err != nil {
			return err
		}
		if m, err = w.store.EnqueueTo(ctx, id, ev); err != nil {
			return err
		}
		if _, err := w.audit.Append(ctx, actor, AuditWebhookTestSent, "", map[string]string{"endpoint_id": id, "message_id": m.ID}); err != nil {
			return fmt.Errorf("audit %s: %w", AuditWebhookTestSent, err)
		}
		return nil
	})
	if err == nil {
		w.Wake()
	}
	return m, err
}

// Messages pages through the message log, newest first.
func (w *Webhooks) Messages(ctx context.Context, q ports.WebhookMessageQuery) ([]domain.WebhookMessage, error) {
	return w.store.Messages(ctx, q)
}

// Message returns a message with its attempts.
func (w *Webhooks) Message(ctx context.Context, id string) (domain.WebhookMessage, []domain.WebhookAttempt, error) {
	return w.store.Message(ctx, id)
}

// enabled returns domain.ErrNotFound for an unknown endpoint and
// domain.ErrWebhookEndpointDisabled for a disabled one: nothing is sent to
// it, so queueing would only pretend.
func (w *Webhooks) enabled(ctx context.Context, endpointID string) error {
	e, err := w.store.Endpoint(ctx, endpointID)
	if err != nil {
		return err
	}
	if e.Disabled {
		return fmt.Errorf("%w: %s", domain.ErrWebhookEndpointDisabled, endpointID)
	}
	return nil
}

// Redeliver queues one more attempt of a delivered or failed message, with
// its webhook-id: domain.ErrWebhookMessagePending for one still pending,
// domain.ErrWebhookEndpointDisabled when its endpoint is disabled.
func (w *Webhooks) Redeliver(ctx context.Context, actor, id string) (domain.WebhookMessage, error) {
	var m domain.WebhookMessage
	err := w.tx.Atomically(ctx, func(ctx context.Context) (err error) {
		if m, _, err = w.store.Message(ctx, id); err != nil {
			return err
		}
		if err := w.enabled(ctx, m.EndpointID); err != nil {
			return err
		}
		if m, err = w.store.Redeliver(ctx, id, w.clock.Now().UTC()); err != nil {
			return err
		}
		if _, err := w.audit.Append(ctx, actor, AuditWebhookRedelivered, m.OrderID, map[string]string{"message_id": id, "endpoint_id": m.EndpointID}); err != nil {
			return fmt.Errorf("audit %s: %w", AuditWebhookRedelivered, err)
		}
		return nil
	})
	if err == nil {
		w.Wake()
	}
	return m, err
}

// Recover queues again every message to the endpoint that failed since
// since (also those it missed while disabled); it returns how many, or
// domain.ErrWebhookEndpointDisabled while it is disabled.
func (w *Webhooks) Recover(ctx context.Context, actor, id string, since time.Time) (int, error) {
	var n int
	err := w.tx.Atomically(ctx, func(ctx context.Context) (err error) {
		if err := w.enabled(ctx, id); err != nil {
			return err
		}
		if n, err = w.store.Recover(ctx, id, since, w.clock.Now().UTC()); err != nil {
			return err
		}
		meta := map[string]string{"endpoint_id": id, "since": since.UTC().Format(time.RFC3339), "messages": strconv.Itoa(n)}
		if _, err := w.audit.Append(ctx, actor, AuditWebhookRecovered, "", meta); err != nil {
			return fmt.Errorf("audit %s: %w", AuditWebhookRecovered, err)
		}
		return nil
	})
	if err == nil && n > 0 {
		w.Wake()
	}
	return n, err
}

// Purge deletes settled messages older than the retention.
func (w *Webhooks) Purge(ctx context.Context) (int, error) {
	return w.store.Purge(ctx, w.clock.Now().Add(-w.s.Retention))
}

// Wake has the worker look for due messages at once.
func (w *Webhooks) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Woken is signalled by Wake.
func (w *Webhooks) Woken() <-chan struct{} { return w.wake }

// Deliver claims the due messages this process has room for and sends
// each in its own goroutine, at most PerEndpoint to one endpoint: a slow
// endpoint holds only its own slots. It returns how many it started; Wait
// waits for them.
func (w *Webhooks) Deliver(ctx context.Context) (int, error) {
	w.claiming.Lock()
	defer w.claiming.Unlock()
	c, ok := w.nextClaim()
	if !ok {
		return 0, nil
	}
	claimed, err := w.store.Claim(ctx, c)
	if err != nil {
		return 0, err
	}
	w.start(ctx, claimed)
	return len(claimed), nil
}

// nextClaim is the claim this process has room for: none (false) when
// every slot is taken. The caller holds claiming, so that two claims never
// count on the same room.
func (w *Webhooks) nextClaim() (ports.WebhookClaim, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	free := w.s.Concurrency - w.running
	skip := make([]string, 0, len(w.inFlight))
	for id, n := range w.inFlight {
		if n > 0 {
			skip = append(skip, id)
		}
	}
	return ports.WebhookClaim{Now: w.clock.Now().UTC(), Lease: w.s.lease(), Limit: free, PerEndpoint: w.s.PerEndpoint, Skip: skip}, free > 0
}

// webhookBatch is the deliveries one claim started. The record of an
// attempt that finished waits for the rest of its batch, RecordGather at
// most, so that attempts finishing together are recorded in one
// statement; the endpoint's next messages wait for them all the same (a
// claim skips an endpoint with attempts in flight).
type webhookBatch struct {
	mu      sync.Mutex
	left    int               // attempts still running
	all     chan struct{}     // closed when none is left
	pending []finishedAttempt // finished, to record
	leading bool              // an attempt's goroutine waits to record pending
}

// finishedAttempt is an attempt made, to record.
type finishedAttempt struct {
	d       ports.WebhookDelivery
	record  ports.WebhookRecord
	outcome string // delivered, retry, failed
}

// start sends the claimed deliveries as one batch. The caller holds
// claiming.
func (w *Webhooks) start(ctx context.Context, claimed []ports.WebhookDelivery) {
	if len(claimed) == 0 {
		return
	}
	w.mu.Lock()
	for _, d := range claimed {
		w.inFlight[d.Endpoint.ID]++
		w.running++
	}
	w.mu.Unlock()
	b := &webhookBatch{left: len(claimed), all: make(chan struct{})}
	for _, d := range claimed {
		w.wg.Go(func() {
			f, ok := w.attempt(ctx, d)
			w.finish(ctx, b, d, f, ok)
		})
	}
}

// finish hands an attempt of b to be recorded (ok), or gives its slot back
// when there is nothing to record. The first attempt of b to finish while
// no other waits to record records what has finished once the rest of b
// has, or after RecordGather.
func (w *Webhooks) finish(ctx context.Context, b *webhookBatch, d ports.WebhookDelivery, f finishedAttempt, ok bool) {
	b.mu.Lock()
	if b.left--; b.left == 0 {
		close(b.all)
	}
	if !ok {
		b.mu.Unlock()
		w.release(d)
		w.Wake() // room for more
		return
	}
	b.pending = append(b.pending, f)
	if b.leading {
		b.mu.Unlock()
		return // the one leading records it
	}
	b.leading = true
	b.mu.Unlock()
	gather := time.NewTimer(w.s.RecordGather)
	select {
	case <-b.all:
	case <-gather.C:
	}
	gather.Stop()
	b.mu.Lock()
	fs := b.pending
	b.pending, b.leading = nil, false
	b.mu.Unlock()
	w.record(ctx, fs)
}

// release gives the slots of the deliveries back.
func (w *Webhooks) release(ds ...ports.WebhookDelivery) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, d := range ds {
		w.running--
		if w.inFlight[d.Endpoint.ID]--; w.inFlight[d.Endpoint.ID] <= 0 {
			delete(w.inFlight, d.Endpoint.ID)
		}
	}
}

// Wait waits for the attempts Deliver started, and those their records
// claimed.
func (w *Webhooks) Wait() { w.wg.Wait() }

// attempt sends one message and says what to record (false: nothing, and
// the message is tried again once its lease lapses).
func (w *Webhooks) attempt(ctx context.Context, d ports.WebhookDelivery) (finishedAttempt, bool) {
	m, e := d.Message, d.Endpoint
	var err error
	if e.Secret, err = w.secrets.open(ctx, e.ID, e.Secret); err == nil {
		e.PreviousSecret, err = w.secrets.open(ctx, e.ID, e.PreviousSecret)
	}
	if err != nil {
		w.log.ErrorContext(ctx, "webhook not sent: its signing secret does not open; the message is tried again after its lease", "message_id", m.ID, "endpoint_id", e.ID, "err", err)
		return finishedAttempt{}, false
	}
	start := w.clock.Now().UTC()
	if start.Add(w.s.Timeout).After(m.DueAt) {
		// Too little of the lease is left for an attempt to finish in it
		// (slow secrets, a busy process): another worker may take the
		// message once it lapses, so this one sends nothing.
		w.log.WarnContext(ctx, "webhook not sent: its claim ends before an attempt could; the message is tried again after its lease", "message_id", m.ID, "endpoint_id", e.ID, "lease_ends", m.DueAt)
		return finishedAttempt{}, false
	}
	sig, err := e.SignatureHeader(m.EventID, start, m.Body)
	a := domain.WebhookAttempt{MessageID: m.ID, At: start}
	if err != nil {
		a.Error = "cannot sign: " + err.Error()
	} else {
		h := http.Header{}
		h.Set("webhook-id", m.EventID)
		h.Set("webhook-timestamp", strconv.FormatInt(start.Unix(), 10))
		h.Set("webhook-signature", sig)
		h.Set("Content-Type", "application/json")
		h.Set("User-Agent", w.s.UserAgent)
		sctx, cancel := context.WithTimeout(ctx, w.s.Timeout)
		resp := w.sender.Send(sctx, ports.WebhookRequest{URL: e.URL, Header: h, Body: m.Body})
		cancel()
		a.HTTPStatus, a.Response = resp.Status, resp.Body
		switch {
		case resp.Err != nil:
			a.Error = resp.Err.Error()
		case !a.Succeeded():
			a.Error = fmt.Sprintf("answered %d", resp.Status)
		}
	}
	a.Duration = w.clock.Now().Sub(start)
	o := ports.WebhookOutcome{Claim: d.Claim, DisableBefore: start.Add(-w.s.DisableAfter)}
	outcome := "delivered"
	if a.Succeeded() {
		o.Delivered = true
	} else if next, ok := domain.NextWebhookAttempt(w.s.RetrySchedule, m.Attempts+1, start, domain.WebhookJitter()); ok {
		o.Retry, outcome = next, "retry"
	} else {
		outcome = "failed"
	}
	if ctx.Err() != nil && !o.Delivered {
		return finishedAttempt{}, false // stopping: the lease lapses and the message is tried again
	}
	w.observer.Attempted(e.ID, m.Type, outcome, a.Duration)
	return finishedAttempt{d: d, record: ports.WebhookRecord{Attempt: a, Outcome: o}, outcome: outcome}, true
}

// record stores attempts that finished together and schedules what
// follows, in one statement: with nothing but successes it also claims
// the messages now due that the slots it frees make room for (while the
// worker runs). A failure may disable its endpoint: then the statement
// and the disable's audit record commit together, in a unit of work, and
// the worker is woken to claim. A failure to record leaves the messages
// claimed: they are tried again once their leases lapse.
func (w *Webhooks) record(ctx context.Context, fs []finishedAttempt) {
	rs, ds, failed := make([]ports.WebhookRecord, len(fs)), make([]ports.WebhookDelivery, len(fs)), false
	for i, f := range fs {
		rs[i], ds[i] = f.record, f.d
		failed = failed || !f.record.Outcome.Delivered
	}
	sctx := context.WithoutCancel(ctx)
	var (
		res ports.WebhookRecorded
		err error
	)
	if failed {
		err = w.tx.Atomically(sctx, func(ctx context.Context) error {
			var err error
			if res, err = w.store.Record(ctx, rs, nil); err != nil {
				return err
			}
			for _, e := range res.Disabled {
				if err := w.auditEndpoint(ctx, ActorSystem, AuditWebhookEndpointDisabled, e); err != nil {
					return err
				}
			}
			return nil
		})
		w.release(ds...)
		w.Wake()
	} else {
		w.claiming.Lock()
		w.release(ds...)
		var next *ports.WebhookClaim
		if c, ok := w.nextClaim(); ok && ctx.Err() == nil {
			next = &c
		}
		if res, err = w.store.Record(sctx, rs, next); err == nil {
			w.start(ctx, res.Claimed)
		}
		w.claiming.Unlock()
		if err != nil {
			w.Wake()
		}
	}
	if err != nil {
		for _, f := range fs {
			w.log.ErrorContext(ctx, "webhook attempt not recorded; the message is tried again after its lease", "message_id", f.d.Message.ID, "endpoint_id", f.d.Endpoint.ID, "err", err)
		}
		return
	}
	for i, f := range fs {
		w.recorded(ctx, f, res.Errs[i])
	}
	for _, e := range res.Disabled {
		w.endpointDisabled(sctx, e)
	}
}

// recorded logs what became of an attempt.
func (w *Webhooks) recorded(ctx context.Context, f finishedAttempt, err error) {
	m, e, a, o := f.d.Message, f.d.Endpoint, f.record.Attempt, f.record.Outcome
	switch {
	case errors.Is(err, domain.ErrWebhookClaimLost):
		w.log.WarnContext(ctx, "webhook attempt recorded after its claim lapsed; the message's new claim settles it", "message_id", m.ID, "endpoint_id", e.ID)
		return
	case err != nil:
		w.log.ErrorContext(ctx, "webhook attempt not recorded; the message is tried again after its lease", "message_id", m.ID, "endpoint_id", e.ID, "err", err)
		return
	}
	log := w.log.With("message_id", m.ID, "webhook_id", m.EventID, "endpoint_id", e.ID, "type", m.Type, "attempt", m.Attempts+1, "http_status", a.HTTPStatus)
	switch f.outcome {
	case "delivered":
		log.DebugContext(ctx, "webhook delivered")
	case "retry":
		log.InfoContext(ctx, "webhook attempt failed; retrying", "retry_at", o.Retry, "error", a.Error)
	default:
		log.WarnContext(ctx, "webhook failed after its last attempt", "error", a.Error)
	}
}

// endpointDisabled tells the operators that an endpoint was disabled (its
// audit record committed with the disable).
func (w *Webhooks) endpointDisabled(ctx context.Context, e domain.WebhookEndpoint) {
	w.observer.Disabled(e.ID)
	w.log.ErrorContext(ctx, "webhook endpoint disabled: every delivery failed for too long", "endpoint_id", e.ID, "url", domain.RedactedWebhookURL(e.URL), "failing_for", w.s.DisableAfter.String())
	if w.s.OperatorEmail == "" {
		return
	}
	_, err := w.mailer.Send(ctx, ports.Email{Template: "webhook_endpoint_disabled", To: w.s.OperatorEmail,
		Subject: "keyward disabled a webhook endpoint",
		Text: fmt.Sprintf("Every delivery to webhook endpoint %s failed for %s, so keyward disabled it.\n\nEnable it again with PATCH /v1/admin/webhooks/endpoints/%s {\"disabled\": false}, "+
			"then redeliver what it missed with POST /v1/admin/webhooks/endpoints/%s/recover?since=...\n", e.ID, w.s.DisableAfter, e.ID, e.ID),
		IdempotencyKey: "webhook-endpoint-disabled/" + e.ID + "/" + e.FailingSince.UTC().Format(time.RFC3339)})
	if err != nil && !errors.Is(err, context.Canceled) {
		w.log.ErrorContext(ctx, "could not email the operator about a disabled webhook endpoint", "endpoint_id", e.ID, "err", err)
	}
}

// WebhookRevelations is log, which also writes a delivery.revealed event
// when a link's first reveal is appended, in the same unit of work.
func WebhookRevelations(log ports.RevelationLog, store ports.WebhookStore, ids ports.IDs) ports.RevelationLog {
	require("WebhookRevelations", "revelations", log, "store", store, "ids", ids)
	return webhookRevelations{RevelationLog: log, store: store, ids: ids}
}

type webhookRevelations struct {
	ports.RevelationLog
	store ports.WebhookStore
	ids   ports.IDs
}

func (r webhookRevelations) Append(ctx context.Context, rs ...domain.KeyRevelation) error {
	if err := r.RevelationLog.Append(ctx, rs...); err != nil {
		return err
	}
	if len(rs) == 0 || !rs[0].First() {
		return nil
	}
	items := make([]string, 0, len(rs))
	for _, rv := range rs {
		items = append(items, rv.ItemID())
	}
	ev, err := domain.NewWebhookEvent(r.ids.NewID(), domain.WebhookDeliveryRevealed, rs[0].OrderID(), rs[0].At(),
		map[string]any{"order_id": rs[0].OrderID(), "item_ids": items})
	if err != nil {
		return err
	}
	return r.store.Enqueue(ctx, ev)
}

// CheckSupplierBalance writes a supplier.balance_low event when balance
// is below threshold (0: never). Its webhook-id names the day, so that
// every worker checking on the same day writes it once.
func (w *Webhooks) CheckSupplierBalance(ctx context.Context, supplier string, balance, threshold float64) error {
	if threshold <= 0 || balance >= threshold {
		return nil
	}
	now := w.clock.Now().UTC()
	ev, err := domain.NewWebhookEvent(domain.DailyWebhookID(domain.WebhookSupplierBalanceLow, supplier, now), domain.WebhookSupplierBalanceLow, "", now,
		map[string]any{"supplier": supplier, "balance": balance, "threshold": threshold})
	if err != nil {
		return err
	}
	if err := w.store.Enqueue(ctx, ev); err != nil {
		return err
	}
	w.Wake()
	return nil
}

// WebhookAudit is log, which also writes a delivery.link_reissued event
// when the resend of a delivery link is audited: in the resend's unit of
// work, as the audit record is.
func WebhookAudit(log ports.AuditLog, store ports.WebhookStore, ids ports.IDs) ports.AuditLog {
	require("WebhookAudit", "audit", log, "store", store, "ids", ids)
	return webhookAudit{AuditLog: log, store: store, ids: ids}
}

type webhookAudit struct {
	ports.AuditLog
	store ports.WebhookStore
	ids   ports.IDs
}

func (a webhookAudit) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	rec, err := a.AuditLog.Append(ctx, actor, action, subject, details)
	if err != nil || action != AuditDeliveryResent {
		return rec, err
	}
	by, at := "customer", rec.At
	if actor != ActorCustomer {
		by = "admin"
	}
	if at.IsZero() {
		at = time.Now()
	}
	ev, err := domain.NewWebhookEvent(a.ids.NewID(), domain.WebhookDeliveryLinkReissued, subject, at, map[string]any{"order_id": subject, "requested_by": by})
	if err != nil {
		return rec, err
	}
	return rec, a.store.Enqueue(ctx, ev)
}

// WebhookStock is stock, which also writes a stock.low event when a claim
// leaves fewer than threshold keys of its product available (at most once
// a day per product: the webhook-id names the day), in the claim's unit
// of work. It reads the product's counts after each claim, so it costs
// one statement per own-stock item; a threshold of 0 returns stock as is.
func WebhookStock(stock ports.StockRepository, store ports.WebhookStore, clock ports.Clock, threshold int) ports.StockRepository {
	if threshold <= 0 {
		return stock
	}
	require("WebhookStock", "stock", stock, "store", store, "clock", clock)
	return webhookStock{StockRepository: stock, store: store, clock: clock, threshold: threshold}
}

type webhookStock struct {
	ports.StockRepository
	store     ports.WebhookStore
	clock     ports.Clock
	threshold int
}

func (s webhookStock) Claim(ctx context.Context, sku, itemID string, n int) ([]domain.StockKey, error) {
	keys, err := s.StockRepository.Claim(ctx, sku, itemID, n)
	if err != nil {
		return keys, err
	}
	counts, err := s.StockRepository.Counts(ctx, sku)
	if err != nil || counts.Available >= s.threshold {
		return keys, err
	}
	now := s.clock.Now().UTC()
	ev, err := domain.NewWebhookEvent(domain.DailyWebhookID(domain.WebhookStockLow, sku, now), domain.WebhookStockLow, "", now,
		map[string]any{"sku": sku, "available": counts.Available, "threshold": s.threshold})
	if err != nil {
		return keys, err
	}
	return keys, s.store.Enqueue(ctx, ev)
}
