package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Webhooks is a ports.WebhookStore on PostgreSQL. Its message table is the
// durable schedule of deliveries, whatever the broker.
type Webhooks struct{ db *sqlx.DB }

var _ ports.WebhookStore = (*Webhooks)(nil)

// NewWebhooks returns the webhook store in db.
func NewWebhooks(db *sqlx.DB) *Webhooks { return &Webhooks{db: db} }

type webhookEndpointRow struct {
	ID             string         `db:"id"`
	URL            string         `db:"url"`
	Events         pq.StringArray `db:"events"`
	Description    string         `db:"description"`
	Disabled       bool           `db:"disabled"`
	Secret         string         `db:"secret"`
	PreviousSecret string         `db:"previous_secret"`
	PreviousUntil  sql.NullTime   `db:"previous_until"`
	FailingSince   sql.NullTime   `db:"failing_since"`
	CreatedAt      time.Time      `db:"created_at"`
	UpdatedAt      time.Time      `db:"updated_at"`
}

const webhookEndpointColumns = `id, url, events, description, disabled, secret, previous_secret, previous_until, failing_since, created_at, updated_at`

func (r webhookEndpointRow) endpoint() domain.WebhookEndpoint {
	e := domain.WebhookEndpoint{ID: r.ID, URL: r.URL, Events: []string(r.Events), Description: r.Description, Disabled: r.Disabled,
		Secret: r.Secret, PreviousSecret: r.PreviousSecret, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
	if r.PreviousUntil.Valid {
		e.PreviousUntil = r.PreviousUntil.Time.UTC()
	}
	if r.FailingSince.Valid {
		e.FailingSince = r.FailingSince.Time.UTC()
	}
	return e
}

func optionalTime(t time.Time) sql.NullTime {
	if t.IsZero() {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: t.UTC(), Valid: true}
}

func endpointArgs(e domain.WebhookEndpoint) []any {
	events := e.Events
	if events == nil {
		events = []string{}
	}
	return []any{e.ID, e.URL, pq.Array(events), e.Description, e.Disabled, e.Secret, e.PreviousSecret, optionalTime(e.PreviousUntil),
		optionalTime(e.FailingSince), e.CreatedAt.UTC(), e.UpdatedAt.UTC()}
}

// CreateEndpoint stores e; domain.ErrConflict if its id exists.
func (w *Webhooks) CreateEndpoint(ctx context.Context, e domain.WebhookEndpoint) error {
	if _, err := ext(ctx, w.db).ExecContext(ctx, `INSERT INTO webhook_endpoints (`+webhookEndpointColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, endpointArgs(e)...); err != nil {
		return fmt.Errorf("create webhook endpoint %s: %w", e.ID, translate(err))
	}
	return nil
}

// Endpoint returns an endpoint or domain.ErrNotFound.
func (w *Webhooks) Endpoint(ctx context.Context, id string) (domain.WebhookEndpoint, error) {
	var row webhookEndpointRow
	if err := sqlx.GetContext(ctx, ext(ctx, w.db), &row, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = $1`, id); err != nil {
		return domain.WebhookEndpoint{}, fmt.Errorf("webhook endpoint %s: %w", id, translate(err))
	}
	return row.endpoint(), nil
}

// Endpoints returns every endpoint, oldest first.
func (w *Webhooks) Endpoints(ctx context.Context) ([]domain.WebhookEndpoint, error) {
	var rows []webhookEndpointRow
	if err := sqlx.SelectContext(ctx, ext(ctx, w.db), &rows, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints ORDER BY created_at, id`); err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", translate(err))
	}
	out := make([]domain.WebhookEndpoint, len(rows))
	for i, r := range rows {
		out[i] = r.endpoint()
	}
	return out, nil
}

// UpdateEndpoint locks the endpoint's row, changes it with fn and saves it.
func (w *Webhooks) UpdateEndpoint(ctx context.Context, id string, fn func(*domain.WebhookEndpoint) error) (domain.WebhookEndpoint, error) {
	var e domain.WebhookEndpoint
	err := withTx(ctx, w.db, func(tx *sqlx.Tx) error {
		var row webhookEndpointRow
		if err := tx.GetContext(ctx, &row, `SELECT `+webhookEndpointColumns+` FROM webhook_endpoints WHERE id = $1 FOR NO KEY UPDATE`, id); err != nil {
			return fmt.Errorf("webhook endpoint %s: %w", id, translate(err))
		}
		e = row.endpoint()
		if err := fn(&e); err != nil {
			return err
		}
		e.ID = id
		_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $2, events = $3, description = $4, disabled = $5, secret = $6,
			previous_secret = $7, previous_until = $8, failing_since = $9, created_at = $10, updated_at = $11 WHERE id = $1`, endpointArgs(e)...)
		return err
	})
	if err != nil {
		return domain.WebhookEndpoint{}, err
	}
	return e, nil
}

// DeleteEndpoint removes an endpoint; its messages and attempts go with it.
func (w *Webhooks) DeleteEndpoint(ctx context.Context, id string) error {
	res, err := ext(ctx, w.db).ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete webhook endpoint %s: %w", id, translate(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: webhook endpoint %s", domain.ErrNotFound, id)
	}
	return nil
}

// enqueueStatement fans events out to the endpoints subscribed to them in
// one statement (with no endpoint it writes nothing): pending for an
// enabled endpoint, failed with no attempt for a disabled one, so that a
// recover after it is enabled again delivers what it missed. Its
// parameters (enqueueArgs) are numbered from $first.
func enqueueStatement(first int) string {
	p := func(i int) string { return "$" + strconv.Itoa(first+i) }
	return `INSERT INTO webhook_messages (event_id, endpoint_id, type, order_id, body, status, due_at, created_at)
	SELECT ev.id, e.id, ev.type, ev.order_id, ev.body, CASE WHEN e.disabled THEN 'failed' ELSE 'pending' END, ev.at, ev.at
	FROM unnest(` + p(0) + `::text[], ` + p(1) + `::text[], ` + p(2) + `::text[], ` + p(3) + `::bytea[], ` + p(4) + `::timestamptz[]) AS ev (id, type, order_id, body, at)
	JOIN webhook_endpoints e ON ev.type = ANY (e.events) OR '*' = ANY (e.events)
	ON CONFLICT (event_id, endpoint_id) DO NOTHING`
}

var enqueueSQL = enqueueStatement(1)

func enqueueArgs(events []domain.WebhookEvent) []any {
	ids, types, orders, ats := make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	bodies := make(pq.ByteaArray, len(events))
	for i, ev := range events {
		ids[i], types[i], orders[i], bodies[i], ats[i] = ev.ID, ev.Type, ev.OrderID, ev.Body, ev.At.UTC().Format(time.RFC3339Nano)
	}
	return []any{pq.Array(ids), pq.Array(types), pq.Array(orders), bodies, pq.Array(ats)}
}

// Enqueue writes the events' messages, in the unit of work ctx carries.
func (w *Webhooks) Enqueue(ctx context.Context, events ...domain.WebhookEvent) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := ext(ctx, w.db).ExecContext(ctx, enqueueSQL, enqueueArgs(events)...); err != nil {
		return fmt.Errorf("enqueue webhooks: %w", translate(err))
	}
	return nil
}

// EnqueueTx writes the events' messages in tx: the outbox's transaction.
func (w *Webhooks) EnqueueTx(ctx context.Context, tx *sql.Tx, events ...domain.WebhookEvent) error {
	if len(events) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, enqueueSQL, enqueueArgs(events)...); err != nil {
		return fmt.Errorf("enqueue webhooks: %w", translate(err))
	}
	return nil
}

type webhookMessageRow struct {
	ID         int64     `db:"id"`
	EventID    string    `db:"event_id"`
	EndpointID string    `db:"endpoint_id"`
	Type       string    `db:"type"`
	OrderID    string    `db:"order_id"`
	Body       []byte    `db:"body"`
	Status     string    `db:"status"`
	Attempts   int       `db:"attempts"`
	DueAt      time.Time `db:"due_at"`
	CreatedAt  time.Time `db:"created_at"`
}

const webhookMessageColumns = `id, event_id, endpoint_id, type, order_id, body, status, attempts, due_at, created_at`

func (r webhookMessageRow) message() domain.WebhookMessage {
	return domain.WebhookMessage{ID: strconv.FormatInt(r.ID, 10), EventID: r.EventID, EndpointID: r.EndpointID, Type: r.Type, OrderID: r.OrderID,
		Body: r.Body, Status: r.Status, Attempts: r.Attempts, DueAt: r.DueAt.UTC(), CreatedAt: r.CreatedAt.UTC()}
}

// messageID parses a message id; a malformed one names no message.
func messageID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: webhook message %q", domain.ErrNotFound, id)
	}
	return n, nil
}

// EnqueueTo writes ev for one endpoint.
func (w *Webhooks) EnqueueTo(ctx context.Context, endpointID string, ev domain.WebhookEvent) (domain.WebhookMessage, error) {
	var row webhookMessageRow
	err := sqlx.GetContext(ctx, ext(ctx, w.db), &row, `WITH ins AS (
			INSERT INTO webhook_messages (event_id, endpoint_id, type, order_id, body, status, due_at, created_at)
			SELECT $1, id, $3, $4, $5, 'pending', $6, $6 FROM webhook_endpoints WHERE id = $2
			ON CONFLICT (event_id, endpoint_id) DO NOTHING RETURNING `+webhookMessageColumns+`)
		SELECT `+webhookMessageColumns+` FROM ins
		UNION ALL SELECT `+webhookMessageColumns+` FROM webhook_messages WHERE event_id = $1 AND endpoint_id = $2
		LIMIT 1`, ev.ID, endpointID, ev.Type, ev.OrderID, ev.Body, ev.At.UTC())
	if err != nil {
		return domain.WebhookMessage{}, fmt.Errorf("enqueue %s to webhook endpoint %s: %w", ev.Type, endpointID, translate(err))
	}
	return row.message(), nil
}

// Claim leases due messages: per endpoint the earliest due, locked so that
// other workers skip them.
func (w *Webhooks) Claim(ctx context.Context, now time.Time, lease time.Duration, limit, perEndpoint int, skip []string) ([]ports.WebhookDelivery, error) {
	if skip == nil {
		skip = []string{}
	}
	token, err := claimToken()
	if err != nil {
		return nil, err
	}
	var rows []struct {
		webhookMessageRow
		E webhookEndpointRow `db:"e"`
	}
	err = sqlx.SelectContext(ctx, ext(ctx, w.db), &rows, `WITH picked AS (
			SELECT m.id FROM webhook_endpoints e
			CROSS JOIN LATERAL (SELECT id, due_at FROM webhook_messages m
				WHERE m.endpoint_id = e.id AND m.status = 'pending' AND m.due_at <= $1
				ORDER BY m.due_at, m.id LIMIT $2 FOR UPDATE SKIP LOCKED) m
			WHERE NOT e.disabled AND NOT (e.id = ANY ($3))
			ORDER BY m.due_at LIMIT $4)
		UPDATE webhook_messages m SET due_at = $5, claim_token = $6 || '.' || m.id FROM picked, webhook_endpoints e
		WHERE m.id = picked.id AND e.id = m.endpoint_id
		RETURNING m.id, m.event_id, m.endpoint_id, m.type, m.order_id, m.body, m.status, m.attempts, m.due_at, m.created_at,
			e.id "e.id", e.url "e.url", e.events "e.events", e.description "e.description", e.disabled "e.disabled", e.secret "e.secret",
			e.previous_secret "e.previous_secret", e.previous_until "e.previous_until", e.failing_since "e.failing_since",
			e.created_at "e.created_at", e.updated_at "e.updated_at"`,
		now.UTC(), perEndpoint, pq.Array(skip), limit, now.Add(lease).UTC(), token)
	if err != nil {
		return nil, fmt.Errorf("claim webhook messages: %w", translate(err))
	}
	out := make([]ports.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = ports.WebhookDelivery{Message: r.message(), Endpoint: r.E.endpoint(), Claim: token + "." + strconv.FormatInt(r.ID, 10)}
	}
	return out, nil
}

// Record stores an attempt, settles its message and tracks the endpoint's
// failures, in one transaction.
func (w *Webhooks) Record(ctx context.Context, a domain.WebhookAttempt, o ports.WebhookOutcome, disableBefore time.Time) (bool, error) {
	id, err := messageID(a.MessageID)
	if err != nil {
		return false, err
	}
	disabled, lost := false, false
	err = withTx(ctx, w.db, func(tx *sqlx.Tx) error {
		disabled, lost = false, false
		var endpointID string
		err := tx.GetContext(ctx, &endpointID, `UPDATE webhook_messages SET attempts = attempts + 1,
				status = CASE WHEN status <> 'pending' THEN status WHEN $2 THEN 'delivered' WHEN $3::timestamptz IS NULL THEN 'failed' ELSE 'pending' END,
				due_at = CASE WHEN status = 'pending' AND NOT $2 AND $3::timestamptz IS NOT NULL THEN $3::timestamptz ELSE due_at END
			WHERE id = $1 AND claim_token = $4 RETURNING endpoint_id`, id, o.Delivered, optionalTime(o.Retry), o.Claim)
		if errors.Is(err, sql.ErrNoRows) {
			lost = true // another claim settles it; the attempt is kept all the same
		} else if err != nil {
			return fmt.Errorf("webhook message %s: %w", a.MessageID, translate(err))
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (message_id, at, duration_ms, http_status, response, error)
			SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM webhook_messages WHERE id = $1)`,
			id, a.At.UTC(), a.Duration.Milliseconds(), a.HTTPStatus, noNUL(a.Response), noNUL(a.Error))
		if err != nil {
			return fmt.Errorf("record webhook attempt: %w", translate(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: webhook message %s", domain.ErrNotFound, a.MessageID)
		}
		if lost {
			return nil
		}
		if o.Delivered {
			_, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, endpointID)
			return err
		}
		return tx.GetContext(ctx, &disabled, `WITH old AS (SELECT disabled FROM webhook_endpoints WHERE id = $1 FOR NO KEY UPDATE)
			UPDATE webhook_endpoints e SET failing_since = COALESCE(e.failing_since, $2),
				disabled = e.disabled OR COALESCE(e.failing_since, $2) <= $3
			FROM old WHERE e.id = $1
			RETURNING e.disabled AND NOT old.disabled`, endpointID, a.At.UTC(), disableBefore.UTC())
	})
	if err != nil {
		return false, err
	}
	if lost {
		return false, fmt.Errorf("%w: webhook message %s", domain.ErrWebhookClaimLost, a.MessageID)
	}
	return disabled, nil
}

// claimToken returns a new random claim token.
func claimToken() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("claim token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Messages returns messages newest first.
func (w *Webhooks) Messages(ctx context.Context, q ports.WebhookMessageQuery) ([]domain.WebhookMessage, error) {
	var after, limit any
	if q.After != "" {
		n, err := messageID(q.After)
		if err != nil {
			return nil, nil
		}
		after = n
	}
	if q.Limit > 0 {
		limit = q.Limit
	}
	var rows []webhookMessageRow
	if err := sqlx.SelectContext(ctx, ext(ctx, w.db), &rows, `SELECT `+webhookMessageColumns+` FROM webhook_messages
		WHERE ($1 = '' OR endpoint_id = $1) AND ($2 = '' OR type = $2) AND ($3 = '' OR status = $3) AND ($4 = '' OR order_id = $4)
		AND ($5::bigint IS NULL OR id < $5) ORDER BY id DESC LIMIT $6`, q.EndpointID, q.Type, q.Status, q.OrderID, after, limit); err != nil {
		return nil, fmt.Errorf("list webhook messages: %w", translate(err))
	}
	out := make([]domain.WebhookMessage, len(rows))
	for i, r := range rows {
		out[i] = r.message()
	}
	return out, nil
}

// Message returns a message and its attempts.
func (w *Webhooks) Message(ctx context.Context, id string) (domain.WebhookMessage, []domain.WebhookAttempt, error) {
	n, err := messageID(id)
	if err != nil {
		return domain.WebhookMessage{}, nil, err
	}
	var row webhookMessageRow
	if err := sqlx.GetContext(ctx, ext(ctx, w.db), &row, `SELECT `+webhookMessageColumns+` FROM webhook_messages WHERE id = $1`, n); err != nil {
		return domain.WebhookMessage{}, nil, fmt.Errorf("webhook message %s: %w", id, translate(err))
	}
	var attempts []struct {
		At         time.Time `db:"at"`
		DurationMS int64     `db:"duration_ms"`
		HTTPStatus int       `db:"http_status"`
		Response   string    `db:"response"`
		Error      string    `db:"error"`
	}
	if err := sqlx.SelectContext(ctx, ext(ctx, w.db), &attempts, `SELECT at, duration_ms, http_status, response, error
		FROM webhook_attempts WHERE message_id = $1 ORDER BY id`, n); err != nil {
		return domain.WebhookMessage{}, nil, fmt.Errorf("webhook message %s attempts: %w", id, translate(err))
	}
	out := make([]domain.WebhookAttempt, len(attempts))
	for i, a := range attempts {
		out[i] = domain.WebhookAttempt{MessageID: id, At: a.At.UTC(), Duration: time.Duration(a.DurationMS) * time.Millisecond,
			HTTPStatus: a.HTTPStatus, Response: a.Response, Error: a.Error}
	}
	return row.message(), out, nil
}

// Redeliver makes a settled message due at now.
func (w *Webhooks) Redeliver(ctx context.Context, id string, now time.Time) (domain.WebhookMessage, error) {
	n, err := messageID(id)
	if err != nil {
		return domain.WebhookMessage{}, err
	}
	var rows []struct {
		webhookMessageRow
		Settled bool `db:"settled"`
	}
	// One statement: a settled message is made due; a pending one (maybe
	// claimed) is only read, to tell it from an unknown one.
	if err := sqlx.SelectContext(ctx, ext(ctx, w.db), &rows, `WITH upd AS (
			UPDATE webhook_messages SET status = 'pending', due_at = $2 WHERE id = $1 AND status <> 'pending'
			RETURNING `+webhookMessageColumns+`)
		SELECT `+webhookMessageColumns+`, true AS settled FROM upd
		UNION ALL SELECT `+webhookMessageColumns+`, false AS settled FROM webhook_messages WHERE id = $1 AND status = 'pending'
			AND NOT EXISTS (SELECT 1 FROM upd)`, n, now.UTC()); err != nil {
		return domain.WebhookMessage{}, fmt.Errorf("redeliver webhook message %s: %w", id, translate(err))
	}
	switch {
	case len(rows) == 0:
		return domain.WebhookMessage{}, fmt.Errorf("%w: webhook message %s", domain.ErrNotFound, id)
	case !rows[0].Settled:
		return domain.WebhookMessage{}, fmt.Errorf("%w: %s", domain.ErrWebhookMessagePending, id)
	}
	return rows[0].message(), nil
}

// Recover makes the endpoint's messages that failed since since due.
func (w *Webhooks) Recover(ctx context.Context, endpointID string, since, now time.Time) (int, error) {
	res, err := ext(ctx, w.db).ExecContext(ctx, `UPDATE webhook_messages SET status = 'pending', due_at = $3
		WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2`, endpointID, since.UTC(), now.UTC())
	if err != nil {
		return 0, fmt.Errorf("recover webhook messages of %s: %w", endpointID, translate(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Purge deletes settled messages created before before, with their
// attempts.
func (w *Webhooks) Purge(ctx context.Context, before time.Time) (int, error) {
	res, err := ext(ctx, w.db).ExecContext(ctx, `DELETE FROM webhook_messages WHERE status <> 'pending' AND created_at < $1`, before.UTC())
	if err != nil {
		return 0, fmt.Errorf("purge webhook messages: %w", translate(err))
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// noNUL drops NUL characters, which a Postgres text cannot hold, from what
// an endpoint answered.
func noNUL(s string) string { return strings.ReplaceAll(s, "\x00", "") }
