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

	// Claim leases up to limit due messages (due at or before now) until
	// now+lease (their DueAt while claimed), at most perEndpoint of any one
	// endpoint and none of the endpoints in skip; each comes with its
	// endpoint and a claim token of its own, which Record needs. A disabled
	// endpoint's messages are not claimed.
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit, perEndpoint int, skip []string) ([]WebhookDelivery, error)
	// Record stores an attempt and, when the outcome's Claim is still the
	// message's claim, settles its message as the outcome says and tracks
	// the endpoint's run of failures: a success ends it; a failure starts
	// it (FailingSince) unless it runs already, and when it began at or
	// before disableBefore the endpoint is disabled. Under a claim that
	// lapsed and was taken again it stores the attempt only and returns
	// domain.ErrWebhookClaimLost.
	// disabled reports whether this call disabled it.
	Record(ctx context.Context, a domain.WebhookAttempt, o WebhookOutcome, disableBefore time.Time) (disabled bool, err error)

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
