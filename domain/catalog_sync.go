package domain

import (
	"fmt"
	"time"
)

// SyncMode is how much of the supplier's catalog a sync reads.
type SyncMode struct{ name string }

// Sync modes: every product (and products not seen become unavailable), or
// only those the supplier changed since a time.
var (
	SyncFull        = SyncMode{"full"}
	SyncIncremental = SyncMode{"incremental"}
)

// ParseSyncMode returns the mode named s, or ErrInvalidSync.
func ParseSyncMode(s string) (SyncMode, error) {
	switch s {
	case SyncFull.name:
		return SyncFull, nil
	case SyncIncremental.name:
		return SyncIncremental, nil
	}
	return SyncMode{}, fmt.Errorf("%w: unknown sync mode %q (full or incremental)", ErrInvalidSync, s)
}

// String returns the mode's name.
func (m SyncMode) String() string { return m.name }

// SyncStatus is where a sync run stands.
type SyncStatus struct{ name string }

// Sync statuses. A partial run read part of the catalog without error (it
// stopped at its page budget, or resumed from a cursor): it is no baseline
// for incremental runs.
var (
	SyncRunning   = SyncStatus{"running"}
	SyncSucceeded = SyncStatus{"succeeded"}
	SyncPartial   = SyncStatus{"partial"}
	SyncFailed    = SyncStatus{"failed"}
)

// ParseSyncStatus returns the status named s, or ErrInvalidSync.
func ParseSyncStatus(s string) (SyncStatus, error) {
	for _, st := range []SyncStatus{SyncRunning, SyncSucceeded, SyncPartial, SyncFailed} {
		if st.name == s {
			return st, nil
		}
	}
	return SyncStatus{}, fmt.Errorf("%w: unknown sync status %q", ErrInvalidSync, s)
}

// String returns the status's name.
func (s SyncStatus) String() string { return s.name }

// ErrInvalidSync: a sync run that cannot be recorded as given.
var ErrInvalidSync = fmt.Errorf("%w: sync run", ErrInvalidProduct)

// maxSyncErrors bounds the error messages a run keeps; the count goes on.
const maxSyncErrors = 20

// SyncCounts are what a run did to the catalog.
type SyncCounts struct {
	Seen        int // supplier products read
	Created     int // new catalog entries
	Changed     int // entries whose listing changed
	Deactivated int // entries that vanished or ran out and are no longer in stock
}

// SyncRun is one catalog sync: when, how, what it did and what failed.
type SyncRun struct {
	id           string
	mode         SyncMode
	updatedSince time.Time
	startedAt    time.Time
	finishedAt   time.Time
	status       SyncStatus
	counts       SyncCounts
	errorCount   int
	errors       []string
	supplier     string
}

// SyncRunSnapshot carries a run's fields in and out of storage.
type SyncRunSnapshot struct {
	ID           string
	Mode         SyncMode
	UpdatedSince time.Time // incremental runs: what they asked since
	StartedAt    time.Time
	FinishedAt   time.Time // zero while running
	Status       SyncStatus
	Counts       SyncCounts
	ErrorCount   int
	Errors       []string // the first messages, at most 20
	// Supplier names the supplier the run read ("": a run recorded before
	// runs named theirs).
	Supplier string
}

// StartSyncRun begins a run; ErrInvalidSync without an id, a mode or a
// start time.
func StartSyncRun(id string, mode SyncMode, updatedSince, at time.Time) (*SyncRun, error) {
	if id == "" || mode == (SyncMode{}) || at.IsZero() {
		return nil, fmt.Errorf("%w: a run needs an id, a mode and a start time", ErrInvalidSync)
	}
	return &SyncRun{id: id, mode: mode, updatedSince: updatedSince, startedAt: at, status: SyncRunning}, nil
}

// StartSupplierSyncRun is StartSyncRun of a run that reads the named
// supplier's catalog: each supplier's runs are its own baseline.
func StartSupplierSyncRun(id, supplier string, mode SyncMode, updatedSince, at time.Time) (*SyncRun, error) {
	r, err := StartSyncRun(id, mode, updatedSince, at)
	if err != nil {
		return nil, err
	}
	r.supplier = supplier
	return r, nil
}

// Supplier names the supplier the run read ("" for a run recorded before
// runs named theirs).
func (r *SyncRun) Supplier() string { return r.supplier }

// RehydrateSyncRun rebuilds a stored run; ErrInvalidSync for missing fields.
func RehydrateSyncRun(s SyncRunSnapshot) (*SyncRun, error) {
	if s.ID == "" || s.Mode == (SyncMode{}) || s.Status == (SyncStatus{}) || s.StartedAt.IsZero() {
		return nil, fmt.Errorf("%w: stored run %q lacks a field", ErrInvalidSync, s.ID)
	}
	return &SyncRun{id: s.ID, mode: s.Mode, updatedSince: s.UpdatedSince, startedAt: s.StartedAt, finishedAt: s.FinishedAt,
		status: s.Status, counts: s.Counts, errorCount: s.ErrorCount, errors: append([]string(nil), s.Errors...), supplier: s.Supplier}, nil
}

// ID returns the run's id.
func (r *SyncRun) ID() string { return r.id }

// Mode returns whether the run is full or incremental.
func (r *SyncRun) Mode() SyncMode { return r.mode }

// StartedAt returns when the run began.
func (r *SyncRun) StartedAt() time.Time { return r.startedAt }

// Status returns where the run stands.
func (r *SyncRun) Status() SyncStatus { return r.status }

// Counts returns what the run did so far.
func (r *SyncRun) Counts() SyncCounts { return r.counts }

// Add adds a page's counts.
func (r *SyncRun) Add(c SyncCounts) {
	r.counts.Seen += c.Seen
	r.counts.Created += c.Created
	r.counts.Changed += c.Changed
	r.counts.Deactivated += c.Deactivated
}

// RecordError notes a problem that did not stop the run (a product that
// cannot be listed), keeping the first messages.
func (r *SyncRun) RecordError(msg string) {
	r.errorCount++
	if len(r.errors) < maxSyncErrors {
		r.errors = append(r.errors, msg)
	}
}

// Finish ends the run at at: failed with err's message when err is set,
// partial when it stopped before the end, succeeded otherwise. It returns
// ErrInvalidSync when the run already finished.
func (r *SyncRun) Finish(at time.Time, partial bool, err error) error {
	if r.status != SyncRunning {
		return fmt.Errorf("%w: run %s is already %s", ErrInvalidSync, r.id, r.status)
	}
	r.finishedAt = at
	switch {
	case err != nil:
		r.status = SyncFailed
		r.RecordError(err.Error())
	case partial:
		r.status = SyncPartial
	default:
		r.status = SyncSucceeded
	}
	return nil
}

// Snapshot returns the run's fields.
func (r *SyncRun) Snapshot() SyncRunSnapshot {
	return SyncRunSnapshot{ID: r.id, Mode: r.mode, UpdatedSince: r.updatedSince, StartedAt: r.startedAt, FinishedAt: r.finishedAt,
		Status: r.status, Counts: r.counts, ErrorCount: r.errorCount, Errors: append([]string(nil), r.errors...), Supplier: r.supplier}
}
