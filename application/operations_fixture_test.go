package application_test

import (
	"context"
	"sync"
)

// requeueRecorder stands in for the message publisher: it records what a
// dead-letter replay hands back, and can be told to fail.
type requeueRecorder struct {
	mu     sync.Mutex
	topics []string
	fail   error
}

func (r *requeueRecorder) Requeue(_ context.Context, topic string, _ []byte, _ map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.topics = append(r.topics, topic)
	return nil
}

func (r *requeueRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.topics)
}
