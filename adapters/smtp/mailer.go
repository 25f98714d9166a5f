// Package smtp is a Mailer that sends through an SMTP server (submission
// with STARTTLS when the server offers it, or implicit TLS with smtps://),
// with github.com/wneessen/go-mail: net/smtp is frozen, builds no MIME and
// implements only PLAIN and CRAM-MD5, while go-mail is maintained and does
// the MIME encoding (RFC 2047 subjects, quoted-printable bodies) and picks
// the strongest AUTH mechanism the server offers, never sending a password
// over an unencrypted connection.
//
// SMTP cannot deduplicate a message, so the Mailer consults a
// ports.SentMailLog by the message's IdempotencyKey: it asks before sending
// and records after the server accepted the message. That is at-least-once:
// a crash between the server's acceptance and the record sends the message
// again on retry. Recording first would be at-most-once, and a crash between
// the record and the send would lose the email for good; a lost key email
// is worse than a repeated "payment confirmed". The check and the record
// are not a lock: two workers sending one key at the same moment both send.
// The queue hands a message to one worker at a time, so that takes a
// redelivery racing the first attempt past its ack deadline.
package smtp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Config configures a Mailer.
type Config struct {
	// URL is smtp://user:pass@host:port (STARTTLS when offered; default
	// port 587) or smtps://user:pass@host:port (implicit TLS; default port
	// 465). Without a user no AUTH is attempted.
	URL string
	// From is the sender, "Name <addr>" or "addr".
	From string
	// RootCAs verifies the server's certificate; nil means the system's.
	RootCAs *x509.CertPool
	// Timeout bounds connecting and each command; default 15 s.
	Timeout time.Duration
	// Sent remembers sent idempotency keys; required.
	Sent ports.SentMailLog
	// Clock stamps Date and the sent-log; nil means time.Now.
	Clock func() time.Time
	// Log reports a sent message that could not be recorded; nil discards.
	Log *slog.Logger
}

// Mailer sends email over SMTP, one connection per message. Safe for
// concurrent use.
type Mailer struct {
	host    string
	port    int
	implTLS bool
	user    string
	pass    string
	from    *mail.Address
	tls     *tls.Config
	timeout time.Duration
	sent    ports.SentMailLog
	clock   func() time.Time
	log     *slog.Logger
}

var _ ports.AuditMarkingMailer = (*Mailer)(nil)

// New returns a Mailer for cfg. It returns an error when the URL or the
// sender does not parse or Sent is nil; it does not connect.
func New(cfg Config) (*Mailer, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("smtp: the URL does not parse") // the parse error would repeat the password
	}
	m := &Mailer{host: u.Hostname(), timeout: cfg.Timeout, sent: cfg.Sent, clock: cfg.Clock, log: cfg.Log}
	switch u.Scheme {
	case "smtp":
		m.port = 587
	case "smtps":
		m.port, m.implTLS = 465, true
	default:
		return nil, fmt.Errorf("smtp: URL scheme %q: want smtp or smtps", u.Scheme)
	}
	if m.host == "" {
		return nil, errors.New("smtp: the URL has no host")
	}
	if p := u.Port(); p != "" {
		if m.port, err = strconv.Atoi(p); err != nil || m.port < 1 || m.port > 65535 {
			return nil, fmt.Errorf("smtp: port %q", p)
		}
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errors.New("smtp: the URL takes no path or query")
	}
	if u.User != nil {
		m.user = u.User.Username()
		m.pass, _ = u.User.Password()
	}
	if m.from, err = mail.ParseAddress(cfg.From); err != nil {
		return nil, fmt.Errorf("smtp: from address %q: %w", cfg.From, err)
	}
	if cfg.Sent == nil {
		return nil, errors.New("smtp: a sent-mail log is required")
	}
	if m.timeout <= 0 {
		m.timeout = 15 * time.Second
	}
	if m.clock == nil {
		m.clock = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.tls = &tls.Config{ServerName: m.host, RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
	return m, nil
}

// Addr returns host:port, for messages (never the credentials).
func (s *Mailer) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Send delivers m unless its IdempotencyKey is in the sent-log. It returns
// an error wrapping ports.ErrMailRejected for an invalid message or a
// permanent (5xx) refusal, and ports.ErrMailUnavailable otherwise: the
// server or the sent-log cannot be reached, or a temporary (4xx) refusal.
func (s *Mailer) Send(ctx context.Context, m ports.Email) (ports.Receipt, error) {
	if _, err := domain.ParseEmail(m.To); err != nil || strings.ContainsAny(m.To, "\r\n") {
		return ports.Receipt{}, fmt.Errorf("%w: smtp: invalid recipient %q", ports.ErrMailRejected, m.To)
	}
	if strings.ContainsAny(m.IdempotencyKey, "\r\n") {
		return ports.Receipt{}, fmt.Errorf("%w: smtp: idempotency key contains a line break", ports.ErrMailRejected)
	}
	if m.IdempotencyKey != "" {
		sent, audited, err := s.sent.WasSent(ctx, m.IdempotencyKey)
		if err != nil {
			return ports.Receipt{}, fmt.Errorf("%w: smtp: sent-mail log: %v", ports.ErrMailUnavailable, err)
		}
		if sent {
			return ports.Receipt{Duplicate: true, Unaudited: !audited}, nil
		}
	}
	msg, err := s.message(m)
	if err != nil {
		return ports.Receipt{}, fmt.Errorf("%w: smtp: %v", ports.ErrMailRejected, err)
	}
	client, err := s.client(true)
	if err != nil {
		return ports.Receipt{}, fmt.Errorf("%w: smtp: %v", ports.ErrMailRejected, err)
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return ports.Receipt{}, s.classify(err)
	}
	if m.IdempotencyKey != "" {
		// The message is out: a failed record must not make the caller
		// send it again now, so it is reported and not returned.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := s.sent.RecordSent(rctx, m.IdempotencyKey, s.clock()); err != nil {
			s.log.ErrorContext(ctx, "email sent but not recorded; a retry would send it again", "idempotency_key", m.IdempotencyKey, "err", err)
		}
	}
	return ports.Receipt{ProviderID: msg.GetMessageID()}, nil
}

// MarkAudited marks the message sent under key audited in the sent-mail
// log, in ctx's unit of work (ports.AuditMarkingMailer).
func (s *Mailer) MarkAudited(ctx context.Context, key string) (bool, error) {
	return s.sent.MarkAudited(ctx, key, s.clock())
}

// Health connects, greets the server (EHLO, and STARTTLS when offered) and
// quits, without authenticating. It returns an error when any step fails.
func (s *Mailer) Health(ctx context.Context) error {
	client, err := s.client(false)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := client.DialWithContext(ctx); err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr(), err)
	}
	if err := client.Close(); err != nil {
		return fmt.Errorf("smtp %s: quit: %w", s.Addr(), err)
	}
	return nil
}

// client builds a go-mail client (one per connection: a go-mail Client
// holds its connection).
func (s *Mailer) client(auth bool) (*gomail.Client, error) {
	opts := []gomail.Option{
		gomail.WithPort(s.port),
		gomail.WithTimeout(s.timeout),
		gomail.WithTLSConfig(s.tls),
	}
	if s.implTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if auth && s.user != "" {
		// Auto-discovery takes the strongest mechanism offered and refuses
		// PLAIN and LOGIN on a connection without TLS.
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	return gomail.NewClient(s.host, opts...)
}

// message builds the MIME message: a text part and an HTML alternative.
func (s *Mailer) message(m ports.Email) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(s.from.String()); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to %q: %w", m.To, err)
	}
	msg.Subject(m.Subject)
	msg.SetDateWithValue(s.clock())
	msg.SetMessageID()
	if m.IdempotencyKey != "" {
		msg.SetGenHeader("X-Keyward-Idempotency-Key", m.IdempotencyKey)
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// classify wraps a send error as final (a permanent 5xx refusal) or
// temporary (everything else: connection, TLS, 4xx).
func (s *Mailer) classify(err error) error {
	var se *gomail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		return fmt.Errorf("%w: smtp %s: %v", ports.ErrMailRejected, s.Addr(), err)
	}
	return fmt.Errorf("%w: smtp %s: %v", ports.ErrMailUnavailable, s.Addr(), err)
}
