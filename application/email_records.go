package application

import (
	"context"
	"sync"

	"github.com/keyward/keyward/ports"
)

// emailRecordsKey keys an *emailRecords in a context.
type emailRecordsKey struct{}

// emailRecords holds the records of the emails an auditedMailer sent with
// a context from deferEmailRecords, for the caller to stage in the unit of
// work that records what the email was for (DeliverOrder's mark
// delivered): one transaction less. A caller whose unit of work failed
// records them alone, as the mailer would have.
type emailRecords struct {
	mu      sync.Mutex
	pending []deferredRecord
}

type deferredRecord struct {
	mailer  auditedMailer
	e       ports.Email
	r       ports.Receipt
	details map[string]string
}

// deferEmailRecords returns ctx with the records of the emails sent with
// it collected in the returned emailRecords instead of written. Mailers
// other than auditedMailer ignore it.
func deferEmailRecords(ctx context.Context) (context.Context, *emailRecords) {
	d := &emailRecords{}
	return context.WithValue(ctx, emailRecordsKey{}, d), d
}

func (d *emailRecords) add(r deferredRecord) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = append(d.pending, r)
}

// stage appends the records with ctx, inside the caller's unit of work;
// they stay pending until record or stage is called after it commits.
func (d *emailRecords) stage(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.pending {
		if err := r.mailer.append(ctx, r.e, r.details); err != nil {
			return err
		}
	}
	return nil
}

// done forgets the records once the unit of work that staged them
// committed.
func (d *emailRecords) done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.pending = nil
}

// recordAlone writes the records still pending each in a unit of work of
// its own, as the mailer does without a deferral.
func (d *emailRecords) recordAlone(ctx context.Context) {
	d.mu.Lock()
	pending := d.pending
	d.pending = nil
	d.mu.Unlock()
	for _, r := range pending {
		r.mailer.record(ctx, r.e, r.r, r.details)
	}
}
