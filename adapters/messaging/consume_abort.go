package messaging

import (
	"fmt"
	"sync"

	"github.com/keyward/keyward/ports"
)

// A handling that leaves its consume transaction unable to commit
// (ports.ErrConsumeAborted: a statement failed before its savepoint was
// sent, or the rollback to its savepoint failed) gives the batch up at once (ConsumeTx.Abort), and the message it
// was handling is remembered, so that its next handling takes its
// savepoint at once (ConsumeTx.Eager) and fails as any message does.

// errAborted is what an aborted ConsumeTx answers every statement with:
// Watermill then gives the batch up, and reads it again.
var errAborted = fmt.Errorf("consume transaction given up: %w", ports.ErrConsumeAborted)

// abortedBy remembers the messages (by their acknowledgement) whose
// handling aborted a batch, so that their next handling sends its
// savepoint at once (Eager) and a failure of its own is retried and
// dead-lettered as any other, rather than aborting the batch again, for
// ever. An entry goes once a batch's commit acknowledges its message or a
// later one, by the subscriber's acknowledgement or the handling's own
// (ConsumeTx.Commit; not before: a later message of the batch
// may abort it again, and the first must still take its savepoint at
// once on the next read); the set is bounded.
var abortedBy = &abortedSet{keys: map[string]bool{}}

// abortedSet is a set of acknowledgement keys (ackKey), bounded by
// maxAbortedBy: full, it starts again empty (a message forgotten so aborts
// one batch more).
type abortedSet struct {
	mu   sync.Mutex
	keys map[string]bool
}

const maxAbortedBy = 1024

func (s *abortedSet) remember(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.keys) >= maxAbortedBy {
		clear(s.keys)
	}
	s.keys[key] = true
}

func (s *abortedSet) has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keys[key]
}

func (s *abortedSet) forget(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, key := range keys {
		delete(s.keys, key)
	}
}

// Eager reports whether the message being handed out aborted a batch
// before: its handling then sends its savepoint at once (InConsumeTx), so
// that a failure of its own can be rolled back and retried.
func (t *ConsumeTx) Eager() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.eager
}

// Abort gives the batch up at once, when its handling left the
// transaction unable to commit (ports.ErrConsumeAborted): it rolls the
// transaction back now, for an open aborted transaction would hold back
// what every consumer of the cluster sees (BENCHMARKS.md), and answers
// Watermill's next statement with an error, so that the batch is read
// again. The message being handed out is remembered (Eager).
func (t *ConsumeTx) Abort() {
	t.mu.Lock()
	if t.aborted {
		t.mu.Unlock()
		return
	}
	t.aborted, t.after = true, nil
	if t.handing != nil {
		abortedBy.remember(ackKey(*t.handing))
	}
	t.mu.Unlock()
	_ = t.tx.Rollback() // every statement after it answers errAborted
}

// isAborted reports whether Abort was called.
func (t *ConsumeTx) isAborted() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.aborted
}
