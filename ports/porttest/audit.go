package porttest

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/ports"
)

// AuditLog runs the ports.AuditLog contract. newLog is called once per
// subtest, from parallel subtests, and must return an empty log that takes
// its time from clock and MACs its records with mac.
func AuditLog(t *testing.T, newLog func(t *testing.T, clock ports.Clock, mac ports.AuditMAC) ports.AuditLog) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.AuditLog, *auditClock)
	}{
		{"every record carries a MAC under the key", testAuditMACs},
		{"a log read under another key does not verify", testAuditOtherKey},
		{"an empty log lists nothing and verifies", testAuditEmpty},
		{"append chains records in order", testAuditAppend},
		{"details round-trip", testAuditDetails},
		{"concurrent appends never fork the chain", testAuditConcurrent},
		{"list pages by seq", testAuditList},
		{"a refused entry stores nothing", testAuditRefused},
		{"records are copies", testAuditCopies},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			clock := newAuditClock()
			clock.mac = newAuditMAC()
			st.run(t, newLog(t, clock, clock.mac), clock)
		})
	}
}

func testAuditEmpty(t *testing.T, log ports.AuditLog, _ *auditClock) {
	wantAuditList(t, log, 0, 10)
	wantAuditVerified(t, log, 0)
}

func testAuditAppend(t *testing.T, log ports.AuditLog, clock *auditClock) {
	appended := []domain.AuditRecord{
		appendAudit(t, log, "admin:key-1", "keys.revealed", "ord-1", map[string]string{"item": "ord-1-a"}),
		appendAudit(t, log, "customer", "keys.revealed", "ord-1", nil),
		appendAudit(t, log, "system", "keys.rotated", "", map[string]string{"version": "2", "rewrapped": "17"}),
	}
	prev, last := domain.GenesisAuditHash, time.Time{}
	for i, r := range appended {
		if r.Seq != int64(i+1) || r.PrevHash != prev || !hexSHA256.MatchString(r.Hash) {
			t.Errorf("record %d: seq %d, prev hash %s, hash %s; want seq %d chained after %s", i, r.Seq, r.PrevHash, r.Hash, i+1, prev)
		}
		// The clock moves 1.5µs a reading, so the times strictly increase.
		if !r.At.After(last) || r.At.Location() != time.UTC || r.At.Nanosecond()%1000 != 0 ||
			r.At.Before(clock.start.Truncate(time.Microsecond)) || r.At.After(clock.Now()) {
			t.Errorf("record %d: at %s; want the clock's time in UTC, truncated to the microsecond, after %s", i, r.At.Format(time.RFC3339Nano), last)
		}
		prev, last = r.Hash, r.At
	}
	wantAuditList(t, log, 0, 10, appended...)
	wantAuditVerified(t, log, 3)
}

func testAuditDetails(t *testing.T, log ports.AuditLog, _ *auditClock) {
	details := []map[string]string{
		nil,
		{},
		{"empty value": ""},
		{"reason": "chargeback", "Reason": "case matters"},
		{"quote\"": "back\\slash", "newline\n": "tab\t", "html": "<b>&amp;</b>", "unicode": "ünïcode ✓ 🎮", "sep": "\u2028\u2029"},
		{"json": `{"nested":"not parsed"}`, "number": "007", "space": "  padded  "},
	}
	var want []domain.AuditRecord
	for _, d := range details {
		r := appendAudit(t, log, "system", "test.details", "ord-1", d)
		if !maps.Equal(r.Details, d) {
			t.Errorf("Append returned details %q, want %q", r.Details, d)
		}
		want = append(want, r)
	}
	wantAuditList(t, log, 0, 10, want...)
	wantAuditVerified(t, log, len(want))
}

func testAuditConcurrent(t *testing.T, log ports.AuditLog, _ *auditClock) {
	const n = 50
	appended := make([]domain.AuditRecord, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := log.Append(t.Context(), "system", "test.concurrent", "", map[string]string{"n": strconv.Itoa(i)})
			if err != nil {
				t.Errorf("Append %d: %v", i, err)
			}
			appended[i] = r
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	got := listAudit(t, log, 0, 2*n)
	if len(got) != n {
		t.Fatalf("List = %d records after %d concurrent appends", len(got), n)
	}
	seen := map[string]bool{}
	for i, r := range got {
		if r.Seq != int64(i+1) {
			t.Fatalf("List[%d].Seq = %d, want %d: the seqs have a gap or a duplicate", i, r.Seq, i+1)
		}
		if i > 0 && r.At.Before(got[i-1].At) {
			t.Errorf("seq %d is older than seq %d: chain order must follow time", r.Seq, r.Seq-1)
		}
		seen[r.Details["n"]] = true
	}
	if len(seen) != n {
		t.Errorf("the log holds %d distinct appends, want %d", len(seen), n)
	}
	for _, r := range appended {
		for _, line := range auditDiffs(got[r.Seq-1], r) {
			t.Errorf("seq %d as listed differs from what Append returned: %s", r.Seq, line)
		}
	}
	wantAuditVerified(t, log, n)
}

func testAuditList(t *testing.T, log ports.AuditLog, _ *auditClock) {
	var all []domain.AuditRecord
	for i := range 7 {
		all = append(all, appendAudit(t, log, "system", "test.list", fmt.Sprintf("ord-%d", i+1), nil))
	}
	var paged []domain.AuditRecord
	for after, pages := int64(0), 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("paging by 3 through 7 records did not end after %d pages", pages)
		}
		page := listAudit(t, log, after, 3)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Seq
	}
	if len(paged) != len(all) {
		t.Fatalf("paging by 3 returned %d records, want %d", len(paged), len(all))
	}
	wantAuditList(t, log, 2, 100, all[2:]...)
	wantAuditList(t, log, 4, 2, all[4:6]...)
	wantAuditList(t, log, -1, 2, all[:2]...)
	wantAuditList(t, log, 7, 3)
	wantAuditList(t, log, 100, 3)
	for _, limit := range []int{0, -1} {
		if _, err := log.List(t.Context(), 0, limit); err == nil {
			t.Errorf("List with limit %d succeeded", limit)
		}
	}
}

func testAuditRefused(t *testing.T, log ports.AuditLog, _ *auditClock) {
	refused := []struct {
		actor, action, subject string
		details                map[string]string
	}{
		{"", "order.revoked", "ord-1", nil},
		{"system", "", "ord-1", nil},
		{"system", "order.revoked", "ord\x00", nil},
		{"admin:\xff", "order.revoked", "ord-1", nil},
		{"system", "order.revoked", "ord-1", map[string]string{"": "empty key"}},
		{"system", "order.revoked", "ord-1", map[string]string{"reason": "NUL\x00"}},
	}
	for _, e := range refused {
		_, err := log.Append(t.Context(), e.actor, e.action, e.subject, e.details)
		wantIs(t, err, domain.ErrInvalidAuditRecord, fmt.Sprintf("Append(%q, %q, %q, %q)", e.actor, e.action, e.subject, e.details))
	}
	if r := appendAudit(t, log, "system", "order.revoked", "ord-1", nil); r.Seq != 1 {
		t.Errorf("the first accepted record has seq %d, want 1", r.Seq)
	}
	wantAuditVerified(t, log, 1)
}

func testAuditCopies(t *testing.T, log ports.AuditLog, _ *auditClock) {
	details := map[string]string{"k": "v"}
	r := appendAudit(t, log, "system", "test.copies", "", details)
	details["k"] = "changed by the caller"
	r.Details["k"] = "changed through the returned record"
	listed := listAudit(t, log, 0, 1)
	listed[0].Details["k"] = "changed through a listed record"
	if got := listAudit(t, log, 0, 1)[0].Details["k"]; got != "v" {
		t.Errorf("stored detail = %q, want %q", got, "v")
	}
	wantAuditVerified(t, log, 1)
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// auditClock starts at a time with nanoseconds, away from UTC, and moves
// 1.5µs a reading: a log must store its time in UTC to the microsecond.
type auditClock struct {
	*testkit.Clock
	mac   *auditMAC // the key the subtest's log signs with
	start time.Time // the first reading
}

func newAuditClock() *auditClock {
	const step = 1500 * time.Nanosecond
	start := suiteT0.In(time.FixedZone("UTC+9", 9*60*60))
	// A stepping clock moves before each reading: from start-step, its
	// first reading is start.
	return &auditClock{Clock: testkit.NewSteppingClock(start.Add(-step), step), start: start}
}

func appendAudit(t *testing.T, log ports.AuditLog, actor, action, subject string, details map[string]string) domain.AuditRecord {
	t.Helper()
	r, err := log.Append(t.Context(), actor, action, subject, details)
	if err != nil {
		t.Fatalf("Append(%s, %s, %s): %v", actor, action, subject, err)
	}
	if r.Actor != actor || r.Action != action || r.Subject != subject || !maps.Equal(r.Details, details) {
		t.Errorf("Append(%s, %s, %s, %q) returned %+v", actor, action, subject, details, r)
	}
	return r
}

func listAudit(t *testing.T, log ports.AuditLog, afterSeq int64, limit int) []domain.AuditRecord {
	t.Helper()
	got, err := log.List(t.Context(), afterSeq, limit)
	if err != nil {
		t.Fatalf("List(%d, %d): %v", afterSeq, limit, err)
	}
	return got
}

func wantAuditList(t *testing.T, log ports.AuditLog, afterSeq int64, limit int, want ...domain.AuditRecord) {
	t.Helper()
	got := listAudit(t, log, afterSeq, limit)
	if len(got) != len(want) {
		t.Fatalf("List(%d, %d) = %d records, want %d", afterSeq, limit, len(got), len(want))
	}
	for i := range got {
		for _, line := range auditDiffs(got[i], want[i]) {
			t.Errorf("List(%d, %d)[%d]: %s", afterSeq, limit, i, line)
		}
	}
}

func wantAuditVerified(t *testing.T, log ports.AuditLog, want int) {
	t.Helper()
	if n, err := log.Verify(t.Context()); n != want || err != nil {
		t.Errorf("Verify = %d, %v; want %d, nil", n, err, want)
	}
}

// auditDiffs compares every field exactly: a record that comes back even
// a nanosecond different no longer verifies.
func auditDiffs(got, want domain.AuditRecord) []string {
	var d diffs
	d.add("seq", got.Seq, want.Seq, got.Seq == want.Seq)
	d.add("at", got.At.Format(time.RFC3339Nano), want.At.Format(time.RFC3339Nano), got.At.Equal(want.At))
	d.add("actor", got.Actor, want.Actor, got.Actor == want.Actor)
	d.add("action", got.Action, want.Action, got.Action == want.Action)
	d.add("subject", got.Subject, want.Subject, got.Subject == want.Subject)
	d.add("details", fmt.Sprintf("%q", got.Details), fmt.Sprintf("%q", want.Details), maps.Equal(got.Details, want.Details))
	d.add("prev hash", got.PrevHash, want.PrevHash, got.PrevHash == want.PrevHash)
	d.add("hash", got.Hash, want.Hash, got.Hash == want.Hash)
	d.add("mac", got.MAC, want.MAC, got.MAC == want.MAC)
	return d
}
