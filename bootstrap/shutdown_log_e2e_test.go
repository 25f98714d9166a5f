package bootstrap_test

import (
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
)

// TestCleanStopLogsNoError: keyward on Postgres, stopped as SIGTERM stops
// it, logs no ERROR line (the subscribers' polls that the stop cancels
// are no errors).
func TestCleanStopLogsNoError(t *testing.T) {
	t.Parallel()
	database, _ := pgtest.NewDatabase(t)
	cfg := bootstrap.Defaults()
	cfg.HTTPAddr, cfg.MailDir, cfg.KeyringFile = "127.0.0.1:0", t.TempDir(), filepath.Join(t.TempDir(), "keyring.json")
	cfg.DatabaseURL = database
	s := serveInTest(t, cfg, nil)
	s.waitBanner(t)
	if err := s.stop(t); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.stderr)
	}
	if errs := errorLines(s.stderr.String()); len(errs) > 0 {
		t.Fatalf("a clean stop logged %d ERROR lines, such as:\n%s", len(errs), errs[0])
	}
}
