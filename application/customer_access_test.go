package application_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// linkIn returns the token after path in the newest email of the template.
func linkIn(t *testing.T, w *world, template, path string) string {
	t.Helper()
	w.mail.mu.Lock()
	defer w.mail.mu.Unlock()
	for i := len(w.mail.sent) - 1; i >= 0; i-- {
		if m := w.mail.sent[i]; m.Template == template {
			j := strings.Index(m.Text, path)
			if j < 0 {
				t.Fatalf("%s email has no %s link:\n%s", template, path, m.Text)
			}
			return strings.Fields(m.Text[j+len(path):])[0]
		}
	}
	t.Fatalf("no %s email", template)
	return ""
}

func sentCount(w *world) int {
	w.mail.mu.Lock()
	defer w.mail.mu.Unlock()
	return len(w.mail.sent)
}

// TestCustomerFindsTheirOrdersAgain: an address with orders gets a
// sign-in link that works once; its access token lists the address's
// orders (never a key) and has a new delivery link sent that revokes the
// old one; each step is audited by id, not by address.
func TestCustomerFindsTheirOrdersAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, oldToken := deliveredToken(t, w)
	app := w.app()

	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), "BUYER@example.com"); err != nil {
		t.Fatal(err)
	}
	w.mail.mu.Lock()
	m := w.mail.sent[len(w.mail.sent)-1]
	w.mail.mu.Unlock()
	if m.Template != "customer_sign_in" || m.To != "buyer@example.com" || !strings.Contains(m.Text, o.ID()) || !strings.Contains(m.Text, "https://keys.example/account/") {
		t.Fatalf("sign-in email %+v", m)
	}
	token := linkIn(t, w, "customer_sign_in", "/account/")

	s, err := app.Commands.SignInCustomer.Handle(t.Context(), token)
	if err != nil {
		t.Fatal(err)
	}
	if !s.ExpiresAt.After(w.clock.Now()) || s.ExpiresAt.After(w.clock.Now().Add(30*time.Minute)) || s.AccessToken == "" {
		t.Fatalf("session %+v", s)
	}
	if _, err := app.Commands.SignInCustomer.Handle(t.Context(), token); !errors.Is(err, domain.ErrSignInLinkInvalid) {
		t.Fatalf("second sign-in with the link = %v, want ErrSignInLinkInvalid", err)
	}

	orders, err := app.Queries.CustomerOrders.Handle(t.Context(), s.AccessToken)
	if err != nil || len(orders) != 1 || orders[0].Order.ID() != o.ID() || orders[0].RevealsLeft != 3 {
		t.Fatalf("orders = %+v, %v; want %s with 3 reveals left", orders, err, o.ID())
	}

	link, err := app.Commands.ResendCustomerLink.Handle(t.Context(), s.AccessToken, o.ID())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: oldToken}); !errors.Is(err, domain.ErrLinkRevoked) {
		t.Fatalf("old link reveals: %v, want revoked", err)
	}
	newToken := linkIn(t, w, "keys_ready", "/deliver/")
	rv, err := w.reveal().Handle(t.Context(), application.RevealCommand{Token: newToken})
	if err != nil || rv.Link.ID() != link.ID() {
		t.Fatalf("new link: %v", err)
	}

	recs, _ := w.audit.List(t.Context(), 0, 1000)
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r.Action] = true
		if strings.HasPrefix(r.Action, "customer.") && strings.Contains(strings.ToLower(r.Subject), "buyer@") {
			t.Errorf("%s names the address in its subject: %q", r.Action, r.Subject)
		}
		if r.Action == application.AuditDeliveryResent && r.Details["via"] != "customer_account" {
			t.Errorf("resend audited without its origin: %v", r.Details)
		}
	}
	for _, a := range []string{application.AuditCustomerAccessRequested, application.AuditCustomerSignedIn, application.AuditDeliveryResent} {
		if !seen[a] {
			t.Errorf("no %s record", a)
		}
	}
}

// TestCustomerAccessTellsNothing: an address without orders gets no email
// and the same answer as one with orders; a malformed address is refused.
func TestCustomerAccessTellsNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	deliveredToken(t, w)
	before := sentCount(w)
	if err := w.app().Commands.RequestCustomerAccess.Handle(t.Context(), "stranger@example.com"); err != nil {
		t.Fatalf("unknown address: %v, want the same nil as a known one", err)
	}
	if sentCount(w) != before {
		t.Fatal("an address without orders was mailed")
	}
	for _, bad := range []string{"not-an-address", "a@example.com\r\nBcc: victim@example.com", "Name <a@example.com>"} {
		if err := w.app().Commands.RequestCustomerAccess.Handle(t.Context(), bad); !errors.Is(err, domain.ErrInvalidEmail) {
			t.Errorf("%q: %v, want ErrInvalidEmail", bad, err)
		}
	}
}

// TestCustomerSessionBounds: a sign-in link expires, an access token
// expires and cannot be forged or stretched, and an order of another
// address is not found through it.
func TestCustomerSessionBounds(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, _ := deliveredToken(t, w)
	app := w.app()
	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), "buyer@example.com"); err != nil {
		t.Fatal(err)
	}
	expired := linkIn(t, w, "customer_sign_in", "/account/")
	w.clock.Advance(30 * time.Minute)
	if _, err := app.Commands.SignInCustomer.Handle(t.Context(), expired); !errors.Is(err, domain.ErrSignInLinkInvalid) {
		t.Fatalf("expired link: %v", err)
	}
	if _, err := app.Commands.SignInCustomer.Handle(t.Context(), "unknown-token"); !errors.Is(err, domain.ErrSignInLinkInvalid) {
		t.Fatalf("unknown link: %v", err)
	}
	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), "buyer@example.com"); err != nil {
		t.Fatal(err)
	}
	s, err := app.Commands.SignInCustomer.Handle(t.Context(), linkIn(t, w, "customer_sign_in", "/account/"))
	if err != nil {
		t.Fatal(err)
	}
	forged := s.AccessToken[:len(s.AccessToken)-2] + "AA"
	if strings.HasSuffix(s.AccessToken, "AA") {
		forged = s.AccessToken[:len(s.AccessToken)-2] + "BB"
	}
	for _, tok := range []string{forged, "", "cs1.", "cs1.x.y", strings.Replace(s.AccessToken, "cs1.", "cs2.", 1)} {
		if _, err := app.Queries.CustomerOrders.Handle(t.Context(), tok); !errors.Is(err, domain.ErrCustomerSessionInvalid) {
			t.Errorf("token %q: %v, want ErrCustomerSessionInvalid", tok, err)
		}
	}
	other := w.app(func(_ *application.Deps, st *application.Settings) {
		st.TokenSecret = []byte("another-secret-0123456789")
	})
	if _, err := other.Queries.CustomerOrders.Handle(t.Context(), s.AccessToken); !errors.Is(err, domain.ErrCustomerSessionInvalid) {
		t.Errorf("a token signed under another secret: %v", err)
	}

	placed, err := app.Commands.PlaceOrder.Handle(t.Context(), application.PlaceOrderCommand{Email: "someone.else@example.com",
		Lines: []application.PlaceOrderLine{{SKU: o.Items()[0].SKU(), Quantity: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Commands.ResendCustomerLink.Handle(t.Context(), s.AccessToken, placed.Order.ID()); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("another address's order: %v, want ErrNotFound", err)
	}
	if orders, _ := app.Queries.CustomerOrders.Handle(t.Context(), s.AccessToken); len(orders) != 1 {
		t.Fatalf("%d orders listed, want only the address's one", len(orders))
	}

	w.clock.Set(s.ExpiresAt)
	if _, err := app.Queries.CustomerOrders.Handle(t.Context(), s.AccessToken); !errors.Is(err, domain.ErrCustomerSessionInvalid) {
		t.Fatalf("expired token: %v", err)
	}
}

// TestSweepDeletesLongExpiredSignInLinks: a sign-in link expired longer
// than the link retention is deleted by the sweep, like delivery links.
func TestSweepDeletesLongExpiredSignInLinks(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	deliveredToken(t, w)
	app := w.app()
	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), "buyer@example.com"); err != nil {
		t.Fatal(err)
	}
	token := linkIn(t, w, "customer_sign_in", "/account/")
	w.clock.Advance(30*time.Minute + 29*24*time.Hour)
	if _, err := app.Commands.Sweep.Handle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.customerLinks.GetByTokenHash(t.Context(), domain.HashToken(token)); err != nil {
		t.Fatalf("a link expired less than the retention is gone: %v", err)
	}
	w.clock.Advance(24*time.Hour + time.Second)
	if _, err := app.Commands.Sweep.Handle(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.customerLinks.GetByTokenHash(t.Context(), domain.HashToken(token)); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("a link expired longer than the retention is kept: %v", err)
	}
}
