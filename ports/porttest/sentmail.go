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
	got, err := log.WasSent(t.Context(), key)
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
