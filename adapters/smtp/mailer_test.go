package smtp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/keyward/keyward/adapters/smtp"
	"github.com/keyward/keyward/ports"
)

var fixedNow = time.Date(2025, 3, 14, 10, 41, 9, 0, time.UTC)

// sentLog is a ports.SentMailLog in a map (the real ones pass
// porttest.SentMailLog); failing makes every call fail.
type sentLog struct {
	mu      sync.Mutex
	keys    map[string]bool
	audited map[string]bool // marked apart from keys, as sent_mail_audited is
	failing bool
}

func newSentLog() *sentLog { return &sentLog{keys: map[string]bool{}, audited: map[string]bool{}} }

func (l *sentLog) WasSent(_ context.Context, key string) (sent, audited bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing {
		return false, false, errors.New("log down")
	}
	return l.keys[key], l.audited[key], nil
}

func (l *sentLog) RecordSent(_ context.Context, key string, _ time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failing {
		return errors.New("log down")
	}
	l.keys[key] = true
	return nil
}

func (l *sentLog) MarkAudited(_ context.Context, key string, _ time.Time) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	first := !l.audited[key]
	l.audited[key] = true
	return first, nil
}

func newMailer(t *testing.T, ts *testServer, scheme string, withUser bool, log ports.SentMailLog) *smtp.Mailer {
	t.Helper()
	u := url.URL{Scheme: scheme, Host: ts.addr}
	if withUser {
		u.User = url.UserPassword(user, password)
	}
	m, err := smtp.New(smtp.Config{
		URL: u.String(), From: "Keyward Shop <keys@shop.example>", RootCAs: ts.roots,
		Timeout: 10 * time.Second, Sent: log, Clock: func() time.Time { return fixedNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func email(key string) ports.Email {
	return ports.Email{
		To:             "buyer@example.com",
		Subject:        "Zahlung bestätigt — Bestellung Ø 42",
		Text:           "Grüße! Your payment is confirmed.\nhttps://shop.example/deliver/Qm9vbS1saW5rLXRva2VuLTI1Ni1iaXQtcmFuZG9tLXg\n",
		HTML:           `<p>Grüße! <a href="https://shop.example/deliver/Qm9vbS1saW5rLXRva2VuLTI1Ni1iaXQtcmFuZG9tLXg">Reveal</a> &lt;b&gt;</p>`,
		IdempotencyKey: key,
	}
}

// parsed is a received message read back as a mail client would.
type parsed struct {
	header     mail.Header
	subject    string
	text, html string
}

func parse(t *testing.T, raw []byte) parsed {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	var p parsed
	p.header = msg.Header
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil {
		t.Fatalf("subject: %v", err)
	}
	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type %q, %v; want multipart/alternative", mediaType, err)
	}
	r := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := r.NextPart() // undoes quoted-printable itself
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = part
		if strings.EqualFold(part.Header.Get("Content-Transfer-Encoding"), "base64") {
			body = base64.NewDecoder(base64.StdEncoding, part)
		}
		b, err := io.ReadAll(body)
		if err != nil {
			t.Fatal(err)
		}
		ct, ctParams, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if !strings.EqualFold(ctParams["charset"], "utf-8") {
			t.Errorf("%s part charset %q, want utf-8", ct, ctParams["charset"])
		}
		switch ct {
		case "text/plain":
			p.text = strings.ReplaceAll(string(b), "\r\n", "\n")
		case "text/html":
			p.html = strings.ReplaceAll(string(b), "\r\n", "\n")
		}
	}
	return p
}

func checkMessage(t *testing.T, got received, sent ports.Email) {
	t.Helper()
	if got.from != "keys@shop.example" || got.to != sent.To {
		t.Errorf("envelope %s -> %s", got.from, got.to)
	}
	p := parse(t, got.data)
	if p.subject != sent.Subject {
		t.Errorf("subject %q, want %q", p.subject, sent.Subject)
	}
	if raw := p.header.Get("Subject"); !strings.HasPrefix(raw, "=?") {
		t.Errorf("non-ASCII subject not RFC 2047 encoded: %q", raw)
	}
	if p.text != sent.Text {
		t.Errorf("text part %q, want %q", p.text, sent.Text)
	}
	if p.html != sent.HTML {
		t.Errorf("html part %q, want %q", p.html, sent.HTML)
	}
	if a, err := mail.ParseAddress(p.header.Get("From")); err != nil || a.Address != "keys@shop.example" || a.Name != "Keyward Shop" {
		t.Errorf("From %v, %v", a, err)
	}
	if to := p.header.Get("To"); !strings.Contains(to, sent.To) {
		t.Errorf("To %q", to)
	}
	if d, err := p.header.Date(); err != nil || !d.Equal(fixedNow) {
		t.Errorf("Date %v, %v", d, err)
	}
	if p.header.Get("Message-ID") == "" {
		t.Error("no Message-ID")
	}
	if k := p.header.Get("X-Keyward-Idempotency-Key"); k != sent.IdempotencyKey {
		t.Errorf("idempotency header %q, want %q", k, sent.IdempotencyKey)
	}
}

func TestSendPlain(t *testing.T) {
	t.Parallel()
	ts := startServer(t, plain, false)
	sent := email("payment-confirmed/o1/order.paid/1")
	if _, err := newMailer(t, ts, "smtp", false, newSentLog()).Send(t.Context(), sent); err != nil {
		t.Fatal(err)
	}
	got := ts.next(t)
	if got.tls || got.authUser != "" {
		t.Errorf("tls %v, auth %q on a plain server without credentials", got.tls, got.authUser)
	}
	checkMessage(t, got, sent)
}

func TestSendStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	ts := startServer(t, startTLS, false)
	sent := email("k-starttls")
	if _, err := newMailer(t, ts, "smtp", true, newSentLog()).Send(t.Context(), sent); err != nil {
		t.Fatal(err)
	}
	got := ts.next(t)
	if !got.tls {
		t.Error("STARTTLS was offered but not used")
	}
	if got.authUser != user {
		t.Errorf("authenticated as %q, want %q", got.authUser, user)
	}
	checkMessage(t, got, sent)
}

func TestSendImplicitTLSWithAuth(t *testing.T) {
	t.Parallel()
	ts := startServer(t, implicit, false)
	sent := email("k-smtps")
	if _, err := newMailer(t, ts, "smtps", true, newSentLog()).Send(t.Context(), sent); err != nil {
		t.Fatal(err)
	}
	got := ts.next(t)
	if !got.tls || got.authUser != user {
		t.Errorf("tls %v, auth %q; want TLS and %q", got.tls, got.authUser, user)
	}
	checkMessage(t, got, sent)
}

func TestWrongPasswordIsRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, startTLS, false)
	m, err := smtp.New(smtp.Config{URL: "smtp://shop:wrong@" + ts.addr, From: "keys@shop.example", RootCAs: ts.roots, Sent: newSentLog()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Send(t.Context(), email("k"))
	if err == nil {
		t.Fatal("sent with a wrong password")
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("the error shows the password: %v", err)
	}
	ts.none(t)
}

// A server without TLS never gets the password, even when it offers PLAIN.
func TestNoPasswordWithoutTLS(t *testing.T) {
	t.Parallel()
	ts := startServer(t, plain, true)
	_, err := newMailer(t, ts, "smtp", true, newSentLog()).Send(t.Context(), email("k"))
	if err == nil {
		t.Fatal("authenticated over a connection without TLS")
	}
	select {
	case u := <-ts.auths:
		t.Fatalf("AUTH sent in clear for %q", u)
	default:
	}
	ts.none(t)
}

func TestUntrustedCertificateIsRefused(t *testing.T) {
	t.Parallel()
	ts := startServer(t, startTLS, false)
	m, err := smtp.New(smtp.Config{URL: "smtp://" + ts.addr, From: "keys@shop.example", Sent: newSentLog()}) // system roots
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Send(t.Context(), email("k")); !errors.Is(err, ports.ErrMailUnavailable) {
		t.Fatalf("err = %v, want ErrMailUnavailable", err)
	}
	ts.none(t)
}

func TestSendOncePerIdempotencyKey(t *testing.T) {
	t.Parallel()
	ts := startServer(t, plain, false)
	log := newSentLog()
	first, second := newMailer(t, ts, "smtp", false, log), newMailer(t, ts, "smtp", false, log)
	for _, m := range []*smtp.Mailer{first, first, second} {
		if _, err := m.Send(t.Context(), email("order-received/o1/order.placed/1")); err != nil {
			t.Fatal(err)
		}
	}
	ts.next(t)
	ts.none(t)
	// Another key is another message; no key means no deduplication.
	for _, e := range []ports.Email{email("order-received/o2/order.placed/1"), email(""), email("")} {
		if _, err := first.Send(t.Context(), e); err != nil {
			t.Fatal(err)
		}
		ts.next(t)
	}
}

// TestDuplicateSaysWhetherItsRecordWasMarked: a message sent again under
// its key is a duplicate, unaudited until its audit record marked it, so
// that a record lost with its unit of work is written on the retry, once.
func TestDuplicateSaysWhetherItsRecordWasMarked(t *testing.T) {
	t.Parallel()
	ts := startServer(t, plain, false)
	log := newSentLog()
	m := newMailer(t, ts, "smtp", false, log)
	e := email("order-received/o3/order.placed/1")
	if r, err := m.Send(t.Context(), e); err != nil || r.Duplicate {
		t.Fatalf("first send = %+v, %v", r, err)
	}
	ts.next(t)
	if r, err := m.Send(t.Context(), e); err != nil || !r.Duplicate || !r.Unaudited {
		t.Fatalf("send again before the record = %+v, %v; want a duplicate, unaudited", r, err)
	}
	if first, err := m.MarkAudited(t.Context(), e.IdempotencyKey); err != nil || !first {
		t.Fatalf("MarkAudited = %v, %v; want the first mark", first, err)
	}
	if r, err := m.Send(t.Context(), e); err != nil || !r.Duplicate || r.Unaudited {
		t.Fatalf("send again after the record = %+v, %v; want a duplicate, audited", r, err)
	}
	ts.none(t)
}

func TestSentLogDownSendsNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t, plain, false)
	log := newSentLog()
	log.failing = true
	if _, err := newMailer(t, ts, "smtp", false, log).Send(t.Context(), email("k")); !errors.Is(err, ports.ErrMailUnavailable) {
		t.Fatalf("err = %v, want ErrMailUnavailable", err)
	}
	ts.none(t)
}

func TestServerRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		code int
		want error
	}{
		{"mailbox unknown is final", 550, ports.ErrMailRejected},
		{"greylisting is temporary", 451, ports.ErrMailUnavailable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, plain, false)
			ts.rcptFn = func(string) error {
				return &gosmtp.SMTPError{Code: c.code, EnhancedCode: gosmtp.EnhancedCodeNotSet, Message: "no"}
			}
			log := newSentLog()
			_, err := newMailer(t, ts, "smtp", false, log).Send(t.Context(), email("k"))
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if sent, _, _ := log.WasSent(t.Context(), "k"); sent {
				t.Error("a refused message was recorded as sent")
			}
		})
	}
}

func TestInvalidRecipientIsRejected(t *testing.T) {
	t.Parallel()
	ts := startServer(t, plain, false)
	m := newMailer(t, ts, "smtp", false, newSentLog())
	for _, to := range []string{"not an address", "a@b.example\r\nBcc: x@y.example"} {
		e := email("k")
		e.To = to
		if _, err := m.Send(t.Context(), e); !errors.Is(err, ports.ErrMailRejected) {
			t.Errorf("to %q: err = %v, want ErrMailRejected", to, err)
		}
	}
	ts.none(t)
}

func TestHealth(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		mode   tlsMode
		scheme string
	}{{"plain", plain, "smtp"}, {"starttls", startTLS, "smtp"}, {"implicit tls", implicit, "smtps"}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, c.mode, false)
			if err := newMailer(t, ts, c.scheme, true, newSentLog()).Health(t.Context()); err != nil {
				t.Fatalf("Health: %v", err)
			}
			select {
			case u := <-ts.auths:
				t.Errorf("the readiness check authenticated as %q", u)
			default:
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		m, err := smtp.New(smtp.Config{URL: "smtp://127.0.0.1:1", From: "keys@shop.example", Timeout: 2 * time.Second, Sent: newSentLog()})
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Health(t.Context()); err == nil {
			t.Fatal("Health passed with no server")
		}
	})
}

func TestNewRefusesBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://mail.example", "smtp://", "smtp://mail.example:0", "smtp://mail.example/x", "smtp://mail.example?starttls=no", "::"} {
		if _, err := smtp.New(smtp.Config{URL: u, From: "keys@shop.example", Sent: newSentLog()}); err == nil {
			t.Errorf("New(%q) succeeded", u)
		}
	}
	_, err := smtp.New(smtp.Config{URL: "smtp://u:hunter2@[bad", From: "keys@shop.example", Sent: newSentLog()})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a URL that does not parse: %v (must not show the password)", err)
	}
	if _, err := smtp.New(smtp.Config{URL: "smtp://mail.example", From: "keys@shop.example"}); err == nil {
		t.Error("New without a sent-mail log succeeded")
	}
}
