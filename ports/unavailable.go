package ports

import "errors"

// ErrStorageUnavailable means the database could not be reached (a lost
// connection, a server shutting down) and the work it carried did not
// commit: the caller may try again later. Storage adapters wrap it.
var ErrStorageUnavailable = errors.New("storage unavailable")

// ErrConsumeAborted: the transaction a queue consumer reads its messages
// in can no longer commit (a statement of a handling failed where no
// savepoint could undo it). The message did not fail: it goes back with
// its batch, which the consumer reads again, and is never dead-lettered
// for it.
var ErrConsumeAborted = errors.New("the queue's consume transaction is aborted: the batch is read again")
