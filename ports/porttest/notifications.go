package porttest

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/ports"
)

// PaymentNotificationLog runs the ports.PaymentNotificationLog contract.
// newLog is called once per subtest, from parallel subtests, and must
// return an empty log.
func PaymentNotificationLog(t *testing.T, newLog func(t *testing.T) ports.PaymentNotificationLog) {
	t.Helper()
	subtests := []struct {
		name string
		run  func(*testing.T, ports.PaymentNotificationLog)
	}{
		{"a notification is new once", testNotificationOnce},
		{"concurrent duplicates: exactly one is new", testNotificationConcurrent},
		{"list by order, oldest first", testNotificationListByOrder},
	}
	for _, st := range subtests {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			st.run(t, newLog(t))
		})
	}
}

func testNotificationOnce(t *testing.T, log ports.PaymentNotificationLog) {
	n := notification(`{"payment_id":"pay-1","payment_status":"confirming"}`)
	record(t, log, n, true)
	dup := n
	dup.ReceivedAt = suiteT0.Add(1) // received again later: still the same notification
	record(t, log, dup, false)

	// A change in any part of the identity is a new notification.
	other := notification(`{"payment_id":"pay-1","payment_status":"finished"}`)
	record(t, log, other, true)
	status := n
	status.Status = "finished"
	record(t, log, status, true)
	payment := n
	payment.PaymentID = "pay-2"
	record(t, log, payment, true)
	provider := n
	provider.Provider = "other"
	record(t, log, provider, true)
	record(t, log, provider, false)
}

func testNotificationConcurrent(t *testing.T, log ports.PaymentNotificationLog) {
	const n = 20
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			ok, err := log.Record(t.Context(), notification(`{"payment_id":"pay-1","payment_status":"finished"}`))
			if err != nil {
				t.Errorf("Record: %v", err)
			}
			if ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if fresh.Load() != 1 {
		t.Errorf("%d of %d identical concurrent notifications were new, want 1", fresh.Load(), n)
	}
}

// notification is a confirming sandbox notification for pay-1 with body.
func notification(body string) ports.PaymentNotification {
	return ports.PaymentNotification{
		Provider: "sandbox", PaymentID: "pay-1", Status: "confirming", OrderID: "ord-1",
		BodySHA256: sha256.Sum256([]byte(body)), Body: []byte(body), ReceivedAt: suiteT0,
	}
}

func record(t *testing.T, log ports.PaymentNotificationLog, n ports.PaymentNotification, wantNew bool) {
	t.Helper()
	fresh, err := log.Record(t.Context(), n)
	if err != nil {
		t.Fatalf("Record: %v", err)
	}
	if fresh != wantNew {
		t.Errorf("Record(%s %s %s %x…) reported new = %t, want %t", n.Provider, n.PaymentID, n.Status, n.BodySHA256[:4], fresh, wantNew)
	}
}
