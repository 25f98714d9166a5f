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
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}
