package domain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

func TestSyncRunFinishes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name    string
		partial bool
		err     error
		want    domain.SyncStatus
	}{
		{"read to the end", false, nil, domain.SyncSucceeded},
		{"stopped at its page budget", true, nil, domain.SyncPartial},
		{"failed", false, errors.New("supplier down"), domain.SyncFailed},
		{"failed while partial", true, errors.New("supplier down"), domain.SyncFailed},
	} {
		r, err := domain.StartSyncRun("run-1", domain.SyncFull, time.Time{}, t0)
		if err != nil || r.Status() != domain.SyncRunning {
			t.Fatalf("StartSyncRun: %v, %v", r, err)
		}
		if err := r.Finish(t0.Add(time.Minute), c.partial, c.err); err != nil {
			t.Fatalf("%s: Finish: %v", c.name, err)
		}
		if r.Status() != c.want {
			t.Errorf("%s: status %s, want %s", c.name, r.Status(), c.want)
		}
		if err := r.Finish(t0.Add(2*time.Minute), false, nil); !errors.Is(err, domain.ErrInvalidSync) {
			t.Errorf("%s: finishing twice: %v, want ErrInvalidSync", c.name, err)
		}
		if s := r.Snapshot(); (c.err != nil) != (s.ErrorCount == 1) || !s.FinishedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("%s: %+v", c.name, s)
		}
	}
}

func TestSyncRunKeepsTheFirstErrorsAndCountsAll(t *testing.T) {
	t.Parallel()
	r, _ := domain.StartSyncRun("run-1", domain.SyncIncremental, time.Time{}, time.Now())
	for i := range 50 {
		r.RecordError(fmt.Sprintf("product %d has no name", i))
	}
	r.Add(domain.SyncCounts{Seen: 100, Created: 1, Changed: 2, Deactivated: 3})
	r.Add(domain.SyncCounts{Seen: 50, Changed: 1})
	s := r.Snapshot()
	if s.ErrorCount != 50 || len(s.Errors) != 20 || s.Errors[0] != "product 0 has no name" {
		t.Errorf("errors: %d counted, %d kept (%q...)", s.ErrorCount, len(s.Errors), s.Errors[0])
	}
	if want := (domain.SyncCounts{Seen: 150, Created: 1, Changed: 3, Deactivated: 3}); s.Counts != want {
		t.Errorf("counts %+v, want %+v", s.Counts, want)
	}
	for _, bad := range []func() error{
		func() error { _, err := domain.StartSyncRun("", domain.SyncFull, time.Time{}, time.Now()); return err },
		func() error {
			_, err := domain.StartSyncRun("x", domain.SyncMode{}, time.Time{}, time.Now())
			return err
		},
		func() error { _, err := domain.ParseSyncMode("partial"); return err },
		func() error { _, err := domain.ParseSyncStatus("done"); return err },
	} {
		if err := bad(); !errors.Is(err, domain.ErrInvalidSync) {
			t.Errorf("%v, want ErrInvalidSync", err)
		}
	}
}
