package ports

import "errors"

// ErrStorageUnavailable means the database could not be reached (a lost
// connection, a server shutting down) and the work it carried did not
// commit: the caller may try again later. Storage adapters wrap it.
var ErrStorageUnavailable = errors.New("storage unavailable")
