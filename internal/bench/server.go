package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/lib/pq" // the bench's own connection, for pg_stat_database
)

// benchServer is a `keyward serve` child process started by the bench, so
// that its CPU and memory are its own and not the clients'.
type benchServer struct {
	cmd     *exec.Cmd
	base    string
	mailDir string
	pprof   string // loopback address of its profiler, when asked for
	stderr  *bytes.Buffer
	exited  chan error
}

// startBenchServer runs exe serve with env plus overrides, on a free
// loopback port with a fresh maildir and keyring under dir, and waits
// until /readyz answers 200.
func startBenchServer(ctx context.Context, exe string, env []string, dir string, overrides map[string]string, withPprof bool) (*benchServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &benchServer{base: "http://127.0.0.1:" + strconv.Itoa(port), mailDir: filepath.Join(dir, "mail"), stderr: &bytes.Buffer{}, exited: make(chan error, 1)}
	set := ServerSettings(port, s.base, s.mailDir, dir)
	if withPprof {
		pp, err := freePort()
		if err != nil {
			return nil, err
		}
		s.pprof = "127.0.0.1:" + strconv.Itoa(pp)
		set["KEYWARD_PPROF_ADDR"] = s.pprof
	}
	for k, v := range overrides {
		set[k] = v
	}
	cmdEnv := append([]string(nil), env...)
	for k, v := range set { // later entries win in os/exec
		cmdEnv = append(cmdEnv, k+"="+v)
	}
	s.cmd = exec.Command(exe, "serve")
	s.cmd.Env = cmdEnv
	s.cmd.Stderr = &limitedBuffer{buf: s.stderr, max: 1 << 16}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", exe, err)
	}
	go func() { s.exited <- s.cmd.Wait() }()
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(60 * time.Second); ; {
		select {
		case err := <-s.exited:
			return nil, fmt.Errorf("keyward serve exited (%v): %s", err, tailString(s.stderr.String(), 2000))
		case <-ctx.Done():
			s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if resp, err := client.Get(s.base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("keyward serve not ready after 60s: %s", tailString(s.stderr.String(), 2000))
		}
	}
}

// ServerSettings is the environment a bench server runs with, over
// the caller's: loopback, sandbox integrations, and no rate limit, since
// the bench's clients are one address placing and paying orders as fast
// as the server takes them.
func ServerSettings(port int, base, mailDir, dir string) map[string]string {
	return map[string]string{
		"KEYWARD_HTTP_ADDR":                   "127.0.0.1:" + strconv.Itoa(port),
		"KEYWARD_PUBLIC_BASE_URL":             base,
		"KEYWARD_MAIL_DIR":                    mailDir,
		"KEYWARD_MAILER":                      "maildir",
		"KEYWARD_KEYRING_FILE":                filepath.Join(dir, "keyring.json"),
		"KEYWARD_DELIVERY_RATE_LIMIT":         "false",
		"KEYWARD_ORDER_RATE_LIMIT_PER_SOURCE": "off",
		"KEYWARD_ORDER_RATE_LIMIT_PER_EMAIL":  "off",
		"KEYWARD_LOG_LEVEL":                   "error",
		"KEYWARD_SUPPLIERS":                   "sandbox",
		"KEYWARD_PAYMENTS":                    "sandbox",
		"KEYWARD_MIGRATE_ON_START":            "true",
		"KEYWARD_PPROF_ADDR":                  "",
		// A prune pass (a minute in) would land in the counts of a long
		// run; the scratch databases are dropped after it.
		"KEYWARD_QUEUE_PRUNE_INTERVAL": "0",
	}
}

// stop asks the server to shut down and waits for it (killing it after
// a grace period).
func (s *benchServer) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// procStats is the CPU time (user+system) and peak resident memory of a
// process, from /proc.
type procStats struct {
	cpu     time.Duration
	peakRSS int64 // bytes
}

// clockTicks is USER_HZ, which Linux fixes at 100 for /proc/<pid>/stat.
const clockTicks = 100

func readProcStats(pid int) (procStats, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStats{}, fmt.Errorf("process stats: %w", err)
	}
	// The command name is in parentheses and may hold spaces: fields
	// count from after its closing one (utime and stime are 14 and 15).
	fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(fields) < 13 {
		return procStats{}, fmt.Errorf("process stats: short /proc/%d/stat", pid)
	}
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	st := procStats{cpu: time.Duration(utime+stime) * time.Second / clockTicks}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStats{}, fmt.Errorf("process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			st.peakRSS = kb << 10
		}
	}
	return st, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// scratchDatabase is a database made for one bench run on the configured
// server, so that its counters and tables are the run's alone.
type scratchDatabase struct {
	admin *sql.DB // on the configured database
	name  string
	url   string
	db    *sql.DB // on the scratch database
}

func newScratchDatabase(ctx context.Context, configured string) (*scratchDatabase, error) {
	admin, err := sql.Open("postgres", configured)
	if err != nil {
		return nil, fmt.Errorf("open KEYWARD_DATABASE_URL: %w", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "keyward_bench_" + hex.EncodeToString(b)
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return nil, fmt.Errorf("create bench database: %w", err)
	}
	u, err := url.Parse(configured)
	if err != nil || u.Scheme == "" {
		admin.Close()
		return nil, fmt.Errorf("the bench needs KEYWARD_DATABASE_URL as a postgres:// URL")
	}
	u.Path = "/" + name
	s := &scratchDatabase{admin: admin, name: name, url: u.String()}
	if s.db, err = sql.Open("postgres", s.url); err != nil {
		s.drop()
		return nil, err
	}
	return s, nil
}

// commits returns the database's committed transactions so far.
func (s *scratchDatabase) commits(ctx context.Context) (int64, error) {
	var n int64
	err := s.admin.QueryRowContext(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = $1`, s.name).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("pg_stat_database: %w", err)
	}
	return n, nil
}

func (s *scratchDatabase) drop() {
	if s.db != nil {
		s.db.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, _ = s.admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+s.name+" WITH (FORCE)")
	s.admin.Close()
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.buf.Len(); room > 0 {
		l.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
