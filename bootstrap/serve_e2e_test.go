package bootstrap_test

import (
	"bufio"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// TestBannerOnceServingWithTheChosenAdapters: the banner is written only
// once keyward answers at the address it announces, and names the
// adapters the configuration chose, not fixed ones.
func TestBannerOnceServingWithTheChosenAdapters(t *testing.T) {
	t.Parallel()
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", t.TempDir(), filepath.Join(t.TempDir(), "keyring.json")
	cfg.Payments.PaymentsGateway, cfg.Payments.NOWPaymentsAPIKey, cfg.Payments.NOWPaymentsAPIURL = "nowpayments", "np-key", "http://127.0.0.1:9"
	answered := make(chan int, 1)
	s := serveInTest(t, cfg, func(base string) {
		// While the banner is being written: keyward must answer now.
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			answered <- 0
			return
		}
		resp.Body.Close()
		answered <- resp.StatusCode
	})
	s.waitBanner(t)
	if code := <-answered; code != http.StatusOK {
		t.Fatalf("keyward did not answer when its banner was written: %d\n%s", code, s.stderr)
	}
	banner := s.stderr.String()
	for _, want := range []string{"payments: nowpayments", "supplier: sandbox", "storage: memory", "key vault: local keyring " + cfg.KeyringFile} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner does not say %q:\n%s", want, banner)
		}
	}
	if strings.Contains(banner, "payments: sandbox") || strings.Contains(banner, "pay --order") {
		t.Errorf("the banner shows the sandbox payments it does not run:\n%s", banner)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestREADMEWorkerLineWorks: the README's worker line, with its variables
// as written and the database, starts a worker (no IPN secret needed) whose
// ops endpoints answer on their own default port, not the API's.
func TestREADMEWorkerLineWorks(t *testing.T) {
	database, _ := pgtest.NewDatabase(t)
	env := readmeWorkerLine(t)
	env["KEYWARD_DATABASE_URL"] = database
	t.Chdir(t.TempDir()) // the defaults' ./var/keyring.json and ./var/mail
	// `keyward worker` runs as KEYWARD_ROLE=worker whatever the environment says.
	cfg, err := bootstrap.LoadConfig(func(k string) (string, bool) {
		if k == "KEYWARD_ROLE" {
			return bootstrap.RoleWorker, true
		}
		v, ok := env[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("the README's worker line: %v", err)
	}
	s := serveInTest(t, cfg, nil)
	base := s.waitBanner(t)
	if base != "http://127.0.0.1:8081" {
		t.Errorf("ops endpoints on %s, want the default http://127.0.0.1:8081", base)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("worker /readyz: %d\n%s", resp.StatusCode, s.stderr)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
}

// readmeWorkerLine returns the variables the README's `keyward worker`
// line sets.
func readmeWorkerLine(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		n := len(fields)
		if n < 2 || fields[n-2] != "keyward" || fields[n-1] != "worker" {
			continue
		}
		env := map[string]string{}
		for _, f := range fields[:n-2] {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				t.Fatalf("README worker line %q: %q is no variable", line, f)
			}
			env[k] = v
		}
		return env
	}
	t.Fatal("README.md has no `… keyward worker` line")
	return nil
}
