// Package maildir is a Mailer that writes each email as an .eml file in a
// directory instead of sending it: the embedded default, and how tests and
// the end-to-end test read the delivery link a customer would receive.
package maildir

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Mailer writes one RFC 5322 message per email into a directory. Files are
// named <UTC time>-<16 hex>.eml, so a directory listing is in send order;
// the hex is derived from the idempotency key when there is one, and a
// line with it appended to the log .sent/log marks the key as sent, so
// that a duplicate is found without listing every message. Every process
// writing into the directory appends to the one log and reads what the
// others appended since it last looked. (A file per key, as earlier
// versions kept, costs a file's creation per email: on this project's
// machines as much CPU as the message file itself.) Safe for concurrent
// use.
type Mailer struct {
	dir    string
	from   *mail.Address
	domain string
	clock  func() time.Time
	mu     sync.Mutex // makes check-then-rename atomic for one key within the process, and guards sent
	sent   *sentLog
}

var _ ports.Mailer = (*Mailer)(nil)

// New returns a Mailer writing into dir, which it creates (0o700) if
// needed. It returns an error when from is not an address or dir cannot be
// created. A nil clock means time.Now.
func New(dir string, from string, clock func() time.Time) (*Mailer, error) {
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("maildir: from address %q: %w", from, err)
	}
	if clock == nil {
		clock = time.Now
	}
	sent, err := openSentLog(dir)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	return &Mailer{dir: dir, from: addr, domain: addr.Address[strings.LastIndex(addr.Address, "@")+1:], clock: clock, sent: sent}, nil
}

// Send writes m as a new .eml file, atomically: a reader never sees a
// partial message. With a non-empty IdempotencyKey that was already sent
// into this directory it writes nothing and reports a duplicate; otherwise
// the receipt names the file. It returns an error
// for an invalid recipient or when the file cannot be written.
func (s *Mailer) Send(ctx context.Context, m ports.Email) (ports.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return ports.Receipt{}, err
	}
	if _, err := domain.ParseEmail(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return ports.Receipt{}, fmt.Errorf("maildir: invalid recipient %q", m.To)
	}
	if strings.ContainsAny(m.IdempotencyKey, "\r\n") {
		return ports.Receipt{}, errors.New("maildir: idempotency key contains a line break")
	}
	now := s.clock().UTC()
	msg, err := s.render(m, now)
	if err != nil {
		return ports.Receipt{}, fmt.Errorf("maildir: render: %w", err)
	}
	tag := randomHex()
	if m.IdempotencyKey != "" {
		sum := sha256.Sum256([]byte(m.IdempotencyKey))
		tag = hex.EncodeToString(sum[:8])
	}
	tmp, err := s.writeTemp(msg)
	if err != nil {
		return ports.Receipt{}, fmt.Errorf("maildir: %w", err)
	}
	defer os.Remove(tmp) // a no-op once renamed

	s.mu.Lock()
	defer s.mu.Unlock()
	if m.IdempotencyKey != "" {
		sent, err := s.sent.has(tag)
		if err != nil {
			return ports.Receipt{}, fmt.Errorf("maildir: read the sent log: %w", err)
		}
		if sent {
			return ports.Receipt{Duplicate: true}, nil
		}
	}
	name := now.Format("20060102T150405.000000000Z") + "-" + tag + ".eml"
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return ports.Receipt{}, fmt.Errorf("maildir: %w", err)
	}
	if m.IdempotencyKey != "" {
		// The message is out: failing here would have the caller send it
		// again (see sentLog.add).
		s.sent.add(tag)
	}
	return ports.Receipt{ProviderID: name}, nil
}

// writeTemp writes data to a dot file in the directory (ReadAll skips it)
// and returns its path.
func (s *Mailer) writeTemp(data []byte) (string, error) {
	f, err := os.CreateTemp(s.dir, ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// render builds the message: headers, then a multipart/alternative body
// with a text and an HTML part, both quoted-printable so long links survive
// line-length limits.
func (s *Mailer) render(m ports.Email, now time.Time) ([]byte, error) {
	var body bytes.Buffer
	parts := multipart.NewWriter(&body)
	for _, p := range []struct{ contentType, content string }{
		{"text/plain; charset=utf-8", m.Text},
		{"text/html; charset=utf-8", m.HTML},
	} {
		w, err := parts.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.contentType},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(p.content)); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := parts.Close(); err != nil {
		return nil, err
	}

	var msg bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&msg, "%s: %s\r\n", name, value) }
	header("From", s.from.String())
	header("To", m.To)
	header("Subject", foldWords(mime.QEncoding.Encode("utf-8", m.Subject)))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", "<"+rand.Text()+"@"+s.domain+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "multipart/alternative;\r\n boundary="+parts.Boundary()) // folded: keeps lines under 78
	if m.IdempotencyKey != "" {
		header("X-Keyward-Idempotency-Key", foldWords(mime.QEncoding.Encode("utf-8", m.IdempotencyKey)))
	}
	msg.WriteString("\r\n")
	msg.Write(body.Bytes())
	return msg.Bytes(), nil
}

// foldWords puts each RFC 2047 encoded word on its own header line, so a
// long non-ASCII subject stays within the 78-character line limit.
func foldWords(v string) string { return strings.ReplaceAll(v, "?= =?", "?=\r\n =?") }

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}
