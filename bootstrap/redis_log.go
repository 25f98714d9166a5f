package bootstrap

import (
	"context"
	"fmt"
	"log/slog"

	goredis "github.com/redis/go-redis/v9"
)

// redisLog takes go-redis's own messages (connection-pool dial failures,
// printed to stderr by default, one per retry) into keyward's log at
// debug level: each failure they describe already reaches keyward as an
// error, the start's one line naming KEYWARD_REDIS_URL or
// keyward_rate_limiter_errors_total.
type redisLog struct{ log *slog.Logger }

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// useRedisLog routes go-redis's messages to log. go-redis keeps one logger
// for the whole process (its API has no other), and a process has one
// rate limiter.
func useRedisLog(log *slog.Logger) { goredis.SetLogger(redisLog{log: log}) }
