package application_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
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

// requestAccess asks for a sign-in link to email and answers the request
// as the worker does when its event arrives.
func requestAccess(t *testing.T, w *world, app application.App, email string) error {
	t.Helper()
	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), email); err != nil {
		return err
	}
	return answerAccessRequests(t, w, app)
}

// answerAccessRequests hands the access requests' events published so far
// to SendCustomerSignIn, once each.
func answerAccessRequests(t *testing.T, w *world, app application.App) error {
	t.Helper()
	w.events.mu.Lock()
	var todo []domain.OrderEvent
	kept := w.events.events[:0]
	for _, ev := range w.events.events {
		if oe, ok := ev.(domain.OrderEvent); ok && oe.Name == domain.EventCustomerAccessRequested {
			todo = append(todo, oe)
			continue
		}
		kept = append(kept, ev)
	}
	w.events.events = kept
	w.events.mu.Unlock()
	for _, ev := range todo {
		if err := app.Commands.SendCustomerSignIn.Handle(t.Context(), ev); err != nil {
			return err
		}
	}
	return nil
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

	if err := requestAccess(t, w, app, "BUYER@example.com"); err != nil {
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
	for _, a := range []string{application.AuditCustomerAccessRequested, application.AuditCustomerSignInIssued, application.AuditCustomerSignedIn, application.AuditDeliveryResent} {
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
	if err := requestAccess(t, w, w.app(), "stranger@example.com"); err != nil {
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

// readCounter counts the orders read through it.
type readCounter struct {
	ports.OrderRepository
	mu    sync.Mutex
	reads int
}

func (c *readCounter) List(ctx context.Context, q ports.OrderQuery) ([]*domain.Order, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.OrderRepository.List(ctx, q)
}

func (c *readCounter) Get(ctx context.Context, id string) (*domain.Order, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.OrderRepository.Get(ctx, id)
}

// TestCustomerAccessRequestIsAlikeForEveryAddress: asking for a sign-in
// link does the same work for an address with orders as for one without
// (no order read, no link, no email; one request event and one audit
// record), so that neither its answer nor its time tells them apart; the
// worker that answers the event mails the address with orders, once even
// when the event comes twice, and nobody else.
func TestCustomerAccessRequestIsAlikeForEveryAddress(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	deliveredToken(t, w)
	orders := &readCounter{OrderRepository: w.orders}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Orders = orders })

	type trace struct{ reads, mails, events, audits int }
	var traces []trace
	for _, addr := range []string{"buyer@example.com", "stranger@example.com"} {
		mails, audits := sentCount(w), auditCount(t, w, application.AuditCustomerAccessRequested)
		orders.mu.Lock()
		orders.reads = 0
		orders.mu.Unlock()
		if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), addr); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		w.events.mu.Lock()
		events := 0
		for _, ev := range w.events.events {
			if ev.EventName() == domain.EventCustomerAccessRequested {
				events++
			}
		}
		w.events.mu.Unlock()
		orders.mu.Lock()
		tr := trace{reads: orders.reads, mails: sentCount(w) - mails, events: events, audits: auditCount(t, w, application.AuditCustomerAccessRequested) - audits}
		orders.mu.Unlock()
		traces = append(traces, tr)
		if tr != (trace{events: 1, audits: 1}) {
			t.Errorf("request for %s did %+v, want one event and one audit record only", addr, tr)
		}
		if err := answerAccessRequests(t, w, app); err != nil {
			t.Fatal(err)
		}
	}
	if traces[0] != traces[1] {
		t.Errorf("the request's work differs by address: %+v vs %+v", traces[0], traces[1])
	}
	var signIns []string
	w.mail.mu.Lock()
	for _, m := range w.mail.sent {
		if m.Template == "customer_sign_in" {
			signIns = append(signIns, m.To)
		}
	}
	w.mail.mu.Unlock()
	if len(signIns) != 1 || signIns[0] != "buyer@example.com" {
		t.Fatalf("sign-in emails to %v, want the buyer only", signIns)
	}
}

func auditCount(t *testing.T, w *world, action string) int {
	t.Helper()
	recs, err := w.audit.List(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == action {
			n++
		}
	}
	return n
}

// TestCustomerSignInWorkerIsIdempotent: the request's event handled twice
// issues one link and sends one email with one idempotency key; an event
// older than a link lives is dropped.
func TestCustomerSignInWorkerIsIdempotent(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	deliveredToken(t, w)
	app := w.app()
	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), "buyer@example.com"); err != nil {
		t.Fatal(err)
	}
	w.events.mu.Lock()
	var ev domain.OrderEvent
	for _, e := range w.events.events {
		if oe, ok := e.(domain.OrderEvent); ok && oe.Name == domain.EventCustomerAccessRequested {
			ev = oe
		}
	}
	w.events.mu.Unlock()
	before := sentCount(w)
	for range 2 {
		if err := app.Commands.SendCustomerSignIn.Handle(t.Context(), ev); err != nil {
			t.Fatal(err)
		}
	}
	w.mail.mu.Lock()
	keys := map[string]bool{}
	for _, m := range w.mail.sent[before:] {
		keys[m.IdempotencyKey] = true
	}
	w.mail.mu.Unlock()
	if len(keys) != 1 || auditCount(t, w, application.AuditCustomerSignInIssued) != 1 {
		t.Fatalf("two runs: idempotency keys %v, %d links issued; want one of each", keys, auditCount(t, w, application.AuditCustomerSignInIssued))
	}
	token := linkIn(t, w, "customer_sign_in", "/account/")
	if _, err := app.Commands.SignInCustomer.Handle(t.Context(), token); err != nil {
		t.Fatalf("the link signs in: %v", err)
	}

	if err := app.Commands.RequestCustomerAccess.Handle(t.Context(), "buyer@example.com"); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(30 * time.Minute)
	before = sentCount(w)
	if err := answerAccessRequests(t, w, app); err != nil || sentCount(w) != before {
		t.Fatalf("a request older than a link lives was answered: %v, %d emails", err, sentCount(w)-before)
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
	if err := requestAccess(t, w, app, "buyer@example.com"); err != nil {
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
	if err := requestAccess(t, w, app, "buyer@example.com"); err != nil {
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
	if err := requestAccess(t, w, app, "buyer@example.com"); err != nil {
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
