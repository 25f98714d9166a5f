package porttest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// WebhookStore runs the ports.WebhookStore contract. newStore returns an
// empty store per call, from parallel subtests, and the units of work its
// writes join.
func WebhookStore(t *testing.T, newStore func(t *testing.T) (ports.WebhookStore, ports.Transactor)) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.WebhookStore, ports.Transactor)
	}{
		{"endpoints are created, read, updated and deleted", hookTest(testWebhookEndpoints)},
		{"an event goes once to each subscribed endpoint, failed to a disabled one", hookTest(testWebhookEnqueue)},
		{"what a disabled endpoint missed is recovered once it is enabled", hookTest(testWebhookRecoverDisabled)},
		{"a claim leases due messages, bounded per endpoint", hookTest(testWebhookClaim)},
		{"an attempt settles its message", hookTest(testWebhookRecord)},
		{"an endpoint failing long enough is disabled once", hookTest(testWebhookDisable)},
		{"the log filters, redelivers, recovers and purges", hookTest(testWebhookLog)},
		{"attempts recorded together settle each message and the endpoint's run in their order", hookTest(testWebhookRecordTogether)},
		{"a failure that disables is not undone by a success recorded after it", hookTest(testWebhookRecordDisableThenSuccess)},
		{"a record claims what is due, none it records nor of an endpoint it disables", hookTest(testWebhookRecordClaims)},
		{"a record in a unit of work that fails is undone, the endpoint it disabled too", testWebhookRecordRolledBack},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			s, tx := newStore(t)
			st.run(t, s, tx)
		})
	}
}

// hookTest adapts a test of the store alone.
func hookTest(run func(*testing.T, ports.WebhookStore)) func(*testing.T, ports.WebhookStore, ports.Transactor) {
	return func(t *testing.T, s ports.WebhookStore, _ ports.Transactor) { run(t, s) }
}

// hookT0 is the suite's time, to the microsecond stores keep.
var hookT0 = suiteT0.Truncate(time.Microsecond)

const (
	suiteSecret  = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	suiteSecret2 = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
)

func suiteEndpoint(id string, at time.Time, events ...string) domain.WebhookEndpoint {
	return domain.WebhookEndpoint{ID: id, URL: "https://shop.example/hooks/" + id, Events: events, Description: "shop " + id,
		Secret: suiteSecret, CreatedAt: at, UpdatedAt: at}
}

func createEndpoints(t *testing.T, s ports.WebhookStore, eps ...domain.WebhookEndpoint) {
	t.Helper()
	for _, e := range eps {
		if err := s.CreateEndpoint(t.Context(), e); err != nil {
			t.Fatalf("CreateEndpoint(%s): %v", e.ID, err)
		}
	}
}

func suiteEvent(t *testing.T, id, typ, orderID string, at time.Time) domain.WebhookEvent {
	t.Helper()
	ev, err := domain.NewWebhookEvent(id, typ, orderID, at, map[string]any{"order_id": orderID})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func enqueue(t *testing.T, s ports.WebhookStore, events ...domain.WebhookEvent) {
	t.Helper()
	if err := s.Enqueue(t.Context(), events...); err != nil {
		t.Fatalf("Enqueue: %v", err)
	}
}

func messagesOf(t *testing.T, s ports.WebhookStore, q ports.WebhookMessageQuery) []domain.WebhookMessage {
	t.Helper()
	ms, err := s.Messages(t.Context(), q)
	if err != nil {
		t.Fatalf("Messages(%+v): %v", q, err)
	}
	return ms
}

func claimWebhooks(t *testing.T, s ports.WebhookStore, now time.Time, limit, per int, skip ...string) []ports.WebhookDelivery {
	t.Helper()
	ds, err := s.Claim(t.Context(), ports.WebhookClaim{Now: now, Lease: time.Minute, Limit: limit, PerEndpoint: per, Skip: skip})
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	return ds
}

func testWebhookEndpoints(t *testing.T, s ports.WebhookStore) {
	ctx := t.Context()
	e := suiteEndpoint("ep-1", hookT0, "order.paid", "order.delivered")
	e.PreviousSecret, e.PreviousUntil = suiteSecret2, hookT0.Add(24*time.Hour)
	createEndpoints(t, s, e, suiteEndpoint("ep-2", hookT0.Add(time.Second), "*"))
	if err := s.CreateEndpoint(ctx, suiteEndpoint("ep-1", hookT0)); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("CreateEndpoint of an existing id = %v, want ErrConflict", err)
	}
	got, err := s.Endpoint(ctx, "ep-1")
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != e.URL || !slices.Equal(got.Events, e.Events) || got.Secret != suiteSecret || got.PreviousSecret != suiteSecret2 ||
		!got.PreviousUntil.Equal(e.PreviousUntil) || !got.CreatedAt.Equal(hookT0) || got.Description != "shop ep-1" || got.Disabled {
		t.Fatalf("Endpoint = %+v, want %+v", got, e)
	}
	if _, err := s.Endpoint(ctx, "nope"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Endpoint(nope) = %v, want ErrNotFound", err)
	}
	all, err := s.Endpoints(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "ep-1" || all[1].ID != "ep-2" {
		t.Fatalf("Endpoints = %+v, %v; want ep-1, ep-2", all, err)
	}
	boom := errors.New("boom")
	if _, err := s.UpdateEndpoint(ctx, "ep-1", func(e *domain.WebhookEndpoint) error { e.URL = "https://x.example/"; return boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateEndpoint's fn error = %v", err)
	}
	up, err := s.UpdateEndpoint(ctx, "ep-1", func(e *domain.WebhookEndpoint) error {
		e.Disabled, e.Events, e.FailingSince = true, []string{"order.refunded"}, hookT0
		return nil
	})
	if err != nil || !up.Disabled {
		t.Fatalf("UpdateEndpoint = %+v, %v", up, err)
	}
	if got, _ := s.Endpoint(ctx, "ep-1"); got.URL != e.URL || !got.Disabled || !slices.Equal(got.Events, []string{"order.refunded"}) || !got.FailingSince.Equal(hookT0) {
		t.Fatalf("after update: %+v", got)
	}
	if _, err := s.UpdateEndpoint(ctx, "nope", func(*domain.WebhookEndpoint) error { return nil }); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("UpdateEndpoint(nope) = %v, want ErrNotFound", err)
	}
	enqueue(t, s, suiteEvent(t, "ev-1", "order.paid", "o1", hookT0))
	if err := s.DeleteEndpoint(ctx, "ep-2"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteEndpoint(ctx, "ep-2"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("DeleteEndpoint twice = %v, want ErrNotFound", err)
	}
	if ms := messagesOf(t, s, ports.WebhookMessageQuery{}); len(ms) != 0 {
		t.Fatalf("a deleted endpoint's messages stay: %+v", ms)
	}
}

func testWebhookEnqueue(t *testing.T, s ports.WebhookStore) {
	off := suiteEndpoint("off", hookT0, "*")
	off.Disabled = true
	createEndpoints(t, s, suiteEndpoint("paid", hookT0, "order.paid"), suiteEndpoint("all", hookT0, "*"), off)
	paid := suiteEvent(t, "ev-paid", "order.paid", "o1", hookT0)
	enqueue(t, s, paid, suiteEvent(t, "ev-delivered", "order.delivered", "o1", hookT0.Add(time.Second)))
	enqueue(t, s, paid) // again: nothing more
	ms := messagesOf(t, s, ports.WebhookMessageQuery{})
	var got []string
	for _, m := range ms {
		got = append(got, m.EventID+">"+m.EndpointID)
		want := domain.WebhookPending
		if m.EndpointID == "off" {
			want = domain.WebhookFailed // kept for a recover
		}
		if m.Status != want || m.Attempts != 0 || m.OrderID != "o1" {
			t.Errorf("new message %+v, want %s with no attempt", m, want)
		}
		if m.EventID == "ev-paid" && string(m.Body) != string(paid.Body) {
			t.Errorf("body %s, want %s", m.Body, paid.Body)
		}
	}
	slices.Sort(got)
	if want := []string{"ev-delivered>all", "ev-delivered>off", "ev-paid>all", "ev-paid>off", "ev-paid>paid"}; !slices.Equal(got, want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	m, err := s.EnqueueTo(t.Context(), "off", suiteEvent(t, "ev-test", "webhook.test", "", hookT0))
	if err != nil || m.EndpointID != "off" || m.Type != "webhook.test" || m.ID == "" {
		t.Fatalf("EnqueueTo = %+v, %v", m, err)
	}
	if _, err := s.EnqueueTo(t.Context(), "nope", suiteEvent(t, "ev-x", "webhook.test", "", hookT0)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("EnqueueTo(nope) = %v, want ErrNotFound", err)
	}
	if err := s.Enqueue(t.Context()); err != nil {
		t.Fatalf("Enqueue of nothing: %v", err)
	}
}

func testWebhookClaim(t *testing.T, s ports.WebhookStore) {
	createEndpoints(t, s, suiteEndpoint("a", hookT0, "*"), suiteEndpoint("b", hookT0, "*"))
	for i := range 3 {
		enqueue(t, s, suiteEvent(t, "ev-"+string(rune('0'+i)), "order.paid", "o1", hookT0.Add(time.Duration(i)*time.Second)))
	}
	if ds := claimWebhooks(t, s, hookT0.Add(-time.Second), 10, 10); len(ds) != 0 {
		t.Fatalf("claimed %d messages not due yet", len(ds))
	}
	ds := claimWebhooks(t, s, hookT0.Add(time.Minute), 10, 2)
	per := map[string]int{}
	for _, d := range ds {
		per[d.Endpoint.ID]++
		if d.Endpoint.Secret != suiteSecret || d.Endpoint.URL == "" || d.Message.EndpointID != d.Endpoint.ID {
			t.Errorf("delivery %+v lacks its endpoint", d)
		}
	}
	if per["a"] != 2 || per["b"] != 2 {
		t.Fatalf("claimed per endpoint %v, want 2 each", per)
	}
	// Leased: not claimed again until the lease lapses.
	rest := claimWebhooks(t, s, hookT0.Add(time.Minute), 10, 10)
	if len(rest) != 2 {
		t.Fatalf("second claim got %d, want the 2 left", len(rest))
	}
	if again := claimWebhooks(t, s, hookT0.Add(time.Minute+30*time.Second), 10, 10); len(again) != 0 {
		t.Fatalf("claimed %d leased messages", len(again))
	}
	if lapsed := claimWebhooks(t, s, hookT0.Add(3*time.Minute), 10, 10, "b"); len(lapsed) != 3 || lapsed[0].Endpoint.ID != "a" {
		t.Fatalf("after the lease, skipping b: %d claimed, want a's 3", len(lapsed))
	}
	if limited := claimWebhooks(t, s, hookT0.Add(5*time.Minute), 1, 10); len(limited) != 1 {
		t.Fatalf("limit 1 claimed %d", len(limited))
	}
	if _, err := s.UpdateEndpoint(t.Context(), "b", func(e *domain.WebhookEndpoint) error { e.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	for _, d := range claimWebhooks(t, s, hookT0.Add(time.Hour), 10, 10) {
		if d.Endpoint.ID == "b" {
			t.Fatal("a disabled endpoint's message was claimed")
		}
	}
}

// recordAttempt records a under d's claim.
func recordAttempt(t *testing.T, s ports.WebhookStore, d ports.WebhookDelivery, a domain.WebhookAttempt, o ports.WebhookOutcome, disableBefore time.Time) bool {
	t.Helper()
	a.MessageID, o.Claim, o.DisableBefore = d.Message.ID, d.Claim, disableBefore
	res, err := s.Record(t.Context(), []ports.WebhookRecord{{Attempt: a, Outcome: o}}, nil)
	if err != nil || len(res.Errs) != 1 || res.Errs[0] != nil {
		t.Fatalf("Record = %+v, %v", res, err)
	}
	if len(res.Disabled) > 1 || len(res.Disabled) == 1 && (res.Disabled[0].ID != d.Endpoint.ID || !res.Disabled[0].Disabled) {
		t.Fatalf("Record of one attempt to %s disabled %+v", d.Endpoint.ID, res.Disabled)
	}
	return len(res.Disabled) == 1
}

func testWebhookRecord(t *testing.T, s ports.WebhookStore) {
	createEndpoints(t, s, suiteEndpoint("a", hookT0, "*"))
	enqueue(t, s, suiteEvent(t, "ev-1", "order.paid", "o1", hookT0), suiteEvent(t, "ev-2", "order.delivered", "o1", hookT0))
	ds := claimWebhooks(t, s, hookT0, 10, 10)
	if len(ds) != 2 {
		t.Fatalf("claimed %d", len(ds))
	}
	first, second := ds[0].Message.ID, ds[1].Message.ID
	firstClaim, secondClaim := ds[0], ds[1]
	long := strings.Repeat("é", domain.WebhookResponseKept/2)
	retry := hookT0.Add(5 * time.Second)
	recordAttempt(t, s, firstClaim, domain.WebhookAttempt{At: hookT0, Duration: 1500 * time.Millisecond, HTTPStatus: 500, Response: long, Error: "answered 500"},
		ports.WebhookOutcome{Retry: retry}, hookT0.Add(-time.Hour))
	m, attempts, err := s.Message(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != domain.WebhookPending || m.Attempts != 1 || !m.DueAt.Equal(retry) {
		t.Fatalf("after a failed attempt: %+v, want pending, 1 attempt, due %v", m, retry)
	}
	if len(attempts) != 1 || attempts[0].HTTPStatus != 500 || attempts[0].Response != long || attempts[0].Error != "answered 500" ||
		attempts[0].Duration != 1500*time.Millisecond || !attempts[0].At.Equal(hookT0) {
		t.Fatalf("attempts %+v", attempts)
	}
	if ds := claimWebhooks(t, s, retry.Add(-time.Millisecond), 10, 10); len(ds) != 0 {
		t.Fatalf("claimed before its retry: %d", len(ds))
	}
	again := claimWebhooks(t, s, retry, 10, 10)
	if len(again) != 1 || again[0].Message.ID != first || again[0].Message.Attempts != 1 || again[0].Claim == "" || again[0].Claim == firstClaim.Claim {
		t.Fatalf("at its retry: %+v, want a new claim", again)
	}
	// The first claim lapsed: its late attempt is kept, but settles nothing.
	lapsed := ports.WebhookRecord{Attempt: domain.WebhookAttempt{MessageID: first, At: retry, HTTPStatus: 200},
		Outcome: ports.WebhookOutcome{Delivered: true, Claim: firstClaim.Claim, DisableBefore: hookT0.Add(-time.Hour)}}
	if res, err := s.Record(t.Context(), []ports.WebhookRecord{lapsed}, nil); err != nil || len(res.Errs) != 1 || !errors.Is(res.Errs[0], domain.ErrWebhookClaimLost) {
		t.Fatalf("Record under a lapsed claim = %+v, %v; want ErrWebhookClaimLost", res, err)
	}
	if m, _, _ := s.Message(t.Context(), first); m.Status != domain.WebhookPending || m.Attempts != 1 {
		t.Fatalf("a lapsed claim settled the message: %+v", m)
	}
	recordAttempt(t, s, again[0], domain.WebhookAttempt{At: retry, HTTPStatus: 204}, ports.WebhookOutcome{Delivered: true}, hookT0.Add(-time.Hour))
	recordAttempt(t, s, secondClaim, domain.WebhookAttempt{At: retry, Error: "connection refused"}, ports.WebhookOutcome{}, hookT0.Add(-time.Hour))
	if m, attempts, _ := s.Message(t.Context(), first); m.Status != domain.WebhookDelivered || m.Attempts != 2 || len(attempts) != 3 || attempts[2].HTTPStatus != 204 {
		t.Fatalf("delivered: %+v %+v", m, attempts)
	}
	if m, _, _ := s.Message(t.Context(), second); m.Status != domain.WebhookFailed || m.Attempts != 1 {
		t.Fatalf("failed: %+v", m)
	}
	if ds := claimWebhooks(t, s, hookT0.Add(24*time.Hour), 10, 10); len(ds) != 0 {
		t.Fatalf("settled messages claimed: %d", len(ds))
	}
	if _, _, err := s.Message(t.Context(), "999999"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Message(unknown) = %v", err)
	}
	if _, _, err := s.Message(t.Context(), "not-a-number"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Message(malformed) = %v", err)
	}
}

func testWebhookDisable(t *testing.T, s ports.WebhookStore) {
	createEndpoints(t, s, suiteEndpoint("a", hookT0, "*"))
	for i := range 4 {
		enqueue(t, s, suiteEvent(t, "ev-"+string(rune('0'+i)), "order.paid", "o1", hookT0))
	}
	ds := claimWebhooks(t, s, hookT0, 10, 10)
	if len(ds) != 4 {
		t.Fatalf("claimed %d", len(ds))
	}
	fail := func(i int, at time.Time) bool {
		return recordAttempt(t, s, ds[i], domain.WebhookAttempt{At: at, HTTPStatus: 503}, ports.WebhookOutcome{Retry: at.Add(time.Hour)}, at.Add(-48*time.Hour))
	}
	if fail(0, hookT0) {
		t.Fatal("disabled at the first failure")
	}
	if e, _ := s.Endpoint(t.Context(), "a"); !e.FailingSince.Equal(hookT0) || e.Disabled {
		t.Fatalf("after a failure: %+v", e)
	}
	recordAttempt(t, s, ds[1], domain.WebhookAttempt{At: hookT0.Add(time.Hour), HTTPStatus: 200}, ports.WebhookOutcome{Delivered: true}, hookT0)
	if e, _ := s.Endpoint(t.Context(), "a"); !e.FailingSince.IsZero() {
		t.Fatalf("a success did not end the run of failures: %+v", e)
	}
	start := hookT0.Add(2 * time.Hour)
	if fail(2, start) {
		t.Fatal("disabled at the first failure of a new run")
	}
	if !fail(3, start.Add(49*time.Hour)) {
		t.Fatal("not disabled after failing longer than allowed")
	}
	if e, _ := s.Endpoint(t.Context(), "a"); !e.Disabled || !e.FailingSince.Equal(start) {
		t.Fatalf("disabled endpoint: %+v", e)
	}
	if fail(0, start.Add(50*time.Hour)) {
		t.Fatal("disabled twice")
	}
}

func testWebhookLog(t *testing.T, s ports.WebhookStore) {
	ctx := t.Context()
	createEndpoints(t, s, suiteEndpoint("a", hookT0, "*"), suiteEndpoint("b", hookT0, "order.paid"))
	enqueue(t, s, suiteEvent(t, "ev-1", "order.paid", "o1", hookT0), suiteEvent(t, "ev-2", "order.delivered", "o2", hookT0.Add(time.Hour)))
	if ms := messagesOf(t, s, ports.WebhookMessageQuery{EndpointID: "a"}); len(ms) != 2 || ms[0].EventID != "ev-2" {
		t.Fatalf("a's messages, newest first: %+v", ms)
	}
	if ms := messagesOf(t, s, ports.WebhookMessageQuery{Type: "order.paid"}); len(ms) != 2 {
		t.Fatalf("order.paid messages: %d", len(ms))
	}
	if ms := messagesOf(t, s, ports.WebhookMessageQuery{OrderID: "o2"}); len(ms) != 1 || ms[0].EndpointID != "a" {
		t.Fatalf("o2's messages: %+v", ms)
	}
	page := messagesOf(t, s, ports.WebhookMessageQuery{Limit: 2})
	if len(page) != 2 {
		t.Fatalf("page of 2: %d", len(page))
	}
	if next := messagesOf(t, s, ports.WebhookMessageQuery{After: page[1].ID}); len(next) != 1 || slices.ContainsFunc(page, func(m domain.WebhookMessage) bool { return m.ID == next[0].ID }) {
		t.Fatalf("next page: %+v", next)
	}
	// a fails both for good; b's is delivered.
	for _, d := range claimWebhooks(t, s, hookT0.Add(2*time.Hour), 10, 10) {
		o := ports.WebhookOutcome{Delivered: d.Endpoint.ID == "b"}
		recordAttempt(t, s, d, domain.WebhookAttempt{At: hookT0.Add(2 * time.Hour), HTTPStatus: map[bool]int{true: 200, false: 410}[o.Delivered]}, o, hookT0)
	}
	if ms := messagesOf(t, s, ports.WebhookMessageQuery{Status: domain.WebhookFailed}); len(ms) != 2 {
		t.Fatalf("failed messages: %d", len(ms))
	}
	n, err := s.Recover(ctx, "a", hookT0.Add(30*time.Minute), hookT0.Add(3*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Recover since 30 min = %d, %v; want the one created after", n, err)
	}
	ds := claimWebhooks(t, s, hookT0.Add(3*time.Hour), 10, 10)
	if len(ds) != 1 || ds[0].Message.EventID != "ev-2" || ds[0].Message.Attempts != 1 {
		t.Fatalf("recovered: %+v", ds)
	}
	recordAttempt(t, s, ds[0], domain.WebhookAttempt{At: hookT0.Add(3 * time.Hour), HTTPStatus: 200}, ports.WebhookOutcome{Delivered: true}, hookT0)
	delivered := messagesOf(t, s, ports.WebhookMessageQuery{EndpointID: "b"})[0]
	m, err := s.Redeliver(ctx, delivered.ID, hookT0.Add(4*time.Hour))
	if err != nil || m.Status != domain.WebhookPending || m.EventID != "ev-1" {
		t.Fatalf("Redeliver = %+v, %v", m, err)
	}
	if _, err := s.Redeliver(ctx, delivered.ID, hookT0.Add(4*time.Hour)); !errors.Is(err, domain.ErrWebhookMessagePending) {
		t.Fatalf("Redeliver of a pending message = %v, want ErrWebhookMessagePending", err)
	}
	if ds := claimWebhooks(t, s, hookT0.Add(4*time.Hour), 10, 10); len(ds) != 1 || ds[0].Message.ID != delivered.ID {
		t.Fatalf("redelivered claim: %+v", ds)
	}
	if _, err := s.Redeliver(ctx, delivered.ID, hookT0.Add(4*time.Hour)); !errors.Is(err, domain.ErrWebhookMessagePending) {
		t.Fatalf("Redeliver of a claimed message = %v, want ErrWebhookMessagePending", err)
	}
	if _, err := s.Redeliver(ctx, "424242", hookT0); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("Redeliver(unknown) = %v", err)
	}
	// Pending messages stay, whatever their age; settled old ones go.
	n, err = s.Purge(ctx, hookT0.Add(30*24*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("Purge = %d, %v; want a's two settled messages", n, err)
	}
	if ms := messagesOf(t, s, ports.WebhookMessageQuery{}); len(ms) != 1 || ms[0].ID != delivered.ID {
		t.Fatalf("after purge: %+v, want b's pending message", ms)
	}
}

func testWebhookRecoverDisabled(t *testing.T, s ports.WebhookStore) {
	ctx := t.Context()
	off := suiteEndpoint("off", hookT0, "*")
	off.Disabled = true
	createEndpoints(t, s, off)
	enqueue(t, s, suiteEvent(t, "ev-missed", "order.paid", "o1", hookT0.Add(time.Minute)))
	if ds := claimWebhooks(t, s, hookT0.Add(time.Hour), 10, 10); len(ds) != 0 {
		t.Fatalf("a disabled endpoint's message was claimed: %+v", ds)
	}
	if _, err := s.UpdateEndpoint(ctx, "off", func(e *domain.WebhookEndpoint) error { e.Disabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if ds := claimWebhooks(t, s, hookT0.Add(time.Hour), 10, 10); len(ds) != 0 {
		t.Fatalf("a missed message was sent without a recover: %+v", ds)
	}
	n, err := s.Recover(ctx, "off", hookT0, hookT0.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("Recover = %d, %v; want the missed message", n, err)
	}
	ds := claimWebhooks(t, s, hookT0.Add(time.Hour), 10, 10)
	if len(ds) != 1 || ds[0].Message.EventID != "ev-missed" || ds[0].Message.Attempts != 0 {
		t.Fatalf("recovered claim: %+v, want ev-missed with no attempt yet", ds)
	}
}

// recordHooks stores rs in one call, failing the test on an error.
func recordHooks(t *testing.T, s ports.WebhookStore, next *ports.WebhookClaim, rs ...ports.WebhookRecord) ports.WebhookRecorded {
	t.Helper()
	res, err := s.Record(t.Context(), rs, next)
	if err != nil || len(res.Errs) != len(rs) {
		t.Fatalf("Record = %+v, %v", res, err)
	}
	return res
}

// attemptOf is an attempt at at under d's claim: delivered, failed with a
// retry at retry, or failed for good (retry zero).
func attemptOf(d ports.WebhookDelivery, at time.Time, delivered bool, retry, disableBefore time.Time) ports.WebhookRecord {
	a := domain.WebhookAttempt{MessageID: d.Message.ID, At: at, Duration: time.Second, HTTPStatus: 503, Error: "answered 503"}
	if delivered {
		a.HTTPStatus, a.Error = 204, ""
	}
	return ports.WebhookRecord{Attempt: a, Outcome: ports.WebhookOutcome{Delivered: delivered, Retry: retry, Claim: d.Claim, DisableBefore: disableBefore}}
}

// claimedBy returns the delivery of the event eventID to endpoint.
func claimedBy(t *testing.T, ds []ports.WebhookDelivery, endpoint, eventID string) ports.WebhookDelivery {
	t.Helper()
	for _, d := range ds {
		if d.Endpoint.ID == endpoint && d.Message.EventID == eventID {
			return d
		}
	}
	t.Fatalf("%s to %s not among the %d claimed", eventID, endpoint, len(ds))
	return ports.WebhookDelivery{}
}

func testWebhookRecordTogether(t *testing.T, s ports.WebhookStore) {
	ctx := t.Context()
	createEndpoints(t, s, suiteEndpoint("a", hookT0, "*"), suiteEndpoint("b", hookT0, "order.paid"))
	enqueue(t, s, suiteEvent(t, "ev-1", "order.paid", "o1", hookT0), suiteEvent(t, "ev-2", "order.delivered", "o1", hookT0),
		suiteEvent(t, "ev-3", "order.delivered", "o2", hookT0))
	ds := claimWebhooks(t, s, hookT0, 10, 10)
	if len(ds) != 4 {
		t.Fatalf("claimed %d, want 4", len(ds))
	}
	a1, a2, a3, b1 := claimedBy(t, ds, "a", "ev-1"), claimedBy(t, ds, "a", "ev-2"), claimedBy(t, ds, "a", "ev-3"), claimedBy(t, ds, "b", "ev-1")
	t1, t2, t3 := hookT0.Add(time.Second), hookT0.Add(2*time.Second), hookT0.Add(3*time.Second)
	retry, never := hookT0.Add(time.Hour), hookT0.Add(-24*time.Hour)
	unknown := attemptOf(a1, t1, true, time.Time{}, never)
	unknown.Attempt.MessageID = "424242"
	lapsed := attemptOf(a1, t2, true, time.Time{}, never)
	lapsed.Outcome.Claim = "not-its-claim"
	// a fails, succeeds, fails: its run began at the last failure; b's
	// message fails for good; an unknown message and a lapsed claim are
	// told apart, each of its own.
	res := recordHooks(t, s, nil, attemptOf(a1, t1, false, retry, never), attemptOf(a2, t2, true, time.Time{}, never), attemptOf(a3, t3, false, retry, never),
		attemptOf(b1, t1, false, time.Time{}, never), unknown, lapsed)
	for i, want := range []error{nil, nil, nil, nil, domain.ErrNotFound, domain.ErrWebhookClaimLost} {
		if got := res.Errs[i]; want == nil && got != nil || want != nil && !errors.Is(got, want) {
			t.Errorf("record %d: %v, want %v", i, got, want)
		}
	}
	if len(res.Disabled) != 0 || len(res.Claimed) != 0 {
		t.Fatalf("disabled %+v, claimed %+v; want none", res.Disabled, res.Claimed)
	}
	if e, _ := s.Endpoint(ctx, "a"); !e.FailingSince.Equal(t3) || e.Disabled {
		t.Fatalf("a after failure, success, failure: %+v, want failing since %v", e, t3)
	}
	if e, _ := s.Endpoint(ctx, "b"); !e.FailingSince.Equal(t1) || e.Disabled {
		t.Fatalf("b after a failure: %+v, want failing since %v", e, t1)
	}
	for _, c := range []struct {
		d        ports.WebhookDelivery
		status   string
		attempts int
		kept     int
	}{{a1, domain.WebhookPending, 1, 2}, {a2, domain.WebhookDelivered, 1, 1}, {a3, domain.WebhookPending, 1, 1}, {b1, domain.WebhookFailed, 1, 1}} {
		m, attempts, err := s.Message(ctx, c.d.Message.ID)
		if err != nil || m.Status != c.status || m.Attempts != c.attempts || len(attempts) != c.kept {
			t.Errorf("%s to %s: %+v with %d attempts kept, %v; want %s, %d attempts, %d kept", c.d.Message.EventID, c.d.Endpoint.ID, m, len(attempts), err,
				c.status, c.attempts, c.kept)
		}
		if c.status == domain.WebhookPending && !m.DueAt.Equal(retry) {
			t.Errorf("%s to %s due %v, want its retry %v", c.d.Message.EventID, c.d.Endpoint.ID, m.DueAt, retry)
		}
	}
	// At their retry: a fails and then succeeds (its run ends); b fails
	// again, now past DisableBefore, and twice: disabled once.
	again := claimWebhooks(t, s, retry, 10, 10)
	if len(again) != 2 {
		t.Fatalf("claimed %d at the retry, want a's 2", len(again))
	}
	enqueue(t, s, suiteEvent(t, "ev-4", "order.paid", "o3", retry), suiteEvent(t, "ev-5", "order.paid", "o3", retry))
	more := claimWebhooks(t, s, retry, 10, 10)
	b4, b5 := claimedBy(t, more, "b", "ev-4"), claimedBy(t, more, "b", "ev-5")
	at := retry.Add(time.Minute)
	res = recordHooks(t, s, nil, attemptOf(claimedBy(t, again, "a", "ev-1"), at, false, at.Add(time.Hour), never), attemptOf(claimedBy(t, again, "a", "ev-3"), at, true, time.Time{}, never),
		attemptOf(b4, at, false, at.Add(time.Hour), t1), attemptOf(b5, at, false, at.Add(time.Hour), t1))
	if len(res.Disabled) != 1 || res.Disabled[0].ID != "b" || !res.Disabled[0].Disabled || !res.Disabled[0].FailingSince.Equal(t1) || res.Disabled[0].URL == "" {
		t.Fatalf("disabled %+v, want b, failing since %v", res.Disabled, t1)
	}
	if e, _ := s.Endpoint(ctx, "a"); !e.FailingSince.IsZero() || e.Disabled {
		t.Fatalf("a after a failure and a success: %+v, want its run ended", e)
	}
	if e, _ := s.Endpoint(ctx, "b"); !e.Disabled || !e.FailingSince.Equal(t1) {
		t.Fatalf("b: %+v, want disabled, failing since %v", e, t1)
	}
}

// testWebhookRecordDisableThenSuccess: records taken in order, as one at a
// time. a, failing since hookT0, fails past its DisableBefore and then
// succeeds: disabled, its run ended. b succeeds, then fails twice, the
// second time past the DisableBefore of the run begun at the first, then
// succeeds: disabled too, its run ended.
func testWebhookRecordDisableThenSuccess(t *testing.T, s ports.WebhookStore) {
	ctx := t.Context()
	failing := suiteEndpoint("a", hookT0, "*")
	failing.FailingSince = hookT0
	createEndpoints(t, s, failing, suiteEndpoint("b", hookT0, "*"))
	for i := range 4 {
		enqueue(t, s, suiteEvent(t, fmt.Sprintf("ev-%d", i), "order.paid", "o1", hookT0))
	}
	ds := claimWebhooks(t, s, hookT0, 10, 10)
	if len(ds) != 8 {
		t.Fatalf("claimed %d, want 8", len(ds))
	}
	t1, t2, t3, t4 := hookT0.Add(time.Hour), hookT0.Add(2*time.Hour), hookT0.Add(3*time.Hour), hookT0.Add(4*time.Hour)
	retry, never := hookT0.Add(24*time.Hour), hookT0.Add(-24*time.Hour)
	b := func(i int) ports.WebhookDelivery { return claimedBy(t, ds, "b", fmt.Sprintf("ev-%d", i)) }
	res := recordHooks(t, s, nil,
		attemptOf(claimedBy(t, ds, "a", "ev-0"), t1, false, retry, hookT0), attemptOf(claimedBy(t, ds, "a", "ev-1"), t2, true, time.Time{}, never),
		attemptOf(b(0), t1, true, time.Time{}, never), attemptOf(b(1), t2, false, retry, never), attemptOf(b(2), t3, false, retry, t2),
		attemptOf(b(3), t4, true, time.Time{}, never))
	for i, err := range res.Errs {
		if err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	var disabled []string
	for _, e := range res.Disabled {
		disabled = append(disabled, e.ID)
	}
	if slices.Sort(disabled); !slices.Equal(disabled, []string{"a", "b"}) {
		t.Fatalf("disabled %v, want a and b", disabled)
	}
	for _, id := range []string{"a", "b"} {
		if e, err := s.Endpoint(ctx, id); err != nil || !e.Disabled || !e.FailingSince.IsZero() {
			t.Errorf("%s: %+v, %v; want disabled, its run ended by the last success", id, e, err)
		}
	}
}

func testWebhookRecordClaims(t *testing.T, s ports.WebhookStore) {
	failing := suiteEndpoint("failing", hookT0, "*")
	failing.FailingSince = hookT0
	createEndpoints(t, s, suiteEndpoint("a", hookT0, "*"), suiteEndpoint("b", hookT0, "*"), failing)
	enqueue(t, s, suiteEvent(t, "ev-1", "order.paid", "o1", hookT0), suiteEvent(t, "ev-2", "order.delivered", "o1", hookT0.Add(time.Second)))
	ds := claimWebhooks(t, s, hookT0.Add(time.Second), 10, 1)
	if len(ds) != 3 {
		t.Fatalf("claimed %d, want one of each endpoint", len(ds))
	}
	now := hookT0.Add(time.Minute)
	a, f := claimedBy(t, ds, "a", "ev-1"), claimedBy(t, ds, "failing", "ev-1")
	// a's message fails and is due again at once; failing's disables it.
	next := ports.WebhookClaim{Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: 10, Skip: []string{"b"}}
	res := recordHooks(t, s, &next, attemptOf(a, now, false, now, hookT0.Add(-time.Hour)), attemptOf(f, now, false, now, now))
	if res.Errs[0] != nil || res.Errs[1] != nil {
		t.Fatalf("Record: %v", res.Errs)
	}
	if len(res.Disabled) != 1 || res.Disabled[0].ID != "failing" {
		t.Fatalf("disabled %+v, want failing", res.Disabled)
	}
	if len(res.Claimed) != 1 || res.Claimed[0].Endpoint.ID != "a" || res.Claimed[0].Message.EventID != "ev-2" || res.Claimed[0].Claim == "" ||
		!res.Claimed[0].Message.DueAt.Equal(now.Add(time.Minute)) || res.Claimed[0].Endpoint.Secret != suiteSecret {
		t.Fatalf("claimed with the record: %+v; want a's ev-2 alone (not the message it recorded, none of b it skips or of failing it disabled)", res.Claimed)
	}
	// What it claimed is recorded under its claim; what it left is claimed
	// next, but not failing's.
	if recordAttempt(t, s, res.Claimed[0], domain.WebhookAttempt{At: now, HTTPStatus: 200}, ports.WebhookOutcome{Delivered: true}, hookT0) {
		t.Fatal("a success disabled its endpoint")
	}
	rest := claimWebhooks(t, s, now, 10, 10)
	var got []string
	for _, d := range rest {
		got = append(got, d.Endpoint.ID+":"+d.Message.EventID)
	}
	slices.Sort(got)
	if want := []string{"a:ev-1", "b:ev-2"}; !slices.Equal(got, want) {
		t.Fatalf("claimed after: %v, want %v (b's ev-1 is leased, failing is disabled)", got, want)
	}
	// A record with nothing to record only claims.
	enqueue(t, s, suiteEvent(t, "ev-3", "order.paid", "o2", now))
	if res := recordHooks(t, s, &ports.WebhookClaim{Now: now, Lease: time.Minute, Limit: 10, PerEndpoint: 10}); len(res.Claimed) != 2 {
		t.Fatalf("a record of nothing claimed %+v, want ev-3 to a and b", res.Claimed)
	}
}

func testWebhookRecordRolledBack(t *testing.T, s ports.WebhookStore, tx ports.Transactor) {
	ctx := t.Context()
	failing := suiteEndpoint("a", hookT0, "*")
	failing.FailingSince = hookT0
	createEndpoints(t, s, failing)
	enqueue(t, s, suiteEvent(t, "ev-1", "order.paid", "o1", hookT0))
	d := claimWebhooks(t, s, hookT0, 10, 10)[0]
	now := hookT0.Add(time.Hour)
	crash := errors.New("crash before the audit record")
	err := tx.Atomically(ctx, func(ctx context.Context) error {
		res, err := s.Record(ctx, []ports.WebhookRecord{attemptOf(d, now, false, time.Time{}, now)}, nil)
		if err != nil || len(res.Disabled) != 1 {
			t.Errorf("Record in the unit of work = %+v, %v; want a disabled", res, err)
		}
		return crash
	})
	if !errors.Is(err, crash) {
		t.Fatalf("Atomically = %v", err)
	}
	if e, _ := s.Endpoint(ctx, "a"); e.Disabled || !e.FailingSince.Equal(hookT0) {
		t.Fatalf("after the rollback: %+v, want enabled, failing since %v", e, hookT0)
	}
	if m, attempts, _ := s.Message(ctx, d.Message.ID); m.Status != domain.WebhookPending || m.Attempts != 0 || len(attempts) != 0 {
		t.Fatalf("after the rollback: %+v with %d attempts kept, want pending, none", m, len(attempts))
	}
	// Still under its claim: recorded again, it disables the endpoint.
	if !recordAttempt(t, s, d, domain.WebhookAttempt{At: now, HTTPStatus: 410}, ports.WebhookOutcome{}, now) {
		t.Fatal("the record after the rollback did not disable the endpoint")
	}
	if m, attempts, _ := s.Message(ctx, d.Message.ID); m.Status != domain.WebhookFailed || m.Attempts != 1 || len(attempts) != 1 {
		t.Fatalf("recorded: %+v with %d attempts kept, want failed, one", m, len(attempts))
	}
}
