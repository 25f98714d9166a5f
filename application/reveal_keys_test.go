package application_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// deliveredToken fulfils and delivers a paid order and returns its token.
func deliveredToken(t *testing.T, w *world) (*domain.Order, string) {
	t.Helper()
	o := w.fulfilledOrder(t)
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	body := w.mail.sent[len(w.mail.sent)-1].Text
	i := strings.Index(body, "/deliver/")
	return o, strings.Fields(body[i+len("/deliver/"):])[0]
}

func TestRevealCleansClientText(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	ua := "Mozilla\xff\x00/5.0\n" + strings.Repeat("é", 600)
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token, IP: "192.0.2.7", UserAgent: ua}); err != nil {
		t.Fatal(err)
	}
	revs, _ := w.revs.ListByOrder(t.Context(), o.ID())
	got := revs[0].Access().UserAgent
	if !utf8.ValidString(got) || strings.ContainsAny(got, "\x00\n") || len(got) > 512 || !strings.HasPrefix(got, "Mozilla") {
		t.Fatalf("stored user agent %q", got)
	}
}

// brokenRevelations fails every append.
type brokenRevelations struct{ *world }

func (b brokenRevelations) Append(context.Context, ...domain.KeyRevelation) error {
	return errors.New("disk full")
}

func (b brokenRevelations) ListByOrder(ctx context.Context, id string) ([]domain.KeyRevelation, error) {
	return b.revs.ListByOrder(ctx, id)
}

// TestFailedRevealIsGivenBack: when the revelation cannot be recorded the
// keys are not shown and the reveal is not used up.
func TestFailedRevealIsGivenBack(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, token := deliveredToken(t, w)
	broken := w.app(func(d *application.Deps, _ *application.Settings) { d.Revelations = brokenRevelations{w} }).Commands.RevealKeys
	if _, err := broken.Handle(t.Context(), application.RevealCommand{Token: token}); err == nil {
		t.Fatal("reveal succeeded without a revelation record")
	}
	rv, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if rv.Link.RevealsUsed() != 1 || !rv.First {
		t.Fatalf("the failed reveal was charged: used %d, first %v", rv.Link.RevealsUsed(), rv.First)
	}
	w.clock.Advance(16 * time.Minute)
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: token}); !errors.Is(err, domain.ErrLinkExpired) {
		t.Fatalf("after expiry: %v", err)
	}
}
