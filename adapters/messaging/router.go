package messaging

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/keyward/keyward/domain"
)

// Handler reacts to one event topic.
type Handler struct {
	Name   string
	Topic  string
	Handle func(ctx context.Context, ev domain.OrderEvent) error
}

// RetryPolicy bounds how a failing handler is retried before its message is
// moved to DeadLetterTopic.
type RetryPolicy struct {
	MaxRetries      int
	InitialInterval time.Duration
	MaxInterval     time.Duration
}

// DefaultRetryPolicy retries for about six seconds: a message is never held
// for long (the SQL queue hands out one message per topic at a time), and
// what still fails goes to the dead letters, from where the reconciler
// finishes the order once the cause is gone.
var DefaultRetryPolicy = RetryPolicy{MaxRetries: 5, InitialInterval: 200 * time.Millisecond, MaxInterval: 5 * time.Second}

// NewRouter builds a router that runs handlers on messages from sub, retries
// failures with exponential backoff and sends what still fails to the
// dead-letter topic on pub.
func NewRouter(sub message.Subscriber, pub message.Publisher, policy RetryPolicy, log *slog.Logger, handlers ...Handler) (*message.Router, error) {
	wlog := watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	r, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, wlog)
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	poison, err := middleware.PoisonQueue(pub, DeadLetterTopic)
	if err != nil {
		return nil, err
	}
	r.AddMiddleware(
		poison,
		middleware.Retry{
			MaxRetries: policy.MaxRetries, InitialInterval: policy.InitialInterval, MaxInterval: policy.MaxInterval,
			Multiplier: 2, RandomizationFactor: 0.2, Logger: wlog,
		}.Middleware,
		middleware.Recoverer,
	)
	r.AddMiddleware(Correlate) // innermost: each attempt runs with the message's correlation id
	for _, h := range handlers {
		h := h
		r.AddConsumerHandler(h.Name, h.Topic, sub, func(msg *message.Message) error {
			ev, err := ParseMessage(msg)
			if err != nil {
				return err
			}
			return h.Handle(msg.Context(), ev)
		})
	}
	return r, nil
}
