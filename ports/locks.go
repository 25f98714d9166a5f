package ports

import "context"

// Locks elects one worker among processes for a periodic job.
type Locks interface {
	// TryLock takes the named lock without waiting. ok is false when
	// another holder has it; release must be called when ok.
	TryLock(ctx context.Context, name string) (release func(), ok bool, err error)
}
