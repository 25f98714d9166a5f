package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/internal/testkit"
)

// natsStreams names the streams on the NATS server at url whose names
// start with prefix.
func natsStreams(t *testing.T, url, prefix string) []string {
	t.Helper()
	conn, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("NATS at %s (KEYWARD_TEST_NATS_URL) must run for this test: %v", url, err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	names := js.StreamNames(t.Context())
	for n := range names.Name() {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	if err := names.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBenchLeavesNoStreamsOnNATS: `keyward bench` with NATS, on the real
// server, removes the streams its servers made, under the configured
// KEYWARD_BROKER_PREFIX, when the run ends and when it is interrupted
// (Ctrl-C) midway.
func TestBenchLeavesNoStreamsOnNATS(t *testing.T) {
	t.Parallel()
	natsURL := os.Getenv("KEYWARD_TEST_NATS_URL")
	if natsURL == "" {
		natsURL = "nats://127.0.0.1:4222"
	}
	url, _ := pgtest.NewDatabase(t)
	env := func(prefix string) []string {
		return append(os.Environ(), "KEYWARD_DATABASE_URL="+url, "KEYWARD_BROKER=nats", "KEYWARD_NATS_URL="+natsURL,
			"KEYWARD_BROKER_PREFIX="+prefix, "KEYWARD_KEY_VAULT=local", keyringFile(t))
	}
	run := fmt.Sprintf("benchtest%x", time.Now().UnixNano()&0xffffffff)

	t.Run("run to its end", func(t *testing.T) {
		prefix := run + "-end."
		cmd := exec.CommandContext(t.Context(), binary, "bench", "--orders", "4", "--clients", "2", "--compare-memory=false")
		cmd.Env = env(prefix)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "4 of 4 orders revealed") {
			t.Fatalf("bench: %v\n%s", err, out)
		}
		if left := natsStreams(t, natsURL, run+"-end_"); len(left) > 0 {
			t.Fatalf("the bench left %d streams on NATS: %q", len(left), left)
		}
	})

	t.Run("interrupted", func(t *testing.T) {
		prefix := run + "-int."
		cmd := exec.Command(binary, "bench", "--orders", "100000", "--clients", "2", "--rate", "20", "--compare-memory=false")
		cmd.Env = env(prefix)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		testkit.Eventually(t, 2*time.Minute, "the bench's server makes its streams", func() bool {
			return len(natsStreams(t, natsURL, run+"-int_")) > 0
		})
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("the bench did not stop within a minute of Ctrl-C:\n%s", out.String())
		}
		if left := natsStreams(t, natsURL, run+"-int_"); len(left) > 0 {
			t.Fatalf("the interrupted bench left %d streams on NATS: %q\n%s", len(left), left, out.String())
		}
	})
}
