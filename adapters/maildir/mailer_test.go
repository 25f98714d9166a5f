package maildir

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

const from = "Keyward <no-reply@keyward.example>"

// token is 43 characters, like a base64url-encoded 256-bit link token.
const link = "https://x.example/deliver/Qm9vbS1saW5rLXRva2VuLTI1Ni1iaXQtcmFuZG9tLXg"

var fixedNow = time.Date(2025, 3, 14, 10, 41, 9, 118_000_000, time.UTC)

func newMailer(t *testing.T, dir string) *Mailer {
	t.Helper()
	m, err := New(dir, from, func() time.Time { return fixedNow })
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func email(key string) ports.Email {
	return ports.Email{
		To:             "buyer@example.com",
		Subject:        "Your keys are ready",
		Text:           "Open this link within 15 minutes to reveal your keys:\n" + link + "\n",
		HTML:           `<p>Your keys are ready. <a href="` + link + `" style="display:inline-block;padding:12px 20px;background:#0b5fff;color:#ffffff">Reveal my keys</a></p>`,
		IdempotencyKey: key,
	}
}

func readAll(t *testing.T, dir string) []Message {
	t.Helper()
	ms, err := ReadAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestSendAndReadBack(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "mail")
	sent := email("delivery-link/1")
	if _, err := newMailer(t, dir).Send(context.Background(), sent); err != nil {
		t.Fatal(err)
	}
	ms := readAll(t, dir)
	if len(ms) != 1 {
		t.Fatalf("%d messages, want 1", len(ms))
	}
	got := ms[0]
	if got.To != sent.To || got.Subject != sent.Subject || got.Text != sent.Text || got.HTML != sent.HTML {
		t.Errorf("read back %+v, want %+v", got, sent)
	}
	if !strings.Contains(got.Text, link) || !strings.Contains(got.HTML, link) {
		t.Errorf("the link does not survive whole: text %q", got.Text)
	}
	if !strings.HasPrefix(got.File, "20250314T104109.118000000Z-") {
		t.Errorf("file name %q does not start with the UTC send time", got.File)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
}

func TestHeadersAreValid(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := newMailer(t, dir).Send(context.Background(), email("k1")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, readAll(t, dir)[0].File))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if date, err := msg.Header.Date(); err != nil || !date.Equal(fixedNow.Truncate(time.Second)) {
		t.Errorf("Date = %v, %v", date, err)
	}
	if a, err := mail.ParseAddress(msg.Header.Get("From")); err != nil || a.Address != "no-reply@keyward.example" {
		t.Errorf("From = %v, %v", a, err)
	}
	want := map[string]string{
		"MIME-Version":              "1.0",
		"X-Keyward-Idempotency-Key": "k1",
	}
	for name, value := range want {
		if got := msg.Header.Get(name); got != value {
			t.Errorf("%s = %q, want %q", name, got, value)
		}
	}
	if id := msg.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@keyward.example>") {
		t.Errorf("Message-ID = %q", id)
	}
	if ct := msg.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative; boundary=") {
		t.Errorf("Content-Type = %q", ct)
	}
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 78 || strings.Contains(line, "\n") {
			t.Errorf("line %d is %d characters or has a bare LF: %q", i, len(line), line)
		}
	}
}

func TestNonASCIISubject(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	e := email("")
	e.Subject = "Vos clés sont prêtes — Café «Déjà vu» 🎮, a subject long enough to need several encoded words"
	if _, err := newMailer(t, dir).Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, dir)[0]
	if got.Subject != e.Subject {
		t.Errorf("Subject = %q, want %q", got.Subject, e.Subject)
	}
	if raw := got.Headers.Get("Subject"); !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("raw Subject %q is not RFC 2047 encoded", raw)
	}
	// Encoded words are folded onto lines of their own: RFC 5322 allows
	// 998 characters, and without folding this subject would need 209.
	raw, _ := os.ReadFile(filepath.Join(dir, got.File))
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 80 {
			t.Errorf("header line of %d characters: %q", len(line), line)
		}
	}
}

// TestNonASCIISenderName: a display name outside ASCII is written as RFC
// 2047 encoded words, never raw in the header.
func TestNonASCIISenderName(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m, err := New(dir, "Clés Café <keys@example.com>", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(context.Background(), email("")); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, dir)[0]
	if raw := got.Headers.Get("From"); !strings.HasPrefix(raw, "=?utf-8?") || !strings.HasSuffix(raw, "<keys@example.com>") {
		t.Fatalf("raw From %q is not RFC 2047 encoded", raw)
	}
}

func TestIdempotencyKeyDedupes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	// A clock that moves, so a duplicate would get a file name of its own.
	tick := movingClock(time.Second)
	first, err := New(dir, from, tick)
	if err != nil {
		t.Fatal(err)
	}
	restarted, err := New(dir, from, tick)
	if err != nil {
		t.Fatal(err)
	}
	sends := []struct {
		mailer *Mailer
		key    string
	}{
		{first, "delivery-link/1"},
		{first, "delivery-link/1"},
		{restarted, "delivery-link/1"}, // a new process on the same directory
		{first, "delivery-link/2"},
		{first, ""}, // no key: always sent
		{first, ""},
	}
	for _, s := range sends {
		if _, err := s.mailer.Send(ctx, email(s.key)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(readAll(t, dir)); n != 4 {
		t.Errorf("%d messages, want 4", n)
	}
}

func TestConcurrentSends(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newMailer(t, dir)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if _, err := m.Send(context.Background(), email(fmt.Sprintf("key-%d", i))); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			// Everything visible while others write must parse whole.
			if _, err := ReadAll(dir); err != nil {
				t.Errorf("ReadAll during sends: %v", err)
			}
		})
	}
	wg.Wait()
	if n := len(readAll(t, dir)); n != 20 {
		t.Errorf("%d messages, want 20", n)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 21 {
		t.Errorf("%d entries in the directory, want 20 messages and the %s index (temporary files left behind?)", len(entries), sentDir)
	}
}

func TestConcurrentDuplicatesSendOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m, err := New(dir, from, movingClock(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := m.Send(context.Background(), email("delivery-link/1")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(readAll(t, dir)); n != 1 {
		t.Errorf("%d messages for one idempotency key, want 1", n)
	}
}

func TestUnwritableDirectory(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(filepath.Join(file, "mail"), from, nil); err == nil {
		t.Error("New under a regular file succeeded")
	}

	// A directory that disappears after New: Send must report it.
	dir := filepath.Join(t.TempDir(), "mail")
	m := newMailer(t, dir)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(context.Background(), email("k")); err == nil {
		t.Error("Send into a path that is a file succeeded")
	}
}

func TestSendRejectsHeaderInjection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newMailer(t, dir)
	tests := map[string]func(*ports.Email){
		"recipient with a line break":   func(e *ports.Email) { e.To = "buyer@example.com\r\nBcc: all@example.com" },
		"not an address":                func(e *ports.Email) { e.To = "buyer" },
		"recipient with a bidi control": func(e *ports.Email) { e.To = "gnp.exe\u202e@example.com" },
		"key with a line break":         func(e *ports.Email) { e.IdempotencyKey = "k\r\nBcc: all@example.com" },
	}
	for name, change := range tests {
		e := email("k")
		change(&e)
		if _, err := m.Send(context.Background(), e); err == nil {
			t.Errorf("%s: Send succeeded", name)
		}
	}
	if n := len(readAll(t, dir)); n != 0 {
		t.Errorf("%d messages written, want 0", n)
	}
}

// A directory whose sent log is missing (written before it existed, or
// lost) still dedupes after a restart, from the messages' file names.
func TestDedupesWithoutTheLogAfterRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := newMailer(t, dir).Send(context.Background(), email("delivery-link/1")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, sentDir)); err != nil {
		t.Fatal(err)
	}
	r, err := newMailer(t, dir).Send(context.Background(), email("delivery-link/1"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Duplicate {
		t.Error("a key sent before the restart was sent again")
	}
	if n := len(readAll(t, dir)); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

// A sent log deleted under running processes is made again, and the
// processes meet in the new one: a process started after the deletion and
// one started before it still dedupe each other's keys, and the key sent
// before the deletion stays known.
func TestDedupesWhenTheLogIsDeleted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A clock that moves, so a duplicate would get a file name of its own.
	tick := movingClock(time.Second)
	before, err := New(dir, from, tick)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := before.Send(context.Background(), email("delivery-link/1")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, sentDir)); err != nil {
		t.Fatal(err)
	}
	after, err := New(dir, from, tick)
	if err != nil {
		t.Fatal(err)
	}
	sends := []struct {
		m         *Mailer
		key       string
		duplicate bool
	}{
		{before, "delivery-link/1", true},  // known to before itself
		{after, "delivery-link/1", true},   // from the message's file name
		{before, "delivery-link/2", false}, // before finds the new log and appends to it
		{after, "delivery-link/2", true},   // after reads it there
		{after, "delivery-link/3", false},
		{before, "delivery-link/3", true},
	}
	for i, s := range sends {
		r, err := s.m.Send(context.Background(), email(s.key))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if r.Duplicate != s.duplicate {
			t.Fatalf("send %d of %s: duplicate %v, want %v", i, s.key, r.Duplicate, s.duplicate)
		}
	}
	if n := len(readAll(t, dir)); n != 3 {
		t.Errorf("%d messages for three keys, want 3", n)
	}
}

// Each email with a key adds its message file and a line to the sent log,
// no file of its own per key: the log is all .sent holds.
func TestSentKeysAreLoggedNotFiled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	m := newMailer(t, dir)
	for i := range 5 {
		if _, err := m.Send(context.Background(), email(fmt.Sprintf("key-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(filepath.Join(dir, sentDir))
	if err != nil || len(entries) != 1 || entries[0].Name() != sentLogName {
		t.Fatalf("%s holds %v (%v), want the log alone", sentDir, entries, err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, sentDir, sentLogName))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(raw), "\n"); lines != 5 {
		t.Fatalf("%d lines in the sent log, want 5:\n%s", lines, raw)
	}
}

// A key marked sent by an earlier version (a file of its own in .sent)
// is still known sent.
func TestDedupesByAnEarlierVersionsMarker(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, sentDir), 0o700); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("delivery-link/1"))
	if err := os.WriteFile(filepath.Join(dir, sentDir, hex.EncodeToString(sum[:8])), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := newMailer(t, dir).Send(context.Background(), email("delivery-link/1"))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Duplicate || len(readAll(t, dir)) != 0 {
		t.Fatalf("a key an earlier version marked sent was sent again (%+v)", r)
	}
}

// A log line that cannot be written (the log full, say) still dedupes
// within the process: the email is out, and a retry of its key must not
// send it again.
func TestDedupesWhenTheLogCannotBeWritten(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A clock that moves, so a duplicate would get a file name of its own.
	m, err := New(dir, from, movingClock(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	// The same file, opened for reading only: every append fails.
	ro, err := os.Open(filepath.Join(dir, sentDir, sentLogName))
	if err != nil {
		t.Fatal(err)
	}
	m.sent.f.Close()
	m.sent.f = ro
	if _, err := ro.Write([]byte("x")); err == nil {
		t.Fatal("the read-only log took a write: the test no longer shows what it is for")
	}
	for i := range 2 {
		if _, err := m.Send(context.Background(), email("delivery-link/1")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := len(readAll(t, dir)); n != 1 {
		t.Errorf("%d messages for one key, want 1", n)
	}
}

// movingClock is a clock that moves by step at each reading, from
// fixedNow: each message gets a file name of its own, so a duplicate
// would show as a second file.
func movingClock(step time.Duration) func() time.Time {
	var mu sync.Mutex
	now := fixedNow
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}
