package metrics_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/keyward/keyward/adapters/metrics"
	"github.com/keyward/keyward/ports"
)

type failingMailer struct{ err error }

func (m failingMailer) Send(context.Context, ports.Email) (ports.Receipt, error) {
	return ports.Receipt{}, m.err
}

// TestCallsAreMeasuredWithTheirErrors: every call through a decorated port
// is timed, the failed ones counted as errors, by dependency and operation.
func TestCallsAreMeasuredWithTheirErrors(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	ok, bad := m.Mailer(failingMailer{}), m.Mailer(failingMailer{errors.New("smtp down")})
	_, _ = ok.Send(t.Context(), ports.Email{})
	_, _ = ok.Send(t.Context(), ports.Email{})
	if _, err := bad.Send(t.Context(), ports.Email{}); err == nil {
		t.Fatal("the decorator swallowed the error")
	}
	want := `
# HELP keyward_dependency_call_errors_total Calls to external dependencies that returned an error, by dependency and operation.
# TYPE keyward_dependency_call_errors_total counter
keyward_dependency_call_errors_total{dependency="mailer",operation="send"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "keyward_dependency_call_errors_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.Registry(), "keyward_dependency_call_duration_seconds"); n != 1 {
		t.Fatalf("%d duration series, want 1", n)
	}
	h := strings.NewReader(`
# HELP keyward_rate_limit_rejections_total Requests answered 429 by a rate limit, by limiter.
# TYPE keyward_rate_limit_rejections_total counter
keyward_rate_limit_rejections_total{limiter="admin_auth"} 2
`)
	m.RateLimited("admin_auth")
	m.RateLimited("admin_auth")
	if err := testutil.GatherAndCompare(m.Registry(), h, "keyward_rate_limit_rejections_total"); err != nil {
		t.Fatal(err)
	}
	m.RateLimiterFailed("order_email")
	failed := strings.NewReader(`
# HELP keyward_rate_limiter_errors_total Requests let through because a rate limiter's store (Redis) did not answer, by limiter.
# TYPE keyward_rate_limiter_errors_total counter
keyward_rate_limiter_errors_total{limiter="order_email"} 1
`)
	if err := testutil.GatherAndCompare(m.Registry(), failed, "keyward_rate_limiter_errors_total"); err != nil {
		t.Fatal(err)
	}
}

// TestGaugesAreReadOnScrape: a gauge's source is read at each scrape, and
// a failing source fails only its own gauge.
func TestGaugesAreReadOnScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	n := 0.0
	m.Gauge("things", "Things.", []string{"kind"}, func(context.Context) ([]metrics.Sample, error) {
		n++
		return []metrics.Sample{{Labels: []string{"a"}, Value: n}}, nil
	}, discard())
	for want := 1.0; want <= 2; want++ {
		exp := `
# HELP keyward_things Things.
# TYPE keyward_things gauge
keyward_things{kind="a"} ` + map[float64]string{1: "1", 2: "2"}[want] + "\n"
		if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(exp), "keyward_things"); err != nil {
			t.Fatal(err)
		}
	}
	m.Gauge("broken", "Broken.", nil, func(context.Context) ([]metrics.Sample, error) { return nil, errors.New("db down") }, discard())
	if _, err := m.Registry().Gather(); err == nil {
		t.Fatal("a failing source is not reported")
	}
	// The scrape still answers, with every other metric and without the
	// broken gauge.
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if rec.Code != http.StatusOK || !strings.Contains(body, `keyward_things{kind="a"} `) || strings.Contains(body, "keyward_broken") {
		t.Fatalf("a failing source blanked the scrape: %d\n%s", rec.Code, body)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

type flooredVault struct {
	ports.KeyVault
	floor int
}

func (v *flooredVault) SetMinDecryptionVersion(_ context.Context, version int) error {
	v.floor = version
	return nil
}

// TestVaultKeepsItsVersionFloor: the rotation use case finds
// ports.KeyVersionFloor on a measured vault that has it, and not on one
// that does not.
func TestVaultKeepsItsVersionFloor(t *testing.T) {
	t.Parallel()
	m := metrics.New()
	inner := &flooredVault{}
	f, ok := m.KeyVault(inner).(ports.KeyVersionFloor)
	if !ok {
		t.Fatal("the measured vault lost SetMinDecryptionVersion")
	}
	if err := f.SetMinDecryptionVersion(t.Context(), 3); err != nil || inner.floor != 3 {
		t.Fatalf("floor %d (%v), want 3", inner.floor, err)
	}
	if _, ok := m.KeyVault(struct{ ports.KeyVault }{}).(ports.KeyVersionFloor); ok {
		t.Fatal("a vault without a floor gained one")
	}
}

// TestCachedSourceAsksOncePerPeriod: a cached source answers scrapes from
// its last reading within the period, and a failed reading is not kept.
func TestCachedSourceAsksOncePerPeriod(t *testing.T) {
	t.Parallel()
	calls, fail := 0, false
	src := metrics.Cached(time.Hour, func(context.Context) ([]metrics.Sample, error) {
		calls++
		if fail {
			return nil, errors.New("supplier down")
		}
		return []metrics.Sample{{Value: float64(calls)}}, nil
	})
	for range 3 {
		if s, err := src(t.Context()); err != nil || len(s) != 1 || s[0].Value != 1 {
			t.Fatalf("cached read = %v, %v; want the first reading", s, err)
		}
	}
	if calls != 1 {
		t.Fatalf("the source was called %d times within one period, want 1", calls)
	}

	fail = true
	failing := metrics.Cached(time.Hour, func(ctx context.Context) ([]metrics.Sample, error) {
		calls++
		if fail {
			return nil, errors.New("supplier down")
		}
		return []metrics.Sample{{Value: 7}}, nil
	})
	if _, err := failing(t.Context()); err == nil {
		t.Fatal("a failed reading was not reported")
	}
	fail = false
	if s, err := failing(t.Context()); err != nil || len(s) != 1 || s[0].Value != 7 {
		t.Fatalf("after a failure the next scrape = %v, %v; want a fresh reading", s, err)
	}
}
