package memory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Webhooks is a ports.WebhookStore in memory, mirroring Postgres: message
// ids are a sequence, a claim is a lease on due_at with a token of its own.
type Webhooks struct {
	mu        sync.Mutex
	endpoints map[string]domain.WebhookEndpoint
	messages  map[string]*domain.WebhookMessage
	attempts  map[string][]domain.WebhookAttempt
	claims    map[string]string // message id: its latest claim's token
	seq       int64
	claimSeq  int64
}

var _ ports.WebhookStore = (*Webhooks)(nil)

// NewWebhooks returns an empty store.
func NewWebhooks() *Webhooks {
	return &Webhooks{endpoints: map[string]domain.WebhookEndpoint{}, messages: map[string]*domain.WebhookMessage{},
		attempts: map[string][]domain.WebhookAttempt{}, claims: map[string]string{}}
}

func cloneEndpoint(e domain.WebhookEndpoint) domain.WebhookEndpoint {
	e.Events = slices.Clone(e.Events)
	return e
}

func cloneMessage(m *domain.WebhookMessage) domain.WebhookMessage {
	c := *m
	c.Body = slices.Clone(m.Body)
	return c
}

// CreateEndpoint stores e; domain.ErrConflict if its id exists.
func (w *Webhooks) CreateEndpoint(_ context.Context, e domain.WebhookEndpoint) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.endpoints[e.ID]; ok {
		return fmt.Errorf("%w: webhook endpoint %s exists", domain.ErrConflict, e.ID)
	}
	w.endpoints[e.ID] = cloneEndpoint(e)
	return nil
}

// Endpoint returns an endpoint or domain.ErrNotFound.
func (w *Webhooks) Endpoint(_ context.Context, id string) (domain.WebhookEndpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.endpoints[id]
	if !ok {
		return domain.WebhookEndpoint{}, fmt.Errorf("%w: webhook endpoint %s", domain.ErrNotFound, id)
	}
	return cloneEndpoint(e), nil
}

// Endpoints returns every endpoint, oldest first.
func (w *Webhooks) Endpoints(context.Context) ([]domain.WebhookEndpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]domain.WebhookEndpoint, 0, len(w.endpoints))
	for _, e := range w.endpoints {
		out = append(out, cloneEndpoint(e))
	}
	slices.SortFunc(out, func(a, b domain.WebhookEndpoint) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// UpdateEndpoint changes an endpoint with fn under the store's lock.
func (w *Webhooks) UpdateEndpoint(_ context.Context, id string, fn func(*domain.WebhookEndpoint) error) (domain.WebhookEndpoint, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.endpoints[id]
	if !ok {
		return domain.WebhookEndpoint{}, fmt.Errorf("%w: webhook endpoint %s", domain.ErrNotFound, id)
	}
	e = cloneEndpoint(e)
	if err := fn(&e); err != nil {
		return domain.WebhookEndpoint{}, err
	}
	e.ID = id
	w.endpoints[id] = cloneEndpoint(e)
	return e, nil
}

// DeleteEndpoint removes an endpoint and its messages.
func (w *Webhooks) DeleteEndpoint(_ context.Context, id string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.endpoints[id]; !ok {
		return fmt.Errorf("%w: webhook endpoint %s", domain.ErrNotFound, id)
	}
	delete(w.endpoints, id)
	for mid, m := range w.messages {
		if m.EndpointID == id {
			delete(w.messages, mid)
			delete(w.attempts, mid)
			delete(w.claims, mid)
		}
	}
	return nil
}

// add writes ev for endpoint e unless it was written before; the caller
// holds the lock.
func (w *Webhooks) add(e domain.WebhookEndpoint, ev domain.WebhookEvent) *domain.WebhookMessage {
	for _, m := range w.messages {
		if m.EventID == ev.ID && m.EndpointID == e.ID {
			return m
		}
	}
	w.seq++
	m := &domain.WebhookMessage{ID: strconv.FormatInt(w.seq, 10), EventID: ev.ID, EndpointID: e.ID, Type: ev.Type, OrderID: ev.OrderID,
		Body: slices.Clone(ev.Body), Status: domain.WebhookPending, DueAt: ev.At, CreatedAt: ev.At}
	if e.Disabled {
		m.Status = domain.WebhookFailed // kept for a recover once it is enabled again
	}
	w.messages[m.ID] = m
	return m
}

// Enqueue writes each event for every endpoint subscribed to it: failed
// with no attempt for a disabled one.
func (w *Webhooks) Enqueue(_ context.Context, events ...domain.WebhookEvent) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, ev := range events {
		for _, e := range w.endpoints {
			if e.Subscribes(ev.Type) {
				w.add(e, ev)
			}
		}
	}
	return nil
}

// EnqueueTo writes ev for one endpoint.
func (w *Webhooks) EnqueueTo(_ context.Context, endpointID string, ev domain.WebhookEvent) (domain.WebhookMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, ok := w.endpoints[endpointID]
	if !ok {
		return domain.WebhookMessage{}, fmt.Errorf("%w: webhook endpoint %s", domain.ErrNotFound, endpointID)
	}
	return cloneMessage(w.add(e, ev)), nil
}

// Claim leases due messages, oldest due first.
func (w *Webhooks) Claim(ctx context.Context, c ports.WebhookClaim) ([]ports.WebhookDelivery, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	undo := w.undoLog()
	out := w.claim(c, undo, nil, nil)
	w.onRollback(ctx, undo)
	return out, nil
}

// claim leases due messages, none of those in skipMessages nor of the
// endpoints in skipEndpoints; the caller holds the lock.
func (w *Webhooks) claim(c ports.WebhookClaim, undo *webhookUndo, skipMessages, skipEndpoints map[string]bool) []ports.WebhookDelivery {
	var due []*domain.WebhookMessage
	for _, m := range w.messages {
		e := w.endpoints[m.EndpointID]
		if m.Status == domain.WebhookPending && !m.DueAt.After(c.Now) && !e.Disabled && !slices.Contains(c.Skip, m.EndpointID) &&
			!skipMessages[m.ID] && !skipEndpoints[m.EndpointID] {
			due = append(due, m)
		}
	}
	slices.SortFunc(due, func(a, b *domain.WebhookMessage) int {
		if c := a.DueAt.Compare(b.DueAt); c != 0 {
			return c
		}
		return messageSeq(a.ID) - messageSeq(b.ID)
	})
	var out []ports.WebhookDelivery
	per := map[string]int{}
	for _, m := range due {
		if len(out) >= c.Limit {
			break
		}
		if per[m.EndpointID] >= c.PerEndpoint {
			continue
		}
		per[m.EndpointID]++
		undo.message(m.ID)
		m.DueAt = c.Now.Add(c.Lease)
		w.claimSeq++
		w.claims[m.ID] = "claim-" + strconv.FormatInt(w.claimSeq, 10)
		out = append(out, ports.WebhookDelivery{Message: cloneMessage(m), Endpoint: cloneEndpoint(w.endpoints[m.EndpointID]), Claim: w.claims[m.ID]})
	}
	return out
}

func messageSeq(id string) int {
	n, _ := strconv.Atoi(id)
	return n
}

// Record stores attempts and settles their messages, in order, and claims
// what is due when next is given.
func (w *Webhooks) Record(ctx context.Context, rs []ports.WebhookRecord, next *ports.WebhookClaim) (ports.WebhookRecorded, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	undo := w.undoLog()
	out := ports.WebhookRecorded{Errs: make([]error, len(rs))}
	recorded, disabled := map[string]bool{}, map[string]bool{}
	for i, r := range rs {
		a, o := r.Attempt, r.Outcome
		m, ok := w.messages[a.MessageID]
		if !ok {
			out.Errs[i] = fmt.Errorf("%w: webhook message %s", domain.ErrNotFound, a.MessageID)
			continue
		}
		recorded[m.ID] = true
		undo.attempt(a)
		w.attempts[m.ID] = append(w.attempts[m.ID], a)
		if c, ok := w.claims[m.ID]; !ok || c != o.Claim {
			out.Errs[i] = fmt.Errorf("%w: webhook message %s", domain.ErrWebhookClaimLost, a.MessageID)
			continue
		}
		undo.message(m.ID)
		m.Attempts++
		if m.Status == domain.WebhookPending { // a lapsed claim's late attempt settles nothing settled
			switch {
			case o.Delivered:
				m.Status = domain.WebhookDelivered
			case !o.Retry.IsZero():
				m.DueAt = o.Retry
			default:
				m.Status = domain.WebhookFailed
			}
		}
		e, ok := w.endpoints[m.EndpointID]
		if !ok {
			continue
		}
		undo.endpoint(e)
		if o.Delivered {
			e.FailingSince = time.Time{}
		} else {
			if e.FailingSince.IsZero() {
				e.FailingSince = a.At
			}
			if !e.Disabled && !e.FailingSince.After(o.DisableBefore) {
				e.Disabled, disabled[e.ID] = true, true
			}
		}
		w.endpoints[e.ID] = e
	}
	for id := range disabled {
		out.Disabled = append(out.Disabled, cloneEndpoint(w.endpoints[id]))
	}
	slices.SortFunc(out.Disabled, func(a, b domain.WebhookEndpoint) int { return compareStrings(a.ID, b.ID) })
	if next != nil {
		out.Claimed = w.claim(*next, undo, recorded, disabled)
	}
	w.onRollback(ctx, undo)
	return out, nil
}

// webhookUndo is what a Record or a Claim changed, to undo it when the
// unit of work it took part in fails: each message and endpoint is given
// back its state from before, unless someone changed it since (then the
// later change stands, as a row lock would have kept it from happening).
type webhookUndo struct {
	w         *Webhooks
	messages  map[string]webhookMessageState
	endpoints map[string]domain.WebhookEndpoint
	attempts  []domain.WebhookAttempt
}

// webhookMessageState is what a record or a claim changes of a message.
type webhookMessageState struct {
	status   string
	attempts int
	dueAt    time.Time
	claim    string
}

func (w *Webhooks) undoLog() *webhookUndo {
	return &webhookUndo{w: w, messages: map[string]webhookMessageState{}, endpoints: map[string]domain.WebhookEndpoint{}}
}

func (w *Webhooks) messageState(id string) webhookMessageState {
	m := w.messages[id]
	return webhookMessageState{status: m.Status, attempts: m.Attempts, dueAt: m.DueAt, claim: w.claims[id]}
}

// message notes message id's state before its first change.
func (u *webhookUndo) message(id string) {
	if _, ok := u.messages[id]; !ok {
		u.messages[id] = u.w.messageState(id)
	}
}

// endpoint notes e's state before its first change.
func (u *webhookUndo) endpoint(e domain.WebhookEndpoint) {
	if _, ok := u.endpoints[e.ID]; !ok {
		u.endpoints[e.ID] = e
	}
}

func (u *webhookUndo) attempt(a domain.WebhookAttempt) { u.attempts = append(u.attempts, a) }

// onRollback has what undo noted given back if the unit of work in ctx
// fails; the caller holds the lock.
func (w *Webhooks) onRollback(ctx context.Context, undo *webhookUndo) {
	u := unitFrom(ctx)
	if u == nil || (len(undo.messages) == 0 && len(undo.endpoints) == 0 && len(undo.attempts) == 0) {
		return
	}
	after := map[string]webhookMessageState{}
	for id := range undo.messages {
		after[id] = w.messageState(id)
	}
	afterEndpoints := map[string]domain.WebhookEndpoint{}
	for id := range undo.endpoints {
		afterEndpoints[id] = w.endpoints[id]
	}
	u.onRollback(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		for id, before := range undo.messages {
			m, ok := w.messages[id]
			if !ok || w.messageState(id) != after[id] {
				continue
			}
			m.Status, m.Attempts, m.DueAt = before.status, before.attempts, before.dueAt
			if before.claim == "" {
				delete(w.claims, id)
			} else {
				w.claims[id] = before.claim
			}
		}
		for id, before := range undo.endpoints {
			e, ok := w.endpoints[id]
			if now := afterEndpoints[id]; !ok || e.Disabled != now.Disabled || !e.FailingSince.Equal(now.FailingSince) {
				continue
			}
			e.Disabled, e.FailingSince = before.Disabled, before.FailingSince
			w.endpoints[id] = e
		}
		for _, a := range slices.Backward(undo.attempts) {
			kept := w.attempts[a.MessageID]
			if i := slices.IndexFunc(kept, func(k domain.WebhookAttempt) bool { return k == a }); i >= 0 {
				w.attempts[a.MessageID] = slices.Delete(kept, i, i+1)
			}
		}
	})
}

func (w *Webhooks) matches(m *domain.WebhookMessage, q ports.WebhookMessageQuery) bool {
	return (q.EndpointID == "" || m.EndpointID == q.EndpointID) && (q.Type == "" || m.Type == q.Type) &&
		(q.Status == "" || m.Status == q.Status) && (q.OrderID == "" || m.OrderID == q.OrderID) &&
		(q.After == "" || messageSeq(m.ID) < messageSeq(q.After))
}

// Messages returns messages newest first.
func (w *Webhooks) Messages(_ context.Context, q ports.WebhookMessageQuery) ([]domain.WebhookMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []domain.WebhookMessage
	for _, m := range w.messages {
		if w.matches(m, q) {
			out = append(out, cloneMessage(m))
		}
	}
	slices.SortFunc(out, func(a, b domain.WebhookMessage) int { return messageSeq(b.ID) - messageSeq(a.ID) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// Message returns a message and its attempts.
func (w *Webhooks) Message(_ context.Context, id string) (domain.WebhookMessage, []domain.WebhookAttempt, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.messages[id]
	if !ok {
		return domain.WebhookMessage{}, nil, fmt.Errorf("%w: webhook message %s", domain.ErrNotFound, id)
	}
	return cloneMessage(m), slices.Clone(w.attempts[id]), nil
}

// Redeliver makes a settled message due at now.
func (w *Webhooks) Redeliver(_ context.Context, id string, now time.Time) (domain.WebhookMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.messages[id]
	if !ok {
		return domain.WebhookMessage{}, fmt.Errorf("%w: webhook message %s", domain.ErrNotFound, id)
	}
	if m.Status == domain.WebhookPending {
		return domain.WebhookMessage{}, fmt.Errorf("%w: %s", domain.ErrWebhookMessagePending, id)
	}
	m.Status, m.DueAt = domain.WebhookPending, now
	return cloneMessage(m), nil
}

// Recover makes the endpoint's messages that failed since since due.
func (w *Webhooks) Recover(_ context.Context, endpointID string, since, now time.Time) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for _, m := range w.messages {
		if m.EndpointID == endpointID && m.Status == domain.WebhookFailed && !m.CreatedAt.Before(since) {
			m.Status, m.DueAt = domain.WebhookPending, now
			n++
		}
	}
	return n, nil
}

// Purge deletes settled messages created before before.
func (w *Webhooks) Purge(_ context.Context, before time.Time) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for id, m := range w.messages {
		if m.Status != domain.WebhookPending && m.CreatedAt.Before(before) {
			delete(w.messages, id)
			delete(w.attempts, id)
			delete(w.claims, id)
			n++
		}
	}
	return n, nil
}
