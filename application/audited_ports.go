package application

import (
	"context"
	"log/slog"
	"regexp"
	"strconv"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of the changes every use case makes through these ports.
const (
	AuditOrderTransition = "order.transition"
	AuditDataKeyCreated  = "datakey.created"
	AuditEmailSent       = "email.sent"
)

// AuditOrders returns orders recording every change of an order's status
// in the audit log (auditedOrders); orders already so audited are returned
// as they are, so that binding it twice never records a change twice.
func AuditOrders(orders ports.OrderRepository, tx ports.Transactor, audit ports.AuditLog) ports.OrderRepository {
	if _, ok := orders.(auditedOrders); ok {
		return orders
	}
	return auditedOrders{OrderRepository: orders, tx: tx, audit: audit}
}

// AuditDataKeys returns dataKeys recording the creation of each data key
// (auditedDataKeys); already audited ones are returned as they are.
func AuditDataKeys(dataKeys ports.DataKeyRepository, tx ports.Transactor, audit ports.AuditLog) ports.DataKeyRepository {
	if _, ok := dataKeys.(auditedDataKeys); ok {
		return dataKeys
	}
	return auditedDataKeys{DataKeyRepository: dataKeys, tx: tx, audit: audit}
}

// AuditMailer returns mailer recording every email sent (auditedMailer);
// an already audited one is returned as it is.
func AuditMailer(mailer ports.Mailer, tx ports.Transactor, audit ports.AuditLog, log *slog.Logger) ports.Mailer {
	if _, ok := mailer.(auditedMailer); ok {
		return mailer
	}
	return auditedMailer{Mailer: mailer, tx: tx, audit: audit, log: log}
}

// auditedOrders records every change of an order's status in the audit
// log, in the unit of work that saves it: a status that committed has its
// record, and a record never outlives a rolled-back change.
type auditedOrders struct {
	ports.OrderRepository
	tx    ports.Transactor
	audit ports.AuditLog
}

// Create stores o and records its first status.
func (r auditedOrders) Create(ctx context.Context, o *domain.Order) error {
	return r.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := r.OrderRepository.Create(ctx, o); err != nil {
			return err
		}
		_, err := r.audit.Append(ctx, ActorSystem, AuditOrderTransition, o.ID(), map[string]string{"to": o.Status().String()})
		return err
	})
}

// Update runs fn on the order and records the transition when its status
// changed.
func (r auditedOrders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	return r.update(ctx, id, fn, r.OrderRepository.Update)
}

var _ ports.SeenOrderUpdater = auditedOrders{}

// UpdateSeen is Update from seen (ports.SeenOrderUpdater) where the
// orders wrapped can; Update otherwise.
func (r auditedOrders) UpdateSeen(ctx context.Context, seen domain.OrderSnapshot, fn func(*domain.Order) error) (*domain.Order, error) {
	return r.update(ctx, seen.ID, fn, func(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
		return updateFrom(ctx, r.OrderRepository, &seen, id, fn)
	})
}

func (r auditedOrders) update(ctx context.Context, id string, fn func(*domain.Order) error,
	update func(context.Context, string, func(*domain.Order) error) (*domain.Order, error)) (*domain.Order, error) {
	var out *domain.Order
	err := r.tx.Atomically(ctx, func(ctx context.Context) error {
		var from domain.OrderStatus
		o, err := update(ctx, id, func(o *domain.Order) error {
			from = o.Status()
			return fn(o)
		})
		if err != nil {
			return err
		}
		out = o
		if o.Status() == from {
			return nil
		}
		_, err = r.audit.Append(ctx, ActorSystem, AuditOrderTransition, id, map[string]string{"from": from.String(), "to": o.Status().String()})
		return err
	})
	return out, err
}

// auditedDataKeys records the creation of an order's data key (never the
// key: only that it exists and under which version) with the key itself.
type auditedDataKeys struct {
	ports.DataKeyRepository
	tx    ports.Transactor
	audit ports.AuditLog
}

// StoredIn forwards ports.Stored.
func (r auditedDataKeys) StoredIn() any { return ports.StoredIn(r.DataKeyRepository) }

// Create stores the wrapped key and its record together.
func (r auditedDataKeys) Create(ctx context.Context, orderID string, k ports.WrappedKey) error {
	return r.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := r.DataKeyRepository.Create(ctx, orderID, k); err != nil {
			return err
		}
		_, err := r.audit.Append(ctx, ActorSystem, AuditDataKeyCreated, orderID, map[string]string{"key_version": strconv.Itoa(k.Version)})
		return err
	})
}

// auditedMailer records every email sent (to whom, which template, the
// provider's id), never its content. A duplicate the mailer did not send
// again is not recorded again, unless the mailer marks what it audited
// (ports.AuditMarkingMailer) and the duplicate's record is missing.
type auditedMailer struct {
	ports.Mailer
	tx    ports.Transactor
	audit ports.AuditLog
	log   *slog.Logger
}

// Send sends m and records it. Once the email is out, a failure to record
// must not fail the send: the caller would send again (a delivery would
// issue a second link and email), and the mailer's idempotency would then
// report a duplicate and the record would be lost all the same. So the
// record is tried a few times, apart from the caller's context, and a
// record that still cannot be written is logged for an operator. With a
// context from deferEmailRecords the record is left to the caller's unit
// of work instead (emailRecords).
//
// A record may still be lost with its unit of work after the send (the
// process dies before the queue's consume transaction commits): a mailer
// that marks its records in the same unit of work (ports.AuditMarkingMailer)
// tells on the retry: a duplicate whose mark is missing (Receipt.Unaudited)
// has its record written then, marked so that it is written once.
func (m auditedMailer) Send(ctx context.Context, e ports.Email) (ports.Receipt, error) {
	r, err := m.Mailer.Send(ctx, e)
	if err != nil {
		return r, WithoutRecipient(err, e.To)
	}
	details := map[string]string{"template": e.Template, "provider_id": r.ProviderID, "idempotency_key": e.IdempotencyKey}
	if r.Duplicate {
		if r.Unaudited && e.IdempotencyKey != "" {
			details["sent_earlier"] = "true"
			m.record(ctx, e, r, details)
		}
		return r, nil
	}
	if d, ok := ctx.Value(emailRecordsKey{}).(*emailRecords); ok {
		d.add(deferredRecord{mailer: m, e: e, r: r, details: details})
		return r, nil
	}
	m.record(ctx, e, r, details)
	return r, nil
}

// append appends the record of a sent email in ctx's unit of work, after
// marking it audited when the mailer marks them; nothing when it was
// marked already (its record exists).
func (m auditedMailer) append(ctx context.Context, e ports.Email, details map[string]string) error {
	if e.IdempotencyKey != "" {
		first, err := ports.MarkAudited(ctx, m.Mailer, e.IdempotencyKey)
		if err != nil || !first {
			return err
		}
	}
	_, err := m.audit.Append(ctx, ActorSystem, AuditEmailSent, e.To, details)
	return err
}

// record writes the record of a sent email in a unit of work of its own,
// a few times, apart from the caller's context; it logs one it cannot
// write.
func (m auditedMailer) record(ctx context.Context, e ports.Email, r ports.Receipt, details map[string]string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var aerr error
	for range 3 {
		// A unit of work of its own, so that the log may stage the record
		// instead of making the sender wait for the chain's head. (Inside
		// a queue's consume transaction it joins that transaction; a try
		// that failed there has the next ones run in transactions of their
		// own: see postgres.InConsumeTx.)
		aerr = m.tx.Atomically(actx, func(ctx context.Context) error { return m.append(ctx, e, details) })
		if aerr == nil {
			return
		}
	}
	m.log.ErrorContext(ctx, "email sent but not audited", "template", e.Template, "provider_id", r.ProviderID, "err", aerr)
}

// WithoutRecipient returns err with the recipient's address, as it is or
// as %q quotes it, in any case, replaced in its text (errors.Is and As
// still see err): a mail service's error often quotes the address, and
// the error goes on to logs, dead letters and a circuit breaker's report
// at /readyz, where a customer's address has no business.
func WithoutRecipient(err error, to string) error {
	if err == nil || to == "" {
		return err
	}
	quoted := strconv.Quote(to)
	addr := regexp.MustCompile(`(?i)` + regexp.QuoteMeta(quoted[1:len(quoted)-1]) + `|` + regexp.QuoteMeta(to))
	text := addr.ReplaceAllLiteralString(err.Error(), "<recipient>")
	if text == err.Error() {
		return err
	}
	return recipientRedacted{err: err, text: text}
}

// recipientRedacted is an error whose text no longer holds the recipient.
type recipientRedacted struct {
	err  error
	text string
}

func (e recipientRedacted) Error() string { return e.text }
func (e recipientRedacted) Unwrap() error { return e.err }
