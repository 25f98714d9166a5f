package postgres

import (
	"database/sql"
	"errors"
	"fmt"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/keyward/keyward/domain"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	other := errors.New("connection reset")
	cases := []struct {
		name  string
		err   error
		want  error
		retry bool
	}{
		{"no rows", fmt.Errorf("scan: %w", sql.ErrNoRows), domain.ErrNotFound, false},
		{"unique violation", &pq.Error{Code: pqerror.UniqueViolation, Constraint: "orders_pkey"}, domain.ErrConflict, false},
		{"serialization failure", &pq.Error{Code: pqerror.TRSerializationFailure}, nil, true},
		{"deadlock", fmt.Errorf("exec: %w", &pq.Error{Code: pqerror.TRDeadlockDetected}), nil, true},
		{"other", other, other, false},
	}
	for _, c := range cases {
		got := translate(c.err)
		if c.want != nil && !errors.Is(got, c.want) {
			t.Errorf("%s: translate = %v, want %v", c.name, got, c.want)
		}
		if _, retry := errors.AsType[errRetry](got); retry != c.retry {
			t.Errorf("%s: retryable = %t, want %t", c.name, retry, c.retry)
		}
		if again := translate(got); again.Error() != got.Error() {
			t.Errorf("%s: translating twice changed %q to %q", c.name, got, again)
		}
	}
	if translate(nil) != nil {
		t.Errorf("translate(nil) != nil")
	}
}
