package main

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/adapters/vault"
	"github.com/keyward/keyward/adapters/vault/vaulttest"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// TestProgressWriter: on a terminal the line is rewritten in place at
// most every refresh, a named step and the last step get lines of their
// own; off a terminal nothing at all is written.
func TestProgressWriter(t *testing.T) {
	t.Parallel()
	var quiet bytes.Buffer
	if p := newProgress(&env{stderr: &quiet, tty: false}, "keys sealed"); p != nil || p.fn() != nil {
		t.Fatal("progress off a terminal")
	}
	newProgress(&env{stderr: &quiet}, "x").perSecond().end() // nil-safe
	if quiet.Len() != 0 {
		t.Fatalf("wrote %q off a terminal", quiet.String())
	}

	var out bytes.Buffer
	clock := testkit.NewClock(time.Unix(1_700_000_000, 0))
	p := newProgress(&env{stderr: &out, tty: true}, "orders done").perSecond()
	p.now = clock.Now
	report := p.fn()
	report(1, 4, "")
	clock.Advance(refresh / 2)
	report(2, 4, "") // too soon: not drawn
	clock.Advance(refresh * 10)
	report(3, 4, "")
	report(4, 4, "") // the last one is always drawn, and kept
	p.end()          // nothing open: no extra newline
	want := "\r\x1b[Korders done: 1/4" + "\r\x1b[Korders done: 3/4 (2.9/s)" + "\r\x1b[Korders done: 4/4 (3.8/s)\n"
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}

	out.Reset()
	p = newProgress(&env{stderr: &out, tty: true}, "migrations applied")
	p.now = clock.Now
	p.report(1, 0, "00001_init.sql")
	p.report(2, 0, "00002_more.sql")
	p.report(3, 0, "")
	p.report(4, 0, "") // too soon, but the last: end shows it
	p.end()
	want = "\r\x1b[Kmigrations applied: 1 00001_init.sql\n\r\x1b[Kmigrations applied: 2 00002_more.sql\n" +
		"\r\x1b[Kmigrations applied: 3\r\x1b[Kmigrations applied: 4\n"
	if out.String() != want {
		t.Fatalf("got  %q\nwant %q", out.String(), want)
	}
}

// TestResultsStartOnTheirOwnLine: a result written while progress is
// shown starts on a new line; off a terminal it is written as it is.
func TestResultsStartOnTheirOwnLine(t *testing.T) {
	t.Parallel()
	var both bytes.Buffer
	p := newProgress(&env{stderr: &both, tty: true}, "orders done")
	p.report(1, 2, "")
	fmt.Fprint(afterProgress{p, &both}, "load 1: 1 order\n")
	if want := "\r\x1b[Korders done: 1/2\nload 1: 1 order\n"; both.String() != want {
		t.Fatalf("got %q, want %q", both.String(), want)
	}
	var plain bytes.Buffer
	fmt.Fprint(afterProgress{nil, &plain}, "load 1\n")
	if plain.String() != "load 1\n" {
		t.Fatalf("off a terminal: %q", plain.String())
	}
}

// runTTY runs a command in-process with stderr taken for a terminal, or
// not, and returns what it wrote to stdout and stderr.
func runTTY(t *testing.T, tty bool, args ...string) (stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	if code := run(args, &env{stdout: &o, stderr: &e, tty: tty}); code != 0 {
		t.Fatalf("keyward %s: exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	}
	return o.String(), e.String()
}

// TestLongCommandsShowProgressOnATerminal: migrate up shows each
// migration, catalog sync each supplier page, stock import the keys
// sealed, keys rotate the data keys rewrapped, on a terminal; off one
// they write nothing but their result. (Not parallel: the commands read
// the process's environment.)
func TestLongCommandsShowProgressOnATerminal(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYWARD_KEYRING_FILE", filepath.Join(dir, "keyring.json"))
	t.Setenv("KEYWARD_MAIL_DIR", filepath.Join(dir, "mail"))
	t.Setenv("KEYWARD_HTTP_ADDR", "127.0.0.1:0")

	t.Run("migrate up", func(t *testing.T) {
		t.Setenv("KEYWARD_DATABASE_URL", pgtest.NewEmptyDatabase(t))
		out, progress := runTTY(t, true, "migrate", "up")
		files, _ := filepath.Glob("../../migrations/*.sql")
		lines := strings.Split(strings.TrimSuffix(progress, "\n"), "\n")
		if len(files) == 0 || len(lines) != len(files) || !strings.Contains(out, "schema version") {
			t.Fatalf("%d migrations, %d progress lines:\n%s\nstdout: %s", len(files), len(lines), progress, out)
		}
		for i, f := range files {
			want := fmt.Sprintf("\r\x1b[Kmigrations applied: %d/%d %s", i+1, len(files), filepath.Base(f))
			if lines[i] != want {
				t.Errorf("line %d: %q, want %q", i, lines[i], want)
			}
		}
		t.Setenv("KEYWARD_DATABASE_URL", pgtest.NewEmptyDatabase(t))
		if _, quiet := runTTY(t, false, "migrate", "up"); quiet != "" {
			t.Errorf("off a terminal: %q", quiet)
		}
	})

	url, db := pgtest.NewDatabase(t)
	t.Setenv("KEYWARD_DATABASE_URL", url)
	t.Run("catalog sync", func(t *testing.T) {
		out, progress := runTTY(t, true, "catalog", "sync")
		if progress != "\r\x1b[Ksupplier pages read: 1\n" || !strings.Contains(out, "15 products seen") {
			t.Fatalf("progress %q, stdout %q", progress, out)
		}
		if _, quiet := runTTY(t, false, "catalog", "sync"); quiet != "" {
			t.Errorf("off a terminal: %q", quiet)
		}
	})

	t.Run("stock import", func(t *testing.T) {
		p, err := domain.NewProduct(domain.ProductSnapshot{SKU: "progress-game-steam-global", Name: "Progress Game", Price: domain.MustMoney("9.99", "EUR"),
			Source: domain.ProductSource{Kind: domain.SourceOwnStock}, Active: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := postgres.NewCatalog(db).Upsert(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		csv := filepath.Join(t.TempDir(), "keys.csv")
		if err := os.WriteFile(csv, []byte("PROGRESS-0001\nPROGRESS-0002\nPROGRESS-0003\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, progress := runTTY(t, true, "stock", "import", "--sku", p.SKU(), csv)
		if !strings.HasSuffix(progress, "\r\x1b[Kkeys sealed: 3/3\n") || strings.TrimSpace(out) != `{"added":3,"duplicates":0}` {
			t.Fatalf("progress %q, stdout %q", progress, out)
		}
		if strings.Contains(progress, "PROGRESS-") {
			t.Fatal("a key is shown")
		}
		if _, quiet := runTTY(t, false, "stock", "import", "--sku", p.SKU(), csv); quiet != "" {
			t.Errorf("off a terminal: %q", quiet)
		}
	})

	t.Run("keys rotate", func(t *testing.T) {
		addr, token := vaulttest.Config(t)
		key := vaulttest.KeyName()
		v, err := vault.New(vault.Config{Address: addr, Token: token, Key: key, CreateKey: true}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Init(t.Context()); err != nil {
			t.Fatal(err)
		}
		url, db := pgtest.NewDatabase(t)
		for i := range 3 {
			id := fmt.Sprintf("order-%d", i)
			dk, err := v.NewDataKey(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if err := postgres.NewDataKeys(db).Create(t.Context(), id, dk.Wrapped); err != nil {
				t.Fatal(err)
			}
		}
		for k, val := range map[string]string{"KEYWARD_DATABASE_URL": url, "KEYWARD_KEY_VAULT": "vault", "VAULT_ADDR": addr,
			"KEYWARD_VAULT_TOKEN": token, "KEYWARD_VAULT_TRANSIT_KEY": key} {
			t.Setenv(k, val)
		}
		out, progress := runTTY(t, true, "keys", "rotate")
		// The three orders' keys, and the audit MAC key the tool made.
		m := regexp.MustCompile(`rewrapped (\d+) data keys`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("stdout %q", out)
		}
		if n, _ := strconv.Atoi(m[1]); n < 3 || !regexp.MustCompile(`^\r\x1b\[Kdata keys rewrapped: 1(\r\x1b\[Kdata keys rewrapped: \d)*\r\x1b\[Kdata keys rewrapped: `+m[1]+`\n$`).MatchString(progress) {
			t.Fatalf("progress %q, stdout %q", progress, out)
		}
		if _, quiet := runTTY(t, false, "keys", "rotate"); quiet != "" {
			t.Errorf("off a terminal: %q", quiet)
		}
	})
}
