package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/ports"
)

func TestTranslateConnectionErrors(t *testing.T) {
	t.Parallel()
	for _, err := range []error{
		&pq.Error{Code: pqerror.AdminShutdown},
		fmt.Errorf("query: %w", &pq.Error{Code: pqerror.ConnectionFailure}),
		io.ErrUnexpectedEOF,
	} {
		got := translate(err)
		if !errors.Is(got, ports.ErrStorageUnavailable) {
			t.Errorf("translate(%v) = %v, want ErrStorageUnavailable", err, got)
		}
		if _, lost := errors.AsType[errConn](got); !lost {
			t.Errorf("translate(%v) is not a lost connection", err)
		}
	}
	if got := translate(&pq.Error{Code: pqerror.UniqueViolation}); errors.Is(got, ports.ErrStorageUnavailable) {
		t.Errorf("a unique violation is not a lost connection: %v", got)
	}
}

// openTestDB connects to the test server, at the URL and default pgtest
// uses (this internal test cannot import pgtest, which imports the
// package); a server that does not answer fails the test.
func openTestDB(t *testing.T) *sqlx.DB {
	t.Helper()
	url := os.Getenv("KEYWARD_TEST_DATABASE_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	db, err := Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestWithTxRunsAgainOnALostConnection(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	attempts := 0
	var got int
	err := withTx(t.Context(), db, func(tx *sqlx.Tx) error {
		attempts++
		if attempts == 1 {
			// The server ends this transaction's own backend, as an
			// operator's pg_terminate_backend or a failover would.
			_, err := tx.ExecContext(t.Context(), `SELECT pg_terminate_backend(pg_backend_pid())`)
			return err
		}
		return tx.GetContext(t.Context(), &got, `SELECT 42`)
	})
	if err != nil {
		t.Fatalf("withTx = %v, want the second attempt to succeed", err)
	}
	if attempts != 2 || got != 42 {
		t.Fatalf("attempts = %d, result %d; want 2 and 42", attempts, got)
	}
}

func TestWithTxGivesUpAsUnavailable(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	attempts := 0
	err := withTx(context.Background(), db, func(tx *sqlx.Tx) error {
		attempts++
		_, err := tx.ExecContext(t.Context(), `SELECT pg_terminate_backend(pg_backend_pid())`)
		return err
	})
	if !errors.Is(err, ports.ErrStorageUnavailable) {
		t.Fatalf("withTx = %v, want ErrStorageUnavailable", err)
	}
	if attempts != txAttempts {
		t.Fatalf("attempts = %d, want %d", attempts, txAttempts)
	}
}

// TestWithTxRunsFnOnceOnItsOwnNetworkError: a network error that fn
// brings from elsewhere (a blob store, a broker) says nothing of the
// database connection, which rolls back fine: running fn again would
// repeat that call's side effect.
func TestWithTxRunsFnOnceOnItsOwnNetworkError(t *testing.T) {
	t.Parallel()
	db := openTestDB(t)
	s3Down := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	attempts := 0
	err := withTx(t.Context(), db, func(tx *sqlx.Tx) error {
		attempts++
		if _, err := tx.ExecContext(t.Context(), `SELECT 1`); err != nil {
			return err
		}
		return fmt.Errorf("put blob: %w", s3Down)
	})
	if attempts != 1 {
		t.Fatalf("fn ran %d times, want once", attempts)
	}
	if !errors.Is(err, s3Down) || errors.Is(err, ports.ErrStorageUnavailable) {
		t.Fatalf("withTx = %v, want fn's error, not a storage outage", err)
	}
}
