package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

func TestDeliveryLinkReveal(t *testing.T) {
	t.Parallel()
	l, err := domain.NewDeliveryLink("l", "o", domain.HashToken("tok"), t0, 15*time.Minute, 2)
	if err != nil {
		t.Fatal(err)
	}
	first, err := l.Reveal(t0.Add(time.Minute))
	if err != nil || !first || l.RevealsLeft() != 1 {
		t.Fatalf("first reveal: %v %v %d", first, err, l.RevealsLeft())
	}
	first, err = l.Reveal(t0.Add(2 * time.Minute))
	if err != nil || first {
		t.Fatalf("second reveal: %v %v", first, err)
	}
	if _, err := l.Reveal(t0.Add(3 * time.Minute)); !errors.Is(err, domain.ErrLinkExhausted) {
		t.Fatalf("third reveal: %v", err)
	}
}

func TestDeliveryLinkRefusals(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		prep func(l *domain.DeliveryLink)
		at   time.Time
		want error
	}{
		{"fresh", func(*domain.DeliveryLink) {}, t0, nil},
		{"one nanosecond before expiry", func(*domain.DeliveryLink) {}, t0.Add(15*time.Minute - 1), nil},
		{"at expiry", func(*domain.DeliveryLink) {}, t0.Add(15 * time.Minute), domain.ErrLinkExpired},
		{"revoked", func(l *domain.DeliveryLink) { l.Revoke(t0) }, t0, domain.ErrLinkRevoked},
		{"revoked and expired", func(l *domain.DeliveryLink) { l.Revoke(t0) }, t0.Add(time.Hour), domain.ErrLinkRevoked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, _ := domain.NewDeliveryLink("l", "o", domain.HashToken("tok"), t0, 15*time.Minute, 1)
			c.prep(l)
			if err := l.CanReveal(c.at); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
				t.Fatalf("CanReveal = %v, want %v", err, c.want)
			}
			if c.want != nil {
				if _, err := l.Reveal(c.at); err == nil || l.RevealsUsed() != 0 {
					t.Fatalf("refused reveal consumed: %v, used %d", err, l.RevealsUsed())
				}
			}
		})
	}
}

func TestNewDeliveryLinkValidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		id, order  string
		ttl        time.Duration
		maxReveals int
		want       error
	}{
		{"valid", "l", "o", time.Minute, 1, nil},
		{"no id", "", "o", time.Minute, 1, domain.ErrInvalidLink},
		{"no order", "l", "", time.Minute, 1, domain.ErrInvalidLink},
		{"zero ttl", "l", "o", 0, 1, domain.ErrInvalidLink},
		{"negative ttl", "l", "o", -time.Second, 1, domain.ErrInvalidLink},
		{"no reveals", "l", "o", time.Minute, 0, domain.ErrInvalidLink},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			l, err := domain.NewDeliveryLink(c.id, c.order, domain.HashToken("t"), t0, c.ttl, c.maxReveals)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if errors.Is(err, domain.ErrInvalidOrder) {
				t.Fatalf("a link error is reported as an order error: %v", err)
			}
			if err == nil && (!l.ExpiresAt().Equal(t0.Add(c.ttl)) || l.RevealsLeft() != c.maxReveals) {
				t.Fatalf("link expires %s with %d reveals", l.ExpiresAt(), l.RevealsLeft())
			}
		})
	}
}

func TestMoneyAndEmail(t *testing.T) {
	t.Parallel()
	for _, bad := range [][2]string{{"1.001", "EUR"}, {"-1", "EUR"}, {"abc", "EUR"}, {"1", "EURO"}, {"1", ""}} {
		if _, err := domain.NewMoney(bad[0], bad[1]); !errors.Is(err, domain.ErrInvalidMoney) {
			t.Errorf("NewMoney(%q,%q) = %v", bad[0], bad[1], err)
		}
	}
	m := domain.MustMoney("19.99", "eur")
	if m.String() != "19.99" || m.Currency().String() != "EUR" || m.Mul(3).String() != "59.97" {
		t.Fatalf("money %s %s %s", m, m.Currency(), m.Mul(3))
	}
	if _, err := m.Add(domain.MustMoney("1", "USD")); !errors.Is(err, domain.ErrInvalidMoney) {
		t.Fatal("added across currencies")
	}
	for _, bad := range []string{"", "a", "a@b", "Bob <a@example.com>", "a@example.com, b@example.com",
		"gnp.exe\u202e@example.com", "a\u202e@example.com", "a\u200b@example.com", "a\u2066b@example.com",
		"a\x00@example.com", "a@exa\rmple.com", "a\xff@example.com"} {
		if _, err := domain.ParseEmail(bad); !errors.Is(err, domain.ErrInvalidEmail) {
			t.Errorf("ParseEmail(%q) = %v", bad, err)
		}
	}
	if e, err := domain.ParseEmail(" a@example.com "); err != nil || e.String() != "a@example.com" {
		t.Fatalf("ParseEmail: %v %v", e, err)
	}
	if e, err := domain.ParseEmail("josé@exämple.com"); err != nil || e.String() != "josé@exämple.com" {
		t.Fatalf("a non-ASCII address (RFC 6532) was refused: %v %v", e, err)
	}
}
