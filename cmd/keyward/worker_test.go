package main_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/messaging"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

// TestWorkerCommand: `keyward worker` refuses to run without the database
// the API shares with it, and otherwise serves readiness, with the
// broker's connection, and no API; SIGTERM stops it cleanly.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	alone := exec.CommandContext(ctx, binary, "worker")
	alone.Env = append(os.Environ(), "KEYWARD_HTTP_ADDR=127.0.0.1:0", "KEYWARD_DATABASE_URL=")
	if out, err := alone.CombinedOutput(); err == nil || !strings.Contains(string(out), "KEYWARD_ROLE=worker needs KEYWARD_DATABASE_URL") {
		t.Fatalf("worker without a database: %v\n%s", err, out)
	}

	url, _ := pgtest.NewDatabase(t)
	dir := t.TempDir()
	natsURL := "nats://127.0.0.1:4222"
	if v := os.Getenv("KEYWARD_TEST_NATS_URL"); v != "" {
		natsURL = v
	}
	prefix := "test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "."
	t.Cleanup(func() {
		n, err := messaging.NewNATS(messaging.NATSConfig{URL: natsURL, Prefix: prefix}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Error(err)
			return
		}
		defer n.Close()
		for _, name := range domain.OrderEventNames {
			for i := range 4 {
				if err := n.Remove(context.Background(), name+".p"+strconv.Itoa(i)); err != nil {
					t.Error(err)
				}
			}
		}
	})
	cmd := exec.Command(binary, "worker")
	cmd.Env = append(os.Environ(), "KEYWARD_DATABASE_URL="+url, "KEYWARD_BROKER=nats", "KEYWARD_ROLE=api", "KEYWARD_NATS_URL="+natsURL, "KEYWARD_BROKER_PREFIX="+prefix,
		"KEYWARD_HTTP_ADDR=127.0.0.1:0", "KEYWARD_PUBLIC_BASE_URL=http://127.0.0.1:9", "KEYWARD_MAIL_DIR="+filepath.Join(dir, "mail"),
		"KEYWARD_KEYRING_FILE="+filepath.Join(dir, "keyring.json"))
	stderr := &output{addr: make(chan string, 1)}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	var base string
	select {
	case addr := <-stderr.addr:
		base = "http://" + addr
	case err := <-exited:
		t.Fatalf("the worker exited (%v):\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not report its address:\n%s", stderr)
	}

	var ready struct {
		Components []struct{ Name, Status string } `json:"components"`
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !strings.Contains(componentList(ready.Components), "nats:ok") {
		t.Fatalf("worker /readyz: %d %v %+v\n%s", resp.StatusCode, err, ready, stderr)
	}
	if code := call(t, "GET", base+"/v1/products", "", nil, nil); code != http.StatusNotFound {
		t.Fatalf("a worker serves the API (KEYWARD_ROLE=api must not override `keyward worker`): %d", code)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the worker did not stop cleanly: %v\n%s", err, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the worker did not stop on SIGTERM:\n%s", stderr)
	}
}

func componentList(components []struct{ Name, Status string }) string {
	var parts []string
	for _, c := range components {
		parts = append(parts, c.Name+":"+c.Status)
	}
	return strings.Join(parts, " ")
}
