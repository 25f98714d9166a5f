package ports

import "context"

// Transactor runs units of work: storage writes that commit together or
// not at all, such as a state change and the audit record of it.
type Transactor interface {
	// Atomically runs fn. Every write fn makes through the storage ports
	// with the context it is given commits with the others or not at all;
	// on a store that cannot roll back (memory) the writes made before an
	// error stay, and callers compensate. fn may run again after a
	// serialization failure, so it must do nothing but storage work. It
	// returns fn's error, or the error of committing.
	//
	// Storage work includes a BlobStore.Put, which a store may make
	// outside the unit of work (S3 does; Postgres' blobs join it): fn may
	// put a blob only under a ref that nothing references until the unit
	// of work commits, and that every later attempt writes again before
	// referencing it. A rollback then leaves the blob unreferenced, and a
	// run again overwrites it (FulfilOrder's own stock does this: its refs
	// are fixed by order, item and slot). Anything else that leaves the
	// process (a publish on a broker, a mail, a call to a supplier) runs
	// before or after Atomically, never in fn.
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// concludingKey marks a context given to Concluding.
type concludingKey struct{}

// Concluding returns ctx for the unit of work that concludes the handling
// of the message being handled (a queue consumer's): once it commits, the
// message needs handling no more, even if the process stops before the
// handler returns. A queue adapter may then acknowledge the message with
// the unit's own writes, one transaction fewer than acknowledging it
// apart. A handling that fails after such a unit is still retried in
// process; only a redelivery is spared, so what follows the unit must
// be either done or not needed once the unit has committed.
func Concluding(ctx context.Context) context.Context {
	return context.WithValue(ctx, concludingKey{}, true)
}

// IsConcluding reports whether ctx was given to Concluding.
func IsConcluding(ctx context.Context) bool {
	v, _ := ctx.Value(concludingKey{}).(bool)
	return v
}
