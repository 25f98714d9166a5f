package porttest

import (
	"bytes"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

func testNotificationListByOrder(t *testing.T, log ports.PaymentNotificationLog) {
	first := notification(`{"payment_id":"pay-1","payment_status":"confirming"}`)
	other := notification(`{"payment_id":"pay-2","payment_status":"finished"}`)
	other.OrderID, other.PaymentID = "ord-2", "pay-2"
	second := notification(`{"payment_id":"pay-1","payment_status":"finished"}`)
	second.Status, second.ReceivedAt = "finished", suiteT0.Add(time.Minute)
	for _, n := range []ports.PaymentNotification{first, other, second} {
		record(t, log, n, true)
	}
	got, err := log.ListByOrder(t.Context(), "ord-1")
	if err != nil || len(got) != 2 {
		t.Fatalf("ListByOrder: %d, %v", len(got), err)
	}
	for i, want := range []ports.PaymentNotification{first, second} {
		g := got[i]
		if g.Status != want.Status || g.PaymentID != want.PaymentID || g.BodySHA256 != want.BodySHA256 ||
			!bytes.Equal(g.Body, want.Body) || !sameMicrosecond(g.ReceivedAt, want.ReceivedAt) || g.OrderID != "ord-1" {
			t.Fatalf("ListByOrder[%d] = %+v, want %+v", i, g, want)
		}
	}
	if none, err := log.ListByOrder(t.Context(), "ord-3"); err != nil || len(none) != 0 {
		t.Fatalf("ListByOrder(unknown) = %v, %v", none, err)
	}
}
