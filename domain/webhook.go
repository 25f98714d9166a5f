package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidWebhook: a webhook endpoint with a bad URL, an unknown event
// type or a malformed secret.
var ErrInvalidWebhook = errors.New("invalid webhook endpoint")

// Errors of sending to an endpoint again.
var (
	// ErrWebhookEndpointDisabled: nothing is sent to a disabled endpoint;
	// enable it first.
	ErrWebhookEndpointDisabled = errors.New(`webhook endpoint is disabled: enable it first (PATCH {"disabled": false})`)
	// ErrWebhookMessagePending: the message still waits for an attempt or
	// is being sent; a redelivery now could send it twice at once.
	ErrWebhookMessagePending = errors.New("webhook message is pending or being sent; redeliver it once it has been delivered or has failed")
	// ErrWebhookClaimLost: an attempt was made under a claim that lapsed
	// and was taken again; it settles nothing.
	ErrWebhookClaimLost = errors.New("webhook message claim lapsed and was taken again")
)

// WebhookSecretPrefix starts every endpoint signing secret (Standard
// Webhooks: whsec_ and the base64 of the key).
const WebhookSecretPrefix = "whsec_"

// WebhookSecretBytes is the length of a new signing key.
const WebhookSecretBytes = 32

// NewWebhookSecret encodes key (at least 24 random bytes) as a signing
// secret.
func NewWebhookSecret(key []byte) (string, error) {
	if len(key) < 24 {
		return "", fmt.Errorf("%w: a signing key needs at least 24 bytes, got %d", ErrInvalidWebhook, len(key))
	}
	return WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// webhookKey decodes a secret made by NewWebhookSecret.
func webhookKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: a signing secret starts with %s", ErrInvalidWebhook, WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil || len(key) < 24 {
		return nil, fmt.Errorf("%w: a signing secret is the base64 of at least 24 bytes", ErrInvalidWebhook)
	}
	return key, nil
}

// SignWebhook returns the Standard Webhooks signature of body under
// secret: "v1," and the base64 HMAC-SHA256 of "{id}.{timestamp}.{body}".
func SignWebhook(secret, id string, at time.Time, body []byte) (string, error) {
	key, err := webhookKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// WebhookEndpoint is a URL of the shop that receives the events it
// subscribed to, signed with its secret. During a rotation the previous
// secret keeps signing beside the new one until PreviousUntil.
type WebhookEndpoint struct {
	ID          string
	URL         string
	Events      []string // event type names, or just WebhookAllEvents
	Description string
	Disabled    bool
	Secret      string
	// PreviousSecret signs alongside Secret until PreviousUntil; "" when
	// no rotation overlaps.
	PreviousSecret string
	PreviousUntil  time.Time
	// FailingSince is the first failed attempt of the current run of
	// failures; zero while deliveries succeed.
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// maxWebhookURL bounds an endpoint's URL.
const maxWebhookURL = 2048

// ValidateWebhookURL checks that raw is an absolute https URL (http too
// when allowHTTP) without credentials or a fragment.
func ValidateWebhookURL(raw string, allowHTTP bool) (*url.URL, error) {
	if raw == "" || len(raw) > maxWebhookURL {
		return nil, fmt.Errorf("%w: url must be 1 to %d characters", ErrInvalidWebhook, maxWebhookURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%w: url must be an absolute https URL", ErrInvalidWebhook)
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowHTTP:
	default:
		return nil, fmt.Errorf("%w: url must use https (plain http only with KEYWARD_WEBHOOK_ALLOW_PRIVATE=true)", ErrInvalidWebhook)
	}
	if u.User != nil {
		return nil, fmt.Errorf("%w: url must not carry credentials; the signature authenticates keyward", ErrInvalidWebhook)
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%w: url must not have a fragment", ErrInvalidWebhook)
	}
	return u, nil
}

// NormalizeWebhookEvents checks and sorts an endpoint's subscription:
// known event types without duplicates, or just "*".
func NormalizeWebhookEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("%w: events must name at least one event type, or \"*\" for all", ErrInvalidWebhook)
	}
	out := make([]string, 0, len(events))
	for _, e := range events {
		switch {
		case e == WebhookAllEvents:
			if len(events) != 1 {
				return nil, fmt.Errorf("%w: \"*\" subscribes to every event type and stands alone", ErrInvalidWebhook)
			}
		case !IsWebhookEventType(e):
			return nil, fmt.Errorf("%w: unknown event type %q (GET /v1/admin/webhooks/event-types lists them)", ErrInvalidWebhook, e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Subscribes reports whether the endpoint wants events of type name.
// A webhook.test goes only to the endpoint it was sent to (SendTest).
func (e WebhookEndpoint) Subscribes(name string) bool {
	return slices.Contains(e.Events, WebhookAllEvents) || slices.Contains(e.Events, name)
}

// Rotate makes secret the signing secret; the current one keeps signing
// beside it until now+overlap.
func (e *WebhookEndpoint) Rotate(secret string, now time.Time, overlap time.Duration) error {
	if _, err := webhookKey(secret); err != nil {
		return err
	}
	e.PreviousSecret, e.PreviousUntil = e.Secret, now.Add(overlap)
	if overlap <= 0 {
		e.PreviousSecret, e.PreviousUntil = "", time.Time{}
	}
	e.Secret, e.UpdatedAt = secret, now
	return nil
}

// SigningSecrets are the secrets that sign a message sent at now: the
// current one, and the previous one during a rotation's overlap.
func (e WebhookEndpoint) SigningSecrets(now time.Time) []string {
	if e.PreviousSecret != "" && now.Before(e.PreviousUntil) {
		return []string{e.Secret, e.PreviousSecret}
	}
	return []string{e.Secret}
}

// SignatureHeader is the webhook-signature value of a message sent at
// now: one "v1,…" per signing secret, space-separated.
func (e WebhookEndpoint) SignatureHeader(id string, now time.Time, body []byte) (string, error) {
	var sigs []string
	for _, s := range e.SigningSecrets(now) {
		sig, err := SignWebhook(s, id, now, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// WebhookEvent is one event for the shop: its webhook-id (the same on
// every endpoint and every attempt), type, the order it concerns ("" for
// none) and its body, the JSON payload exactly as it is sent and signed.
type WebhookEvent struct {
	ID      string
	Type    string
	OrderID string
	At      time.Time
	Body    []byte
}

// webhookPayload is the JSON a receiver gets.
type webhookPayload struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// NewWebhookEvent builds an event of type name with data (ids, statuses,
// amounts: never a key, a delivery token, a link or a secret).
func NewWebhookEvent(id, name, orderID string, at time.Time, data map[string]any) (WebhookEvent, error) {
	if !IsWebhookEventType(name) {
		return WebhookEvent{}, fmt.Errorf("%w: unknown event type %q", ErrInvalidWebhook, name)
	}
	if data == nil {
		data = map[string]any{}
	}
	body, err := json.Marshal(webhookPayload{Type: name, Timestamp: at.UTC().Format(time.RFC3339), Data: data})
	if err != nil {
		return WebhookEvent{}, fmt.Errorf("webhook payload: %w", err)
	}
	return WebhookEvent{ID: id, Type: name, OrderID: orderID, At: at, Body: body}, nil
}

// WebhookEventsFor are the webhook events that report events to the shop,
// each with a webhook-id from newID; events the shop does not hear of are
// left out.
func WebhookEventsFor(newID func() string, events []Event) ([]WebhookEvent, error) {
	var out []WebhookEvent
	for _, ev := range events {
		w, ok, err := WebhookEventFor(newID(), ev)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, w)
		}
	}
	return out, nil
}

// WebhookEventFor is the webhook event that reports ev to the shop, with
// id as its webhook-id; ok is false for a domain event the shop does not
// hear of.
func WebhookEventFor(id string, ev Event) (WebhookEvent, bool, error) {
	oe, isOrder := ev.(OrderEvent)
	m, known := webhookOrderEvents[ev.EventName()]
	if !isOrder || !known {
		return WebhookEvent{}, false, nil
	}
	data := map[string]any{"order_id": oe.OrderID}
	if m.Status != "" {
		data["status"] = m.Status
	}
	switch {
	case webhookClaimEvents[ev.EventName()]:
		data["claim_id"] = oe.Reason
	case ev.EventName() == EventKeyReturned:
		data["supplier_order_id"] = oe.Reason
	case ev.EventName() == EventOrderPreordered:
		if itemID, release, ok := ParsePreorderReason(oe.Reason); ok {
			data["item_id"] = itemID
			if !release.IsZero() { // absent while the supplier names no date
				data["release_date"] = release.Format(DateLayout)
			}
		}
	case oe.Reason != "":
		data["reason"] = WebhookReasonCode(oe.Name, oe.Reason)
	}
	w, err := NewWebhookEvent(id, m.Type, oe.OrderID, oe.At, data)
	return w, err == nil, err
}

// Webhook message statuses.
const (
	WebhookPending   = "pending"   // waiting for its next attempt
	WebhookDelivered = "delivered" // an attempt got a 2xx
	WebhookFailed    = "failed"    // the last scheduled attempt failed
)

// WebhookMessage is one event on its way to one endpoint.
type WebhookMessage struct {
	ID         string // the message's own id (one per event and endpoint)
	EventID    string // webhook-id
	EndpointID string
	Type       string
	OrderID    string
	Body       []byte
	Status     string
	Attempts   int
	DueAt      time.Time // next attempt, while pending
	CreatedAt  time.Time
}

// WebhookAttempt is one try at sending a message.
type WebhookAttempt struct {
	MessageID  string
	At         time.Time
	Duration   time.Duration
	HTTPStatus int    // 0 when no answer came
	Response   string // the first WebhookResponseKept bytes of the answer
	Error      string // why it failed; "" on success
}

// WebhookResponseKept is how much of a response body an attempt keeps.
const WebhookResponseKept = 2048

// Succeeded reports whether the attempt got a 2xx.
func (a WebhookAttempt) Succeeded() bool { return a.HTTPStatus >= 200 && a.HTTPStatus < 300 }

// DefaultWebhookRetrySchedule is the Standard Webhooks schedule: the
// delays after the first attempt's failure, then after each retry's.
var DefaultWebhookRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// NextWebhookAttempt returns when to try again after attempts failed
// attempts, with up to 10 % jitter drawn by jitter (a value in [0,1));
// ok is false when the schedule is spent and the message has failed.
func NextWebhookAttempt(schedule []time.Duration, attempts int, now time.Time, jitter float64) (time.Time, bool) {
	if attempts < 1 || attempts > len(schedule) {
		return time.Time{}, false
	}
	d := schedule[attempts-1]
	return now.Add(d + time.Duration(float64(d)*0.1*jitter)), true
}

// WebhookJitter draws a jitter for NextWebhookAttempt.
func WebhookJitter() float64 { return rand.Float64() }

// ParseWebhookRetrySchedule reads "5s,5m,30m": positive durations.
func ParseWebhookRetrySchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for part := range strings.SplitSeq(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration such as 5s or 2h", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// DailyWebhookID is the webhook-id of an event of type name about key
// (a SKU, a supplier) on at's day: the same for every process that notices
// it that day, so that it is written once; a hash, so that whatever key
// holds, the header carries only URL-safe characters.
func DailyWebhookID(name, key string, at time.Time) string {
	sum := sha256.Sum256([]byte(name + "\x00" + key + "\x00" + at.UTC().Format(time.DateOnly)))
	return "daily_" + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// RedactedWebhookURL is an endpoint URL fit for logs and audit records:
// scheme, host and path only. Its query, fragment and user info are
// dropped, since a shop may put a secret of its own there.
func RedactedWebhookURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unreadable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// Webhook reason codes: why an order was held, failed, was revoked or is
// underpaid, in a small fixed vocabulary. The shop gets the code; the text
// (which may quote a supplier's or an operator's words) stays in the
// order's timeline and the audit trail, for the admin views.
const (
	WebhookReasonPriceGuard    = "price_guard"    // the supplier asked more than the order can afford
	WebhookReasonStalled       = "stalled"        // fulfilment made no progress for too long
	WebhookReasonSupplierError = "supplier_error" // the supplier refused or does not know the purchase
	WebhookReasonRevoked       = "revoked"        // an operator revoked the order
	WebhookReasonOther         = "other"          // anything else; the order's detail says what
)

// webhookPaymentReasons are the payment holds' reasons, codes already.
var webhookPaymentReasons = []string{"partially_paid", "price_currency_mismatch", "price_amount_mismatch", "pay_currency_mismatch",
	"insufficient_amount", "repeat_deposit"}

// WebhookReasonCodes lists every value of a payload's data.reason.
var WebhookReasonCodes = append([]string{WebhookReasonPriceGuard, WebhookReasonStalled, WebhookReasonSupplierError, WebhookReasonRevoked,
	WebhookReasonOther}, webhookPaymentReasons...)

// WebhookReasonCode maps an order event's reason text to its code.
func WebhookReasonCode(event, reason string) string {
	switch {
	case slices.Contains(webhookPaymentReasons, reason):
		return reason
	case event == EventOrderRevoked:
		return WebhookReasonRevoked
	case strings.Contains(reason, "supplier price "):
		return WebhookReasonPriceGuard
	case strings.Contains(reason, "made no progress"):
		return WebhookReasonStalled
	case strings.Contains(strings.ToLower(reason), "supplier"):
		return WebhookReasonSupplierError
	}
	return WebhookReasonOther
}
