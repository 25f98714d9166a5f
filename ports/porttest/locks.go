package porttest

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/ports"
)

// Locks checks that a lock has one holder at a time and is free again after
// release. newLocks is called twice to stand for two processes.
func Locks(t *testing.T, newLocks func(t *testing.T) (ports.Locks, ports.Locks)) {
	t.Helper()
	a, b := newLocks(t)
	release, ok, err := a.TryLock(t.Context(), "job")
	if err != nil || !ok {
		t.Fatalf("first TryLock: %v %v", ok, err)
	}
	if _, ok, err := b.TryLock(t.Context(), "job"); err != nil || ok {
		t.Fatalf("second holder got the lock: %v %v", ok, err)
	}
	if r, ok, err := b.TryLock(t.Context(), "other-job"); err != nil || !ok {
		t.Fatalf("another name is blocked: %v %v", ok, err)
	} else {
		r()
	}
	release()
	r, ok, err := b.TryLock(t.Context(), "job")
	if err != nil || !ok {
		t.Fatalf("after release: %v %v", ok, err)
	}
	r()

	var holders, most atomic.Int32
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := a
			if i%2 == 1 {
				l = b
			}
			for range 20 {
				release, ok, err := l.TryLock(t.Context(), "race")
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					n := holders.Add(1)
					if n > most.Load() {
						most.Store(n)
					}
					holders.Add(-1)
					release()
				}
			}
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Fatalf("%d holders at once", most.Load())
	}
}
