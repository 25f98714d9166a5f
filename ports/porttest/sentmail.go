package porttest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

// SentMailLog runs the ports.SentMailLog contract. newLog is called once
// per subtest, from parallel subtests, and must return an empty log.
func SentMailLog(t *testing.T, newLog func(t *testing.T) ports.SentMailLog) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.SentMailLog)
	}{
		{"a key is sent once recorded", testSentMailRecord},
		{"recording again is a no-op", testSentMailRecordTwice},
		{"concurrent records of one key all succeed", testSentMailConcurrent},
		{"long non-ASCII keys", testSentMailLongKey},
		{"a key is marked audited once", testSentMailMarkAudited},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newLog(t))
		})
	}
}

func wasSent(t *testing.T, log ports.SentMailLog, key string, want bool) {
	t.Helper()
	got, _, err := log.WasSent(t.Context(), key)
	if err != nil {
		t.Fatalf("WasSent(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("WasSent(%q) = %v, want %v", key, got, want)
	}
}

func recordSent(t *testing.T, log ports.SentMailLog, key string, at time.Time) {
	t.Helper()
	if err := log.RecordSent(t.Context(), key, at); err != nil {
		t.Fatalf("RecordSent(%q): %v", key, err)
	}
}

func testSentMailRecord(t *testing.T, log ports.SentMailLog) {
	wasSent(t, log, "payment-confirmed/o1/order.paid/1", false)
	recordSent(t, log, "payment-confirmed/o1/order.paid/1", suiteT0)
	wasSent(t, log, "payment-confirmed/o1/order.paid/1", true)
	// Keys are compared exactly.
	wasSent(t, log, "payment-confirmed/o1/order.paid/2", false)
	wasSent(t, log, "Payment-confirmed/o1/order.paid/1", false)
}

func testSentMailRecordTwice(t *testing.T, log ports.SentMailLog) {
	recordSent(t, log, "k", suiteT0)
	recordSent(t, log, "k", suiteT0.Add(time.Hour))
	wasSent(t, log, "k", true)
}

func testSentMailConcurrent(t *testing.T, log ports.SentMailLog) {
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- log.RecordSent(t.Context(), "same", suiteT0) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent RecordSent: %v", err)
		}
	}
	wasSent(t, log, "same", true)
}

func testSentMailLongKey(t *testing.T, log ports.SentMailLog) {
	key := "order-received/" + strings.Repeat("ü", 100)
	recordSent(t, log, key, suiteT0)
	wasSent(t, log, key, true)
}

func wasAudited(t *testing.T, log ports.SentMailLog, key string, want bool) {
	t.Helper()
	sent, got, err := log.WasSent(t.Context(), key)
	if err != nil {
		t.Fatalf("WasSent(%q): %v", key, err)
	}
	if !sent || got != want {
		t.Fatalf("WasSent(%q) = %v, audited %v; want sent, audited %v", key, sent, got, want)
	}
}

func markAudited(t *testing.T, log ports.SentMailLog, key string, want bool) {
	t.Helper()
	got, err := log.MarkAudited(t.Context(), key, suiteT0)
	if err != nil {
		t.Fatalf("MarkAudited(%q): %v", key, err)
	}
	if got != want {
		t.Fatalf("MarkAudited(%q) = %v, want %v", key, got, want)
	}
}

func testSentMailMarkAudited(t *testing.T, log ports.SentMailLog) {
	// A key sent and not yet audited is marked by the first call only.
	recordSent(t, log, "sent", suiteT0)
	wasAudited(t, log, "sent", false)
	markAudited(t, log, "sent", true)
	wasAudited(t, log, "sent", true)
	markAudited(t, log, "sent", false)
	recordSent(t, log, "sent", suiteT0)
	markAudited(t, log, "sent", false)
	// A key whose send was not recorded is recorded by its mark.
	markAudited(t, log, "unrecorded", true)
	wasSent(t, log, "unrecorded", true)
	markAudited(t, log, "unrecorded", false)
}
