// Package apiclient checks that a client generated from keyward's OpenAPI
// document works against keyward.
package apiclient

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	// The generated client's runtime: required here so go.mod pins the
	// version the generated code builds against.
	_ "github.com/oapi-codegen/runtime"
)

const ipnSecret = "apiclient-test-ipn-secret"

// TestGeneratedClientBuysAKey starts the real keyward binary with its
// embedded defaults (memory storage, sandbox supplier and payments, mail
// written to a directory), generates a Go client with oapi-codegen from the
// OpenAPI 3.0 document the server serves, and runs testdata/walk with it:
// products → order → signed payment notification → reveal with the token
// from the email. A document the generator rejects (or Redocly, when
// KEYWARD_REDOCLY names its CLI), a client that does not compile against
// the walk, or an answer the document does not describe fails the test.
func TestGeneratedClientBuysAKey(t *testing.T) {
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "keyward")
	run(t, repo, "go", "build", "-o", bin, "./cmd/keyward")
	mailDir := filepath.Join(dir, "mail")
	base := serve(t, bin, "KEYWARD_MAIL_DIR="+mailDir, "KEYWARD_KEYRING_FILE="+filepath.Join(dir, "keyring.json"),
		"KEYWARD_NOWPAYMENTS_IPN_SECRET="+ipnSecret)

	walk := filepath.Join(dir, "walk")
	doc := filepath.Join(walk, "openapi-3.0.yaml")
	if err := os.MkdirAll(filepath.Join(walk, "keyward"), 0o755); err != nil {
		t.Fatal(err)
	}
	download(t, base+"/openapi-3.0.yaml", doc)
	if redocly := os.Getenv("KEYWARD_REDOCLY"); redocly != "" {
		// scripts/test.sh lints the 3.1 document; the 3.0 one the client
		// is generated from must pass the same rules.
		run(t, repo, redocly, "lint", "--config", "redocly.yaml", doc)
	}
	writeWalkModule(t, walk)
	run(t, ".", "go", "tool", "oapi-codegen", "-generate", "types,client", "-package", "keyward",
		"-o", filepath.Join(walk, "keyward", "client.gen.go"), doc)
	out := run(t, walk, "go", "run", ".", "-server", base, "-mail", mailDir, "-ipn-secret", ipnSecret)
	t.Log(strings.TrimSpace(out))
}

// writeWalkModule makes dir a module named walk holding testdata/walk with
// this module's requirements, so the generated package keyward builds with
// the pinned runtime.
func writeWalkModule(t *testing.T, dir string) {
	t.Helper()
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := bytes.Cut(mod, []byte("\n"))
	files := map[string][]byte{"go.mod": append([]byte("module walk\n"), rest...)}
	for _, src := range []string{"go.sum", "testdata/walk/main.go"} {
		if files[filepath.Base(src)], err = os.ReadFile(src); err != nil {
			t.Fatal(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// serve starts `keyward serve` on a free loopback port and returns its
// base URL once it listens (read from its log, so nothing is polled).
func serve(t *testing.T, bin string, env ...string) string {
	t.Helper()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"KEYWARD_HTTP_ADDR=127.0.0.1:0", "KEYWARD_LOG_LEVEL=info"}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	listening := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.write(sc.Text())
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http listening" {
				listening <- line.Addr
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		<-drained
		if t.Failed() {
			t.Logf("keyward logs:\n%s", logs.String())
		}
	})
	select {
	case addr := <-listening:
		return "http://" + addr
	case <-drained:
		t.Fatalf("keyward exited before listening:\n%s", logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("keyward did not listen within a minute:\n%s", logs.String())
	}
	return ""
}

func download(t *testing.T, url, path string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v: %s", url, resp.StatusCode, err, b)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// run runs a command in dir outside any Go workspace and fails the test
// with its output when it fails.
func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(line + "\n")
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
