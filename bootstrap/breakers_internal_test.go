package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

// echoingMailer fails as a mail service does that quotes the recipient.
type echoingMailer struct{}

func (echoingMailer) Send(_ context.Context, e ports.Email) (ports.Receipt, error) {
	return ports.Receipt{}, fmt.Errorf("%w: 452 4.2.2 <%s>: mailbox full", ports.ErrMailUnavailable, strings.ToUpper(e.To))
}

// TestOpenMailBreakerNamesNoRecipient: the mail breaker, open after
// failures whose text quoted the customer's address, reports at /readyz
// without that address.
func TestOpenMailBreakerNamesNoRecipient(t *testing.T) {
	t.Parallel()
	b := newBreaker("mail", time.Hour, ports.ErrMailUnavailable, slog.New(slog.DiscardHandler))
	m := breakerMailer{m: echoingMailer{}, b: b}
	for range breakerTrips {
		if _, err := m.Send(t.Context(), ports.Email{To: "buyer@example.com"}); err == nil {
			t.Fatal("the failing mailer's send succeeded")
		}
	}
	err := b.check(t.Context())
	if err == nil {
		t.Fatalf("the breaker is not open after %d failures", breakerTrips)
	}
	if strings.Contains(strings.ToLower(err.Error()), "buyer") {
		t.Fatalf("/readyz names the recipient: %v", err)
	}
}
