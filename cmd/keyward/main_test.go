package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/internal/testkit"
	"github.com/keyward/keyward/migrations"
)

var binary string

// TestMain builds the real binary once; the tests drive it as a user would.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyward-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "keyward")
	if out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("build keyward: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running `keyward serve`.
type server struct {
	cmd    *exec.Cmd
	base   string
	env    []string
	stderr *output
	exited chan struct{} // closed when the process has ended; err is then set
	err    error
}

// output collects what keyward writes to stderr and passes on the address
// from its "http listening" log line.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int
	addr    chan string
}

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	for {
		rest := o.buf.Bytes()[o.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return len(p), nil
		}
		o.scanned += i + 1
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(rest[:i], &rec) == nil && rec.Msg == "http listening" && rec.Addr != "" {
			select {
			case o.addr <- rec.Addr:
			default:
			}
		}
	}
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// serve starts `keyward serve` on a port the system picks and returns once
// keyward has said where it listens.
func serve(t *testing.T, env ...string) *server {
	t.Helper()
	dir := t.TempDir()
	env = append(os.Environ(), append([]string{
		"KEYWARD_HTTP_ADDR=127.0.0.1:0", "KEYWARD_MAIL_DIR=" + filepath.Join(dir, "mail"),
		"KEYWARD_KEYRING_FILE=" + filepath.Join(dir, "keyring.json"), "KEYWARD_LOG_LEVEL=debug",
	}, env...)...)
	s := &server{cmd: exec.Command(binary, "serve"), env: env, stderr: &output{addr: make(chan string, 1)}, exited: make(chan struct{})}
	s.cmd.Env, s.cmd.Stderr = env, s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			_ = s.cmd.Process.Kill()
			<-s.exited
		}
	})
	select {
	case addr := <-s.stderr.addr:
		s.base = "http://" + addr
	case <-s.exited:
		t.Fatalf("keyward exited before listening (%v):\n%s", s.err, s.stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("keyward did not report its address:\n%s", s.stderr)
	}
	// The listener is bound and served before the line is logged.
	resp, err := http.Get(s.base + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v\n%s", err, s.stderr)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz: %d\n%s", resp.StatusCode, s.stderr)
	}
	return s
}

func (s *server) mailDir() string {
	for _, e := range s.env {
		if v, ok := strings.CutPrefix(e, "KEYWARD_MAIL_DIR="); ok {
			return v
		}
	}
	return ""
}

func call(t *testing.T, method, url, auth string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, raw)
		}
	}
	return resp.StatusCode
}

// TestBinaryWalkthrough follows the README by hand: serve, list products,
// order, `keyward pay`, wait for delivery, read the email, reveal; then a
// clean shutdown on SIGTERM.
func TestBinaryWalkthrough(t *testing.T) {
	t.Parallel()
	s := serve(t)
	var products struct {
		Items []struct {
			SKU     string `json:"sku"`
			InStock bool   `json:"in_stock"`
		} `json:"items"`
	}
	if code := call(t, "GET", s.base+"/v1/products", "", nil, &products); code != 200 || len(products.Items) < 10 {
		t.Fatalf("products: %d, %d items", code, len(products.Items))
	}
	var order struct {
		ID          string `json:"id"`
		AccessToken string `json:"access_token"`
		Status      string `json:"status"`
	}
	body := map[string]any{"email": "readme@example.com", "items": []any{map[string]any{"sku": products.Items[0].SKU, "quantity": 1}}}
	if code := call(t, "POST", s.base+"/v1/orders", "", body, &order); code != 201 {
		t.Fatalf("order: %d", code)
	}
	out, err := exec.Command(binary, "pay", "--order", order.ID, "--server", s.base).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "200 OK") {
		t.Fatalf("keyward pay: %v\n%s", err, out)
	}
	testkit.EventuallyWith(t, 20*time.Second, func() string { return "order is " + order.Status + "\n" + s.stderr.String() }, func() bool {
		call(t, "GET", s.base+"/v1/orders/"+order.ID, order.AccessToken, nil, &order)
		return order.Status == "delivered"
	})
	// Besides the delivery email (which, the keys out at once, stands for
	// the payment's confirmation), the customer is told the order was
	// received.
	files, _ := filepath.Glob(filepath.Join(s.mailDir(), "*.eml"))
	var token [][]byte
	for _, f := range files {
		eml, _ := os.ReadFile(f)
		if m := regexp.MustCompile(regexp.QuoteMeta(s.base) + `/deliver/([A-Za-z0-9_-]{43})`).FindSubmatch(eml); m != nil {
			if token != nil {
				t.Fatalf("two delivery emails")
			}
			token = m
		}
	}
	if token == nil {
		t.Fatalf("no delivery link in %d emails", len(files))
	}
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	if code := call(t, "POST", s.base+"/v1/deliveries/"+string(token[1])+"/reveal", "", nil, &rv); code != 200 || rv.Items[0].Keys[0].Value == "" {
		t.Fatalf("reveal: %d %+v", code, rv)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
		if s.err != nil {
			t.Fatalf("keyward did not stop cleanly: %v\n%s", s.err, s.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("keyward did not stop within 30s of SIGTERM:\n%s", s.stderr)
	}
	if strings.Contains(s.stderr.String(), rv.Items[0].Keys[0].Value) {
		t.Fatal("the revealed key appears in keyward's output")
	}
	if !strings.Contains(s.stderr.String(), "keyward-dev-ipn-secret") {
		t.Fatal("the dev IPN secret is not printed at start-up")
	}
}

// TestServeRefusesOldSchema: a database that is behind stops `serve` with
// the command that fixes it; `keyward migrate up` fixes it.
func TestServeRefusesOldSchema(t *testing.T) {
	t.Parallel()
	url := pgtest.NewEmptyDatabase(t)
	env := append(os.Environ(), "KEYWARD_DATABASE_URL="+url, "KEYWARD_HTTP_ADDR=127.0.0.1:0", "KEYWARD_MAIL_DIR="+t.TempDir(),
		"KEYWARD_KEYRING_FILE="+filepath.Join(t.TempDir(), "keyring.json"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "keyward migrate up") {
		t.Fatalf("serve on an empty database: %v\n%s", err, out)
	}
	// Versions are the files' numbers, which may skip one.
	sqls, _ := fs.Glob(migrations.FS, "*.sql")
	slices.Sort(sqls)
	version := func(name string) int { v, _ := strconv.Atoi(strings.SplitN(name, "_", 2)[0]); return v }
	n, before := version(sqls[len(sqls)-1]), version(sqls[len(sqls)-2])
	for _, step := range []struct{ args, want string }{
		{"migrate status", "schema version 0"},
		{"migrate up", fmt.Sprintf("schema version %d (keyward needs %d)", n, n)},
		{"migrate down", fmt.Sprintf("schema version %d", before)},
		{"migrate up", fmt.Sprintf("schema version %d", n)},
	} {
		cmd := exec.CommandContext(ctx, binary, strings.Fields(step.args)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), step.want) {
			t.Fatalf("keyward %s: %v\n%s", step.args, err, out)
		}
	}
	cmd = exec.CommandContext(ctx, binary, "keys", "rotate")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "POST /v1/admin/keys/rotate") {
		t.Fatalf("keyward keys rotate with the local keyring must refuse: %v\n%s", err, out)
	}
}

func TestOpenAPICommand(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(binary, "openapi").Output()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/v1/products", "/v1/orders", "/v1/orders/{id}", "/v1/webhooks/nowpayments", "/v1/deliveries/{token}/reveal", "/v1/admin/keys/rotate", "/readyz"} {
		if doc.Paths[p] == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
}
