package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Errors of claims.
var (
	// ErrInvalidClaim: a claim without ids, with an unknown reason or
	// source, or with a message that is too long.
	ErrInvalidClaim = errors.New("invalid claim")
	// ErrClaimWindowClosed: the key was never revealed, or its first
	// reveal is longer ago than the claim window.
	ErrClaimWindowClosed = errors.New("claim window closed")
	// ErrReplacementLimit: the item had its allowance of replacements; an
	// admin may force one more.
	ErrReplacementLimit = errors.New("replacement limit reached")
)

// ClaimReason is why a customer says a key does not work.
type ClaimReason struct{ name string }

// Claim reasons.
var (
	ClaimNotWorking  = ClaimReason{"not_working"}
	ClaimAlreadyUsed = ClaimReason{"already_used"}
	ClaimWrongRegion = ClaimReason{"wrong_region"}
	ClaimOther       = ClaimReason{"other"}
)

// ClaimReasons lists every reason.
var ClaimReasons = []ClaimReason{ClaimNotWorking, ClaimAlreadyUsed, ClaimWrongRegion, ClaimOther}

// ParseClaimReason returns the reason named s, or ErrInvalidClaim.
func ParseClaimReason(s string) (ClaimReason, error) {
	for _, r := range ClaimReasons {
		if r.name == s {
			return r, nil
		}
	}
	return ClaimReason{}, fmt.Errorf("%w: unknown reason %q (want not_working, already_used, wrong_region or other)", ErrInvalidClaim, s)
}

// String returns the reason's name.
func (r ClaimReason) String() string { return r.name }

// ClaimStatus is where a claim stands.
type ClaimStatus struct{ name string }

// Claim statuses.
var (
	ClaimOpen     = ClaimStatus{"open"}
	ClaimApproved = ClaimStatus{"approved"}
	ClaimRejected = ClaimStatus{"rejected"}
)

// ParseClaimStatus returns the status named s, or ErrInvalidClaim.
func ParseClaimStatus(s string) (ClaimStatus, error) {
	for _, st := range []ClaimStatus{ClaimOpen, ClaimApproved, ClaimRejected} {
		if st.name == s {
			return st, nil
		}
	}
	return ClaimStatus{}, fmt.Errorf("%w: unknown status %q (want open, approved or rejected)", ErrInvalidClaim, s)
}

// String returns the status's name.
func (s ClaimStatus) String() string { return s.name }

// ReplacementSource is where an approved claim's replacement key comes
// from.
type ReplacementSource struct{ name string }

// Replacement sources.
var (
	ReplaceFromStock    = ReplacementSource{"stock"}
	ReplaceFromSupplier = ReplacementSource{"supplier"}
)

// ParseReplacementSource returns the source named s, or ErrInvalidClaim.
func ParseReplacementSource(s string) (ReplacementSource, error) {
	for _, src := range []ReplacementSource{ReplaceFromStock, ReplaceFromSupplier} {
		if src.name == s {
			return src, nil
		}
	}
	return ReplacementSource{}, fmt.Errorf("%w: unknown source %q (want stock or supplier)", ErrInvalidClaim, s)
}

// String returns the source's name, "" for the zero value.
func (s ReplacementSource) String() string { return s.name }

// MaxClaimText bounds a claim's message and an admin's note or rejection
// message, in bytes.
const MaxClaimText = 2000

// ClaimText makes free text safe to store, show and audit: valid UTF-8,
// no control or format characters but newlines and tabs, trimmed; it
// returns ErrInvalidClaim when it is longer than MaxClaimText.
func ClaimText(s string) (string, error) {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.In(r, unicode.Cc, unicode.Cf) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > MaxClaimText {
		return "", fmt.Errorf("%w: text longer than %d bytes", ErrInvalidClaim, MaxClaimText)
	}
	return s, nil
}

// Claim is a customer's report that a revealed key does not work, and
// support's decision on it.
type Claim struct {
	id        string
	orderID   string
	itemID    string
	reason    ClaimReason
	message   string
	createdAt time.Time
	status    ClaimStatus
	decidedAt *time.Time
	decidedBy string
	source    ReplacementSource // approved only
	note      string            // the approval's note or the rejection's message
	forced    bool              // approved beyond the replacement limit
}

// NewClaim opens a claim on an item whose keys were first revealed at
// firstReveal (zero: never), within window of it. It returns
// ErrInvalidClaim for missing ids or bad text and ErrClaimWindowClosed
// when the keys were never revealed or the window is over.
func NewClaim(id, orderID, itemID string, reason ClaimReason, message string, firstReveal, now time.Time, window time.Duration) (*Claim, error) {
	if id == "" || orderID == "" || itemID == "" || reason == (ClaimReason{}) {
		return nil, fmt.Errorf("%w: a claim needs an id, an order, an item and a reason", ErrInvalidClaim)
	}
	msg, err := ClaimText(message)
	if err != nil {
		return nil, err
	}
	switch {
	case firstReveal.IsZero():
		return nil, fmt.Errorf("%w: the key was never revealed", ErrClaimWindowClosed)
	case !now.Before(firstReveal.Add(window)):
		return nil, fmt.Errorf("%w: the key was first revealed on %s; claims are taken for %s after that",
			ErrClaimWindowClosed, firstReveal.UTC().Format("2006-01-02"), window)
	}
	return &Claim{id: id, orderID: orderID, itemID: itemID, reason: reason, message: msg, createdAt: now, status: ClaimOpen}, nil
}

// Approve decides for the customer: a replacement from source. replaced is
// how many replacements the item had before; beyond max only force
// approves (ErrReplacementLimit). A claim already decided answers
// ErrInvalidTransition.
func (c *Claim) Approve(source ReplacementSource, note, actor string, replaced, max int, force bool, now time.Time) error {
	if c.status != ClaimOpen {
		return fmt.Errorf("%w: claim is %s", ErrInvalidTransition, c.status)
	}
	if source == (ReplacementSource{}) || actor == "" {
		return fmt.Errorf("%w: an approval needs a source and an actor", ErrInvalidClaim)
	}
	if replaced >= max && !force {
		return fmt.Errorf("%w: the item was replaced %d time(s) of %d allowed; approve with force to replace it again", ErrReplacementLimit, replaced, max)
	}
	n, err := ClaimText(note)
	if err != nil {
		return err
	}
	t := now
	c.status, c.decidedAt, c.decidedBy, c.source, c.note, c.forced = ClaimApproved, &t, actor, source, n, replaced >= max
	return nil
}

// Reject decides against the customer, with the message they are sent. A
// claim already decided answers ErrInvalidTransition.
func (c *Claim) Reject(message, actor string, now time.Time) error {
	if c.status != ClaimOpen {
		return fmt.Errorf("%w: claim is %s", ErrInvalidTransition, c.status)
	}
	m, err := ClaimText(message)
	if err != nil {
		return err
	}
	if m == "" || actor == "" {
		return fmt.Errorf("%w: a rejection needs a message for the customer and an actor", ErrInvalidClaim)
	}
	t := now
	c.status, c.decidedAt, c.decidedBy, c.note = ClaimRejected, &t, actor, m
	return nil
}

// ClaimSnapshot carries a claim's stored fields.
type ClaimSnapshot struct {
	ID        string
	OrderID   string
	ItemID    string
	Reason    ClaimReason
	Message   string
	CreatedAt time.Time
	Status    ClaimStatus
	DecidedAt *time.Time
	DecidedBy string
	Source    ReplacementSource
	Note      string
	Forced    bool
}

// UnmarshalClaim rehydrates a stored claim; it cannot fail.
func UnmarshalClaim(s ClaimSnapshot) *Claim {
	return &Claim{id: s.ID, orderID: s.OrderID, itemID: s.ItemID, reason: s.Reason, message: s.Message, createdAt: s.CreatedAt,
		status: s.Status, decidedAt: s.DecidedAt, decidedBy: s.DecidedBy, source: s.Source, note: s.Note, forced: s.Forced}
}

// Snapshot returns the claim's fields for storage.
func (c *Claim) Snapshot() ClaimSnapshot {
	return ClaimSnapshot{ID: c.id, OrderID: c.orderID, ItemID: c.itemID, Reason: c.reason, Message: c.message, CreatedAt: c.createdAt,
		Status: c.status, DecidedAt: c.decidedAt, DecidedBy: c.decidedBy, Source: c.source, Note: c.note, Forced: c.forced}
}

// ID returns the claim's id.
func (c *Claim) ID() string { return c.id }

// OrderID returns the claimed order's id.
func (c *Claim) OrderID() string { return c.orderID }

// ItemID returns the claimed item's id.
func (c *Claim) ItemID() string { return c.itemID }

// Reason returns why the customer claims.
func (c *Claim) Reason() ClaimReason { return c.reason }

// Message returns the customer's words.
func (c *Claim) Message() string { return c.message }

// Status returns where the claim stands.
func (c *Claim) Status() ClaimStatus { return c.status }

// CreatedAt returns when the claim was opened.
func (c *Claim) CreatedAt() time.Time { return c.createdAt }

// Source returns where an approved claim's replacement comes from.
func (c *Claim) Source() ReplacementSource { return c.source }

// Note returns the approval's note or the rejection's message.
func (c *Claim) Note() string { return c.note }

// Forced reports whether the approval went beyond the replacement limit.
func (c *Claim) Forced() bool { return c.forced }
