package ports

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/domain"
)

// WebhookStore keeps the shop's webhook endpoints, the messages on their
// way to them and every attempt. The message table is the durable
// schedule of deliveries, whatever the broker: a message is due until an
// attempt settles it, and a claim is a lease that lapses when its worker
// dies.
type WebhookStore interface {
	// CreateEndpoint stores e; domain.ErrConflict if its id exists.
	CreateEndpoint(ctx context.Context, e domain.WebhookEndpoint) error
	// Endpoint returns an endpoint or domain.ErrNotFound.
	Endpoint(ctx context.Context, id string) (domain.WebhookEndpoint, error)
	// Endpoints returns every endpoint, oldest first.
	Endpoints(ctx context.Context) ([]domain.WebhookEndpoint, error)
	// UpdateEndpoint changes an endpoint with fn, atomically; fn's error
	// is returned and nothing is saved. domain.ErrNotFound if it does not
	// exist.
	UpdateEndpoint(ctx context.Context, id string, fn func(*domain.WebhookEndpoint) error) (domain.WebhookEndpoint, error)
	// DeleteEndpoint removes an endpoint and its messages;
	// domain.ErrNotFound if it does not exist.
	DeleteEndpoint(ctx context.Context, id string) error

	// Enqueue writes a message for each event to every endpoint
	// subscribed to its type, in the caller's unit of work when ctx
	// carries one: due at once for an enabled endpoint, failed with no
	// attempt for a disabled one (Recover brings it back once the
	// endpoint is enabled again). An event enqueued again (same id) is not
	// written twice.
	Enqueue(ctx context.Context, events ...domain.WebhookEvent) error
	// EnqueueTo writes ev for the endpoint id alone, whatever it subscribes
	// to (a webhook.test); domain.ErrNotFound if it does not exist.
	EnqueueTo(ctx context.Context, endpointID string, ev domain.WebhookEvent) (domain.WebhookMessage, error)

	// Claim leases up to c.Limit due messages (due at or before c.Now)
	// until c.Now+c.Lease (their DueAt while claimed), at most
	// c.PerEndpoint of any one endpoint and none of the endpoints in
	// c.Skip; each comes with its endpoint and a claim token of its own,
	// which Record needs. A disabled endpoint's messages are not claimed.
	Claim(ctx context.Context, c WebhookClaim) ([]WebhookDelivery, error)
	// Record stores attempts (one, or several that finished together), in
	// one unit: in the caller's unit of work when ctx carries one, so that
	// an endpoint it disables is audited with it. Each record whose
	// outcome's Claim is still its message's claim settles the message as
	// the outcome says, and tracks the endpoint's run of failures, records
	// of one endpoint taken in order: a success ends it; a failure starts
	// it (FailingSince) unless it runs already, and when it began at or
	// before the outcome's DisableBefore the endpoint is disabled. Under a
	// claim that lapsed and was taken again a record stores the attempt
	// only (its Errs entry is domain.ErrWebhookClaimLost); of an unknown
	// message, nothing (domain.ErrNotFound).
	//
	// With next, it also claims as Claim does, in the same statement where
	// the store can: the due messages the records free room for. It claims
	// none of the recorded messages, nor any of an endpoint it disables.
	Record(ctx context.Context, rs []WebhookRecord, next *WebhookClaim) (WebhookRecorded, error)

	// Messages returns messages newest first, filtered as q says.
	Messages(ctx context.Context, q WebhookMessageQuery) ([]domain.WebhookMessage, error)
	// Message returns a message with its attempts, oldest first, or
	// domain.ErrNotFound.
	Message(ctx context.Context, id string) (domain.WebhookMessage, []domain.WebhookAttempt, error)
	// Redeliver makes a delivered or failed message due at now for one
	// more attempt; domain.ErrWebhookMessagePending for a pending one
	// (due, or claimed and maybe being sent), so that a message is never
	// sent twice at once; domain.ErrNotFound if it does not exist.
	Redeliver(ctx context.Context, id string, now time.Time) (domain.WebhookMessage, error)
	// Recover makes every message of the endpoint that failed and was
	// created at or after since due at now; it returns how many.
	Recover(ctx context.Context, endpointID string, since, now time.Time) (int, error)
	// Purge deletes settled messages (and their attempts) created before
	// before; it returns how many.
	Purge(ctx context.Context, before time.Time) (int, error)
}

// WebhookDelivery is a claimed message and the endpoint it goes to.
type WebhookDelivery struct {
	Message  domain.WebhookMessage
	Endpoint domain.WebhookEndpoint
	Claim    string // this claim's token, new at every claim
}

// WebhookOutcome settles a message after an attempt: delivered, due
// again at Retry, or failed for good (neither).
type WebhookOutcome struct {
	Delivered bool
	Retry     time.Time // zero: no more attempts
	Claim     string    // the claim the attempt was made under
	// DisableBefore: a failure disables the endpoint when its run of
	// failures began at or before this (the attempt's start less
	// KEYWARD_WEBHOOK_DISABLE_AFTER).
	DisableBefore time.Time
}

// WebhookRecord is one attempt to store and the outcome that settles its
// message.
type WebhookRecord struct {
	Attempt domain.WebhookAttempt
	Outcome WebhookOutcome
}

// WebhookRecorded is what a Record did.
type WebhookRecorded struct {
	// Errs has one entry per record, in their order: nil when it settled
	// its message, domain.ErrWebhookClaimLost when only its attempt was
	// stored, domain.ErrNotFound when its message does not exist.
	Errs []error
	// Disabled are the endpoints this call disabled, as they are now.
	Disabled []domain.WebhookEndpoint
	// Claimed are the deliveries next claimed.
	Claimed []WebhookDelivery
}

// WebhookClaim is what Claim is given: claim up to Limit messages due at
// or before Now until Now+Lease, at most PerEndpoint of any one endpoint
// and none of the endpoints in Skip.
type WebhookClaim struct {
	Now                time.Time
	Lease              time.Duration
	Limit, PerEndpoint int
	Skip               []string
}

// WebhookMessageQuery filters the message log; zero fields match all.
type WebhookMessageQuery struct {
	EndpointID string
	Type       string
	Status     string
	OrderID    string
	After      string // cursor: the last id of the previous page
	Limit      int    // 0: all
}

// WebhookRequest is one signed POST to an endpoint.
type WebhookRequest struct {
	URL    string
	Header http.Header
	Body   []byte
}

// WebhookResponse is what an endpoint answered: its status (0 when none
// came), the first domain.WebhookResponseKept bytes of its body, or the
// error that kept an answer from arriving.
type WebhookResponse struct {
	Status int
	Body   string
	Err    error
}

// WebhookSender posts webhooks to the shop: only to public addresses
// (unless configured for development), following no redirect, within a
// timeout.
type WebhookSender interface {
	// CheckURL resolves the URL's host and refuses an address that is
	// not public.
	CheckURL(ctx context.Context, rawURL string) error
	// Send posts req, checking the address it connects to again.
	Send(ctx context.Context, req WebhookRequest) WebhookResponse
}
