package bootstrap_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

// TestWorkerReadsWhatAnotherPartitionCountLeft: messages an API process
// queued under one KEYWARD_QUEUE_PARTITIONS are read by a worker started
// with another, in both consumer groups: paid orders are delivered, once
// each, and a customer's sign-in email goes, without the reconciler (off
// here), which would otherwise be all that found the orders; the reader
// of each such topic stops once it is read.
func TestWorkerReadsWhatAnotherPartitionCountLeft(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	dir := t.TempDir()
	common := func(c *bootstrap.Config) {
		c.DatabaseURL, c.ReconcileInterval = url, 0
		c.KeyringFile, c.MailDir = filepath.Join(dir, "keyring.json"), filepath.Join(dir, "mail")
	}
	// Four partitions: every message lands on a .pN topic, none of which
	// a worker with one partition (the bare topic) reads as its own.
	api := start(t, func(c *bootstrap.Config) { common(c); c.Messaging.Role, c.QueuePartitions = bootstrap.RoleAPI, 4 })
	sku := api.firstSKU(func(p product) bool { return p.InStock }).SKU
	placed := make([]orderResp, 4)
	for i := range placed {
		placed[i] = api.placeOrder(fmt.Sprintf("left-%d@example.com", i), line(sku, 1))
		api.pay(placed[i])
	}
	const customer = "left-0@example.com"
	if code, _, raw := api.do("POST", "/v1/customer/access", map[string]any{"email": customer}, nil, nil); code != http.StatusAccepted {
		t.Fatalf("access for %s: %d %s", customer, code, raw)
	}

	w := start(t, func(c *bootstrap.Config) {
		common(c)
		c.Messaging.Role, c.PublicBaseURL, c.QueuePartitions = bootstrap.RoleWorker, api.base, 1
	})
	for i, o := range placed {
		api.waitStatus(o, "delivered", 30*time.Second)
		if n := len(api.mailsTo(fmt.Sprintf("left-%d@example.com", i))); n != 1 {
			t.Errorf("order %d: %d emails, want 1", i, n)
		}
	}
	if tok := api.signInToken(customer); tok == "" {
		t.Error("no sign-in email")
	}
	// Each leftover topic's reader stops once it is read to its end, and
	// no other reader does.
	var reading, read, stopped int
	testkit.EventuallyWith(t, 30*time.Second, func() string {
		return fmt.Sprintf("the worker read %d leftover topics, found %d read and stopped %d subscribers", reading, read, stopped)
	}, func() bool {
		logs := w.logs.String()
		reading = strings.Count(logs, "reading what another KEYWARD_QUEUE_PARTITIONS left on the queue")
		read = strings.Count(logs, "read what another KEYWARD_QUEUE_PARTITIONS left on the queue; its reader stops")
		stopped = strings.Count(logs, `"msg":"Subscriber stopped"`)
		return reading > 0 && read == reading && stopped == read
	})
}
