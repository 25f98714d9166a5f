package postgres

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/ports"
)

// errConn marks an error of a lost or refused database connection: the
// statement did not run or its transaction did not commit. It matches
// ports.ErrStorageUnavailable, so the HTTP edge answers 503 and the
// message router retries, and withTx runs a transaction that lost its
// connection again.
type errConn struct{ err error }

func (e errConn) Error() string   { return "database connection lost: " + e.err.Error() }
func (e errConn) Unwrap() []error { return []error{ports.ErrStorageUnavailable, e.err} }

// connectionLost reports whether err says the connection to the server is
// gone or cannot be made: the driver's bad connection, a closed
// connection, a network error or EOF, connection exceptions (class 08)
// and the server shutting down or terminating the backend (57P01..57P03).
func connectionLost(err error) bool {
	if e := pq.As(err, pqerror.AdminShutdown, pqerror.CrashShutdown, pqerror.CannotConnectNow); e != nil {
		return true
	}
	if e, ok := errors.AsType[*pq.Error](err); ok {
		return e.Code.Class() == pqerror.ClassConnectionException
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	for _, target := range []error{driver.ErrBadConn, sql.ErrConnDone, io.EOF, io.ErrUnexpectedEOF,
		syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.EPIPE, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
