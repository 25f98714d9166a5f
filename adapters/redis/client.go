package redis

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Connect opens a client on rawURL (redis://[user:password@]host:port/db or
// rediss:// for TLS) and checks, within timeout, that Redis answers. Its
// errors name the server without the URL's user and password, and name
// the variable to fix as setting.
func Connect(ctx context.Context, setting, rawURL string, timeout time.Duration) (*goredis.Client, error) {
	opts, err := goredis.ParseURL(rawURL)
	if err != nil {
		// The parser's error may quote the URL, password included.
		return nil, fmt.Errorf("%s=%s: not a redis:// or rediss:// URL", setting, Masked(rawURL))
	}
	client := goredis.NewClient(opts)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return nil, fmt.Errorf("%s=%s: redis does not answer: %v", setting, Masked(rawURL), err)
	}
	return client, nil
}

// Masked is rawURL without its user and password, for errors and logs; a
// value that does not parse as a URL is hidden whole.
func Masked(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}
