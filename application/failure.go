package application

import (
	"context"
	"errors"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Failure is what a failed step calls for, decided once here for every
// message handler: retry later, give up, or stop for a person.
type Failure int

const (
	// FailureTransient: a dependency is down or slow; the same work can
	// succeed later (backoff, circuit breakers, then the reconciler).
	FailureTransient Failure = iota
	// FailurePermanent: the work can never succeed as it is (a malformed
	// message, a refusal); it goes to the dead letters with the reason.
	FailurePermanent
	// FailureNeedsReview: the work must not go on without a person (a
	// supplier that does not know a purchase we recorded); dead letter and
	// the order held for review.
	FailureNeedsReview
)

// String names the failure in dead-letter reasons and logs.
func (f Failure) String() string {
	switch f {
	case FailurePermanent:
		return "permanent"
	case FailureNeedsReview:
		return "needs_review"
	}
	return "transient"
}

// ErrNeedsReview marks an error only a person can resolve.
var ErrNeedsReview = errors.New("needs review")

// ClassifyFailure returns what err calls for. Dependencies that are down
// (ErrUnavailable, storage, vault, supplier outages, timeouts) and errors
// nothing explains are transient: retrying them is safe, since every
// handler is idempotent. Refusals and invalid input or state are
// permanent; ErrNeedsReview needs a person.
func ClassifyFailure(err error) Failure {
	switch {
	case err == nil:
		return FailureTransient
	case errors.Is(err, ErrNeedsReview):
		return FailureNeedsReview
	case errors.Is(err, ErrUnavailable), errors.Is(err, ports.ErrStorageUnavailable), errors.Is(err, ports.ErrVaultUnavailable),
		errors.Is(err, ports.ErrSupplierTemporary), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return FailureTransient
	case errors.Is(err, ports.ErrSupplierPermanent), errors.Is(err, ports.ErrPaymentRefused), errors.Is(err, ports.ErrMalformedNotice),
		errors.Is(err, domain.ErrInvalidOrder), errors.Is(err, domain.ErrInvalidTransition), errors.Is(err, domain.ErrNotFound),
		errors.Is(err, domain.ErrItemNotFound), errors.Is(err, ErrMalformedMessage):
		return FailurePermanent
	}
	return FailureTransient
}

// ErrMalformedMessage marks a message that cannot be decoded: it can
// never be handled.
var ErrMalformedMessage = errors.New("malformed message")
