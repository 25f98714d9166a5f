package bootstrap

import (
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/adapters/memory"
	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/resend"
	"github.com/keyward/keyward/adapters/smtp"
	"github.com/keyward/keyward/ports"
)

// MailConfig chooses the mailer (KEYWARD_MAIL_DIR and KEYWARD_MAIL_FROM are
// in Config).
type MailConfig struct {
	Mailer       string `env:"KEYWARD_MAILER" envDefault:"maildir" doc:"\x60maildir\x60 (\x60.eml\x60 files in \x60KEYWARD_MAIL_DIR\x60), \x60smtp\x60 or \x60resend\x60"`
	SMTPURL      string `env:"KEYWARD_SMTP_URL" secret:"url" doc:"with \x60KEYWARD_MAILER=smtp\x60: \x60smtp://user:pass@host:587\x60 (STARTTLS when offered; the password is sent only over TLS) or \x60smtps://user:pass@host:465\x60 (implicit TLS); percent-encode special characters in user and password"`
	ResendAPIURL string `env:"KEYWARD_RESEND_API_URL" envDefault:"https://api.resend.com" secret:"url" doc:"Resend API, with \x60KEYWARD_MAILER=resend\x60"`
	ResendAPIKey string `env:"KEYWARD_RESEND_API_KEY" secret:"true" doc:"Resend API key (\x60re_...\x60; a sending-access key is enough), with \x60KEYWARD_MAILER=resend\x60"`
}

// Validate checks the chosen mailer has what it needs; the error names
// the variable to set.
func (m MailConfig) Validate(from string) error {
	switch m.Mailer {
	case "maildir":
		return nil
	case "smtp":
		if m.SMTPURL == "" {
			return fmt.Errorf("KEYWARD_MAILER=smtp needs KEYWARD_SMTP_URL (smtp://user:pass@host:587 or smtps://user:pass@host:465)")
		}
		u, err := url.Parse(m.SMTPURL)
		if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			return fmt.Errorf("KEYWARD_SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465") // never echo it: it holds the password
		}
	case "resend":
		if strings.TrimSpace(m.ResendAPIKey) == "" {
			return fmt.Errorf("KEYWARD_MAILER=resend needs KEYWARD_RESEND_API_KEY")
		}
		if err := checkBrokerURL("KEYWARD_RESEND_API_URL", m.ResendAPIURL, "https", "http"); err != nil {
			return err // never the URL itself: it may carry credentials
		}
	default:
		return fmt.Errorf("KEYWARD_MAILER must be maildir, smtp or resend, not %q", m.Mailer)
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return fmt.Errorf("KEYWARD_MAIL_FROM %q is not an address: %v", from, err)
	}
	return nil
}

// mailModule returns the module of the configured mailer (the customer
// notifications that use it run with the workers: WorkersModule).
func mailModule(cfg Config) fx.Option {
	switch cfg.Mail.Mailer {
	case "smtp":
		return SMTPModule
	case "resend":
		return ResendModule
	}
	return MaildirModule
}

// MaildirModule writes emails as .eml files into KEYWARD_MAIL_DIR.
var MaildirModule = fx.Module("mail.maildir",
	fx.Provide(
		func(cfg Config) (ports.Mailer, error) {
			m, err := maildir.New(cfg.MailDir, cfg.MailFrom, time.Now)
			if err != nil {
				return nil, fmt.Errorf("mail dir %s: %w", cfg.MailDir, err)
			}
			return m, nil
		},
	),
)

// SMTPModule sends email through KEYWARD_SMTP_URL, remembering what it sent
// in the sent-mail log (Postgres when storage is, else memory).
var SMTPModule = fx.Module("mail.smtp",
	fx.Provide(
		newSentMailLog,
		func(cfg Config, sent ports.SentMailLog, log *slog.Logger) (*smtp.Mailer, error) {
			m, err := smtp.New(smtp.Config{URL: cfg.Mail.SMTPURL, From: cfg.MailFrom, Sent: sent, Log: log.With("component", "smtp")})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_SMTP_URL: %w", err)
			}
			return m, nil
		},
		func(m *smtp.Mailer) ports.Mailer { return m },
		fx.Annotate(func(m *smtp.Mailer) ports.HealthCheck {
			return ports.HealthCheck{Name: "mailer", Check: m.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
)

// ResendModule sends email with the Resend API.
var ResendModule = fx.Module("mail.resend",
	fx.Provide(
		func(cfg Config) (*resend.Mailer, error) {
			m, err := resend.New(resend.Config{APIURL: cfg.Mail.ResendAPIURL, APIKey: cfg.Mail.ResendAPIKey, From: cfg.MailFrom})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_RESEND_API_URL, KEYWARD_RESEND_API_KEY: %w", err)
			}
			return m, nil
		},
		func(m *resend.Mailer) ports.Mailer { return m },
		fx.Annotate(func(m *resend.Mailer) ports.HealthCheck {
			return ports.HealthCheck{Name: "mailer", Check: m.Health}
		}, fx.ResultTags(`group:"health"`)),
	),
)

type sentMailDeps struct {
	fx.In
	DB *sqlx.DB `optional:"true"` // provided with KEYWARD_DATABASE_URL
}

// newSentMailLog keeps the SMTP sent-mail log beside the orders.
func newSentMailLog(d sentMailDeps) ports.SentMailLog {
	if d.DB != nil {
		return postgres.NewSentMail(d.DB)
	}
	return memory.NewSentMail()
}
