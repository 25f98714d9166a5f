package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
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
type Webhooks struct {
	db       *sqlx.DB
	prepared *preparedStatements // the delivery worker's record
}

var _ ports.WebhookStore = (*Webhooks)(nil)

// NewWebhooks returns the webhook store in db.
func NewWebhooks(db *sqlx.DB) *Webhooks {
	return &Webhooks{db: db, prepared: newPreparedStatements(db)}
}

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

// claimStatement is the part of a statement that claims due messages:
// per endpoint the earliest due, locked so that other workers skip them.
// It defines the CTE claimed, whose rows are the deliveries (deliveryRow);
// its parameters (claimArgs) are numbered from $first, and also leaves
// out the messages and endpoints where is true of (a statement that
// records also claims none of the messages it records, nor any of the
// endpoints it disables).
func claimStatement(first int, messageWhere, endpointWhere string) string {
	p := func(i int) string { return "$" + strconv.Itoa(first+i) }
	return `picked AS (
			SELECT m.id FROM webhook_endpoints e
			CROSS JOIN LATERAL (SELECT id, due_at FROM webhook_messages m
				WHERE m.endpoint_id = e.id AND m.status = 'pending' AND m.due_at <= ` + p(0) + messageWhere + `
				ORDER BY m.due_at, m.id LIMIT ` + p(1) + ` FOR UPDATE SKIP LOCKED) m
			WHERE NOT e.disabled AND NOT (e.id = ANY (` + p(2) + `))` + endpointWhere + `
			ORDER BY m.due_at LIMIT ` + p(3) + `),
		claimed AS (
			UPDATE webhook_messages m SET due_at = ` + p(4) + `, claim_token = ` + p(5) + ` || '.' || m.id FROM picked, webhook_endpoints e
			WHERE m.id = picked.id AND e.id = m.endpoint_id
			RETURNING m.id, m.event_id, m.endpoint_id, m.type, m.order_id, m.body, m.status, m.attempts, m.due_at, m.created_at,
				` + deliveryEndpointColumns("e") + `)`
}

// deliveryEndpointColumns names the columns of endpoint e as deliveryRow
// reads them.
func deliveryEndpointColumns(e string) string {
	cols := strings.Split(webhookEndpointColumns, ", ")
	for i, c := range cols {
		cols[i] = e + "." + c + ` "e.` + c + `"`
	}
	return strings.Join(cols, ", ")
}

var claimSQL = `WITH ` + claimStatement(1, "", "") + ` SELECT * FROM claimed`

// deliveryRow is a claimed message and its endpoint.
type deliveryRow struct {
	webhookMessageRow
	E webhookEndpointRow `db:"e"`
}

// claimArgs are claimStatement's parameters, with the claim's token.
func claimArgs(c ports.WebhookClaim) ([]any, string, error) {
	skip := c.Skip
	if skip == nil {
		skip = []string{}
	}
	token, err := claimToken()
	if err != nil {
		return nil, "", err
	}
	return []any{c.Now.UTC(), c.PerEndpoint, pq.Array(skip), c.Limit, c.Now.Add(c.Lease).UTC(), token}, token, nil
}

func (r deliveryRow) delivery(token string) ports.WebhookDelivery {
	return ports.WebhookDelivery{Message: r.message(), Endpoint: r.E.endpoint(), Claim: token + "." + strconv.FormatInt(r.ID, 10)}
}

// Claim leases due messages: per endpoint the earliest due, locked so that
// other workers skip them.
func (w *Webhooks) Claim(ctx context.Context, c ports.WebhookClaim) ([]ports.WebhookDelivery, error) {
	args, token, err := claimArgs(c)
	if err != nil {
		return nil, err
	}
	var rows []deliveryRow
	// Not prepared: most claims are polls that find nothing, and a
	// prepared statement run on its own would not be told apart from a
	// write by the SQL counter (postgres.SQLCounter's idle reads).
	if err := sqlx.SelectContext(ctx, ext(ctx, w.db), &rows, claimSQL, args...); err != nil {
		return nil, fmt.Errorf("claim webhook messages: %w", translate(err))
	}
	out := make([]ports.WebhookDelivery, len(rows))
	for i, r := range rows {
		out[i] = r.delivery(token)
	}
	return out, nil
}

// recordStatement stores attempts, settles their messages and tracks their
// endpoints' runs of failures in one statement, and claims what is due
// when claim: its rows are one per record (kind 'r': whether it settled
// its message, whether the message exists), one per endpoint it disabled
// (kind 'd', with the endpoint) and one per delivery claimed (kind 'c').
//
// The records come as arrays, numbered in their order (n); an endpoint's
// run of failures is what its records' outcomes make of it in that order:
// a success ends it, and a failure starts it unless it runs already. Each
// failure's DisableBefore is checked against the beginning of the run it
// is part of then, as recording them one at a time would: a failure
// before any success of the batch against the endpoint's own run (or the
// batch's first failure when it had none), a failure after a success
// against the first failure after that success. So a failure that
// disables is not undone by a later success in the batch. The run left is
// the one after the last success (began: its first failure), or, without
// a success, the endpoint's own, or the batch's first failure. An
// endpoint only succeeded on is written only when it was failing.
func recordStatement(claim bool) string {
	q := `WITH r AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::bool[], $4::text[], $5::timestamptz[], $6::bigint[], $7::int[], $8::text[],
				$9::text[], $10::timestamptz[])
			WITH ORDINALITY AS r (id, claim, delivered, retry, at, duration_ms, http_status, response, error, disable_before, n)),
		settled AS (
			UPDATE webhook_messages m SET attempts = m.attempts + 1,
				status = CASE WHEN m.status <> 'pending' THEN m.status WHEN r.delivered THEN 'delivered' WHEN r.retry = '' THEN 'failed' ELSE 'pending' END,
				due_at = CASE WHEN m.status = 'pending' AND NOT r.delivered AND r.retry <> '' THEN r.retry::timestamptz ELSE m.due_at END
			FROM r WHERE m.id = r.id AND m.claim_token = r.claim
			RETURNING r.n, m.endpoint_id),
		kept AS (
			INSERT INTO webhook_attempts (message_id, at, duration_ms, http_status, response, error)
			SELECT r.id, r.at, r.duration_ms, r.http_status, r.response, r.error FROM r
			WHERE EXISTS (SELECT 1 FROM webhook_messages m WHERE m.id = r.id) ORDER BY r.n),
		ordered AS (
			SELECT s.endpoint_id, r.n, r.at, r.delivered, r.disable_before,
				max(r.n) FILTER (WHERE r.delivered) OVER (PARTITION BY s.endpoint_id ORDER BY r.n) AS prev_ok,
				max(r.n) FILTER (WHERE r.delivered) OVER (PARTITION BY s.endpoint_id) AS last_ok
			FROM settled s JOIN r ON r.n = s.n),
		runs AS (
			SELECT *, (array_agg(at) FILTER (WHERE NOT delivered) OVER (PARTITION BY endpoint_id, prev_ok ORDER BY n))[1] AS began
			FROM ordered),
		run AS (
			SELECT endpoint_id, bool_or(delivered) AS ended, bool_or(NOT delivered) AS failed,
				max(began) FILTER (WHERE n > COALESCE(last_ok, 0)) AS began,
				max(began) FILTER (WHERE prev_ok IS NULL) AS first_began,
				max(disable_before) FILTER (WHERE prev_ok IS NULL) AS first_disable_before,
				COALESCE(bool_or(began <= disable_before) FILTER (WHERE prev_ok IS NOT NULL AND NOT delivered), false) AS disable
			FROM runs GROUP BY endpoint_id),
		old AS (
			SELECT id, disabled FROM webhook_endpoints WHERE id IN (SELECT endpoint_id FROM run WHERE failed) FOR NO KEY UPDATE),
		upd AS (
			UPDATE webhook_endpoints e SET
				failing_since = CASE WHEN run.ended THEN run.began ELSE COALESCE(e.failing_since, run.began) END,
				disabled = e.disabled OR run.disable OR COALESCE(COALESCE(e.failing_since, run.first_began) <= run.first_disable_before, false)
			FROM run LEFT JOIN old ON old.id = run.endpoint_id
			WHERE e.id = run.endpoint_id AND (run.failed OR e.failing_since IS NOT NULL)
			RETURNING e.*, e.disabled AND NOT COALESCE(old.disabled, true) AS disabled_now)`
	if claim {
		q += `,
		` + claimStatement(11, ` AND m.id <> ALL ($1)`, ` AND e.id NOT IN (SELECT id FROM upd WHERE disabled_now)`)
	}
	q += `
		SELECT 'r' AS kind, r.n, EXISTS (SELECT 1 FROM settled s WHERE s.n = r.n) AS settled,
			EXISTS (SELECT 1 FROM webhook_messages m WHERE m.id = r.id) AS found, ` + noMessage + `, ` + noEndpoint + ` FROM r
		UNION ALL SELECT 'd', 0, false, false, ` + noMessage + `, ` + deliveryEndpointColumns("upd") + ` FROM upd WHERE disabled_now`
	if claim {
		q += `
		UNION ALL SELECT 'c', 0, false, false, c.* FROM claimed c`
	}
	return q
}

// noMessage and noEndpoint stand for the message and endpoint columns of
// recordStatement's rows that have none.
const (
	noMessage  = `0::bigint "id", '' "event_id", '' "endpoint_id", '' "type", '' "order_id", ''::bytea "body", '' "status", 0 "attempts", 'epoch'::timestamptz "due_at", 'epoch'::timestamptz "created_at"`
	noEndpoint = `'' "e.id", '' "e.url", '{}'::text[] "e.events", '' "e.description", false "e.disabled", '' "e.secret", '' "e.previous_secret", NULL::timestamptz "e.previous_until", NULL::timestamptz "e.failing_since", 'epoch'::timestamptz "e.created_at", 'epoch'::timestamptz "e.updated_at"`
)

var (
	recordSQL         = recordStatement(false)
	recordAndClaimSQL = recordStatement(true)
)

// Record stores attempts, settles their messages and tracks their
// endpoints' failures in one statement, which also claims when next is
// given.
func (w *Webhooks) Record(ctx context.Context, rs []ports.WebhookRecord, next *ports.WebhookClaim) (ports.WebhookRecorded, error) {
	out := ports.WebhookRecorded{Errs: make([]error, len(rs))}
	n := len(rs)
	ids, claims, retries, responses, errs := make([]int64, 0, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	delivered, ats, durations, statuses, disableBefore := make([]bool, n), make([]string, n), make([]int64, n), make([]int64, n), make([]string, n)
	for i, r := range rs {
		id, err := messageID(r.Attempt.MessageID)
		if err != nil {
			id = 0 // names no message: found by none
		}
		ids = append(ids, id)
		a, o := r.Attempt, r.Outcome
		claims[i], delivered[i], ats[i], durations[i], statuses[i] = o.Claim, o.Delivered, a.At.UTC().Format(time.RFC3339Nano), a.Duration.Milliseconds(), int64(a.HTTPStatus)
		responses[i], errs[i], disableBefore[i] = noNUL(a.Response), noNUL(a.Error), o.DisableBefore.UTC().Format(time.RFC3339Nano)
		if !o.Retry.IsZero() {
			retries[i] = o.Retry.UTC().Format(time.RFC3339Nano)
		}
	}
	if n == 0 && next == nil {
		return out, nil
	}
	query, args := recordSQL, []any{pq.Array(ids), pq.Array(claims), pq.Array(delivered), pq.Array(retries), pq.Array(ats), pq.Array(durations),
		pq.Array(statuses), pq.Array(responses), pq.Array(errs), pq.Array(disableBefore)}
	var token string
	if next != nil {
		more, t, err := claimArgs(*next)
		if err != nil {
			return out, err
		}
		query, args, token = recordAndClaimSQL, append(args, more...), t
	}
	var rows []struct {
		Kind    string `db:"kind"`
		N       int    `db:"n"`
		Settled bool   `db:"settled"`
		Found   bool   `db:"found"`
		deliveryRow
	}
	if err := w.prepared.sel(ctx, ext(ctx, w.db), &rows, query, args...); err != nil {
		return out, fmt.Errorf("record webhook attempts: %w", translate(err))
	}
	for _, row := range rows {
		switch row.Kind {
		case "r":
			i := row.N - 1
			switch {
			case !row.Found:
				out.Errs[i] = fmt.Errorf("%w: webhook message %s", domain.ErrNotFound, rs[i].Attempt.MessageID)
			case !row.Settled:
				out.Errs[i] = fmt.Errorf("%w: webhook message %s", domain.ErrWebhookClaimLost, rs[i].Attempt.MessageID)
			}
		case "d":
			out.Disabled = append(out.Disabled, row.E.endpoint())
		case "c":
			out.Claimed = append(out.Claimed, row.delivery(token))
		}
	}
	return out, nil
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
