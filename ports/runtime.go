package ports

import (
	"context"
	"time"

	"github.com/keyward/keyward/domain"
)

// EventPublisher publishes domain events. Repositories that cannot publish
// inside their own transaction use it after a successful save.
type EventPublisher interface {
	Publish(ctx context.Context, events ...domain.Event) error
}

// Clock tells the time.
type Clock interface{ Now() time.Time }

// IDs makes new unique, time-ordered ids.
type IDs interface{ NewID() string }

// HealthCheck is one component of /readyz.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}
