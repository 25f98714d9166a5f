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
