package bootstrap_test

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/internal/testkit"
)

func TestMailConfigNamesTheMissingVariable(t *testing.T) {
	t.Parallel()
	cases := []struct {
		env  []string
		want string
	}{
		{[]string{"KEYWARD_MAILER", "pigeon"}, "KEYWARD_MAILER"},
		{[]string{"KEYWARD_MAILER", "smtp"}, "KEYWARD_SMTP_URL"},
		{[]string{"KEYWARD_MAILER", "smtp", "KEYWARD_SMTP_URL", "http://u:hunter2@mail.example"}, "KEYWARD_SMTP_URL"},
		{[]string{"KEYWARD_MAILER", "smtp", "KEYWARD_SMTP_URL", "smtp://mail.example", "KEYWARD_MAIL_FROM", "nobody"}, "KEYWARD_MAIL_FROM"},
		{[]string{"KEYWARD_MAILER", "resend"}, "KEYWARD_RESEND_API_KEY"},
		{[]string{"KEYWARD_MAILER", "resend", "KEYWARD_RESEND_API_KEY", "re_x", "KEYWARD_RESEND_API_URL", "api.resend.com"}, "KEYWARD_RESEND_API_URL"},
	}
	for _, c := range cases {
		_, err := bootstrap.LoadConfig(env(c.env...))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to name %s", c.env, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: the error shows the password: %v", c.env, err)
		}
	}
	for _, ok := range [][]string{
		{},
		{"KEYWARD_MAILER", "smtp", "KEYWARD_SMTP_URL", "smtps://u:p@mail.example:465"},
		{"KEYWARD_MAILER", "resend", "KEYWARD_RESEND_API_KEY", "re_x"},
	} {
		c, err := bootstrap.LoadConfig(env(ok...))
		if err != nil {
			t.Errorf("%q: %v", ok, err)
		}
		if len(ok) > 0 && c.Mail.Mailer != ok[1] {
			t.Errorf("%q: mailer %q", ok, c.Mail.Mailer)
		}
	}
}

func TestMailSecretsAreMasked(t *testing.T) {
	t.Parallel()
	lookup := env("KEYWARD_MAILER", "smtp", "KEYWARD_SMTP_URL", "smtp://shop:hunter2@mail.example:587", "KEYWARD_RESEND_API_KEY", "re_topsecret")
	c, err := bootstrap.LoadConfig(lookup)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range bootstrap.Settings(c, lookup) {
		if strings.Contains(s.Value, "hunter2") || strings.Contains(s.Value, "re_topsecret") {
			t.Errorf("%s shows a secret: %s", s.Name, s.Value)
		}
	}
}

func TestMailGraphs(t *testing.T) {
	t.Parallel()
	for name, mod := range map[string]func(*bootstrap.Config){
		"smtp": func(c *bootstrap.Config) { c.Mail.Mailer, c.Mail.SMTPURL = "smtp", "smtp://mail.example" },
		"smtp, postgres": func(c *bootstrap.Config) {
			c.Mail.Mailer, c.Mail.SMTPURL, c.DatabaseURL = "smtp", "smtp://mail.example", "postgres://localhost/x"
		},
		"resend":            func(c *bootstrap.Config) { c.Mail.Mailer, c.Mail.ResendAPIKey = "resend", "re_x" },
		"maildir, postgres": func(c *bootstrap.Config) { c.DatabaseURL = "postgres://localhost/x" },
	} {
		cfg := bootstrap.Defaults()
		mod(&cfg)
		if err := fx.ValidateApp(bootstrap.Options(cfg)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// waitMails polls the mail directory until n emails went to addr.
func waitMails(h *harness, addr string, n int) []maildir.Message {
	h.t.Helper()
	var ms []maildir.Message
	testkit.EventuallyWith(h.t, 15*time.Second, func() string { return fmt.Sprintf("%d emails to %s, want %d", len(ms), addr, n) },
		func() bool {
			ms = h.allMailsTo(addr)
			return len(ms) >= n
		})
	return ms
}

// TestCustomerNotifications: placing an order emails the payment
// instructions; paying it delivers the keys at once, whose email stands
// for the payment's confirmation; one email each, in the embedded default
// (maildir) configuration.
func TestCustomerNotifications(t *testing.T) {
	t.Parallel()
	notificationFlow(t, start(t, nil))
}

// TestCustomerNotificationsPostgres: on Postgres the notifications consume
// as a group of their own, so fulfilment still gets every order.paid.
func TestCustomerNotificationsPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	notificationFlow(t, start(t, withPostgres(url)))
}

func notificationFlow(t *testing.T, h *harness) {
	const email = "notify@example.com"
	sku := h.firstSKU(func(p product) bool { return p.InStock })
	o := h.placeOrder(email, line(sku.SKU, 1))
	ms := waitMails(h, email, 1)
	if !strings.Contains(ms[0].Subject, "received") || !strings.Contains(ms[0].Text, o.Payment.PayAddress) ||
		!strings.Contains(ms[0].Text, o.Payment.PayAmount+" "+strings.ToUpper(o.Payment.PayCurrency)) {
		t.Fatalf("first email %q:\n%s", ms[0].Subject, ms[0].Text)
	}
	h.pay(o)
	h.waitStatus(o, "delivered", 15*time.Second)
	// The handling of order.paid done, a confirmation it sent wrongly
	// after the delivery would be among the emails counted.
	testkit.Eventually(t, 15*time.Second, "order.paid's handling acknowledged", func() bool {
		_, left, err := h.pipeline.unacknowledged(t.Context())
		return err == nil && left == 0
	})
	ms = waitMails(h, email, 2)
	subjects := map[string]int{}
	for _, m := range ms {
		subjects[m.Subject]++
	}
	// Delivered at once: the keys-ready email stands for the payment's
	// confirmation (application.FulfilPaid).
	want := map[string]int{
		"Order " + o.ID + " received: how to pay": 1,
		"Your keys are ready":                     1,
	}
	for s, n := range want {
		if subjects[s] != n {
			t.Errorf("%d emails %q, want %d (all: %v)", subjects[s], s, n, subjects)
		}
	}
	if len(ms) != 2 {
		t.Errorf("%d emails, want 2: %v", len(ms), subjects)
	}
}

// TestSMTPEndToEnd runs keyward with KEYWARD_MAILER=smtp against an SMTP
// server started here: /readyz greets it, and the order's emails arrive.
func TestSMTPEndToEnd(t *testing.T) {
	t.Parallel()
	inbox := make(chan []byte, 16)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &smtpSession{inbox: inbox}, nil }))
	srv.Domain = "mx.test"
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close(); _ = l.Close(); <-done })

	h := start(t, func(c *bootstrap.Config) {
		c.Mail.Mailer, c.Mail.SMTPURL, c.MailFrom = "smtp", "smtp://"+l.Addr().String(), "Shop <keys@shop.example>"
	})
	var ready struct {
		Components []struct{ Name, Status string } `json:"components"`
	}
	if code, _, raw := h.do("GET", "/readyz", nil, nil, &ready); code != 200 || !strings.Contains(string(raw), `"mailer"`) {
		t.Fatalf("readyz: %d %s", code, raw)
	}
	o := h.placeOrder("smtp@example.com", line(h.firstSKU(func(p product) bool { return p.InStock }).SKU, 1))
	h.pay(o)
	h.waitStatus(o, "delivered", 15*time.Second)
	subjects := map[string]bool{}
	for len(subjects) < 2 { // how to pay, keys ready (delivered at once: no payment confirmation)
		select {
		case raw := <-inbox:
			msg, err := mail.ReadMessage(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			s, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if subjects[s] {
				t.Fatalf("email %q twice", s)
			}
			subjects[s] = true
			if s == "Your keys are ready" {
				body, _ := io.ReadAll(msg.Body)
				if !strings.Contains(string(body), "/deliver/") {
					t.Errorf("keys email without a link:\n%s", body)
				}
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("emails so far: %v", subjects)
		}
	}
	if !subjects["Your keys are ready"] {
		t.Fatalf("emails %v, want the payment instructions and the keys-ready email (no payment confirmation)", subjects)
	}
	if !subjects["Your keys are ready"] || !subjects["Order "+o.ID+" received: how to pay"] {
		t.Fatalf("emails %v, want how to pay and keys ready", subjects)
	}

	// The server goes away: readiness says so.
	_ = srv.Close()
	<-done
	if code, _, raw := h.do("GET", "/readyz", nil, nil, nil); code == 200 {
		t.Fatalf("readyz with the SMTP server gone: %d %s", code, raw)
	}
}

type smtpSession struct{ inbox chan []byte }

func (s *smtpSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *smtpSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err == nil {
		s.inbox <- b
	}
	return err
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }
