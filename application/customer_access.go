package application

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Audit actions of a customer's access to their orders. Their subject is
// the sign-in link's id, never the address: the link's row names it for
// whoever may read it.
const (
	AuditCustomerAccessRequested = "customer.access_requested"
	AuditCustomerSignedIn        = "customer.signed_in"
)

// CustomerAccessPolicy configures how customers sign in to their orders.
type CustomerAccessPolicy struct {
	LinkTTL    time.Duration // how long a sign-in link works; default 30 minutes
	SessionTTL time.Duration // how long an access token reads the orders; default 30 minutes
	// MaxOrders bounds the orders a customer sees, newest first; default 50.
	MaxOrders int
}

func (p CustomerAccessPolicy) withDefaults() CustomerAccessPolicy {
	if p.LinkTTL <= 0 {
		p.LinkTTL = 30 * time.Minute
	}
	if p.SessionTTL <= 0 {
		p.SessionTTL = 30 * time.Minute
	}
	if p.MaxOrders <= 0 {
		p.MaxOrders = 50
	}
	return p
}

// CustomerSession is a signed-in customer's access token: bound to one
// address, good until ExpiresAt.
type CustomerSession struct {
	AccessToken string
	ExpiresAt   time.Time
	Email       domain.Email
	LinkID      string // the sign-in link it came from
}

// customerSessions signs and checks access tokens. A token is
// "cs1.<payload>.<mac>": the payload (base64url) holds the sign-in link's
// id, the expiry (Unix seconds) and the address, the mac (base64url) is
// HMAC-SHA256 of it under the server's token secret, labelled apart from
// order access tokens. Nothing is stored: a token cannot be revoked on its
// own, so it lives briefly; changing the secret ends every one.
type customerSessions struct {
	secret []byte
	ttl    time.Duration
}

const customerSessionPrefix = "cs1."

func (c customerSessions) mac(payload string) []byte {
	m := hmac.New(sha256.New, c.secret)
	m.Write([]byte("customer-session\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}

func (c customerSessions) issue(link *domain.CustomerLink, now time.Time) CustomerSession {
	exp := now.Add(c.ttl).Truncate(time.Second)
	payload := link.ID() + "\n" + strconv.FormatInt(exp.Unix(), 10) + "\n" + link.Email().String()
	tok := customerSessionPrefix + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(c.mac(payload))
	return CustomerSession{AccessToken: tok, ExpiresAt: exp.UTC(), Email: link.Email(), LinkID: link.ID()}
}

// check returns the session of token, or domain.ErrCustomerSessionInvalid.
func (c customerSessions) check(token string, now time.Time) (CustomerSession, error) {
	rest, ok := strings.CutPrefix(token, customerSessionPrefix)
	p64, m64, ok2 := strings.Cut(rest, ".")
	if !ok || !ok2 || len(token) > 1024 {
		return CustomerSession{}, domain.ErrCustomerSessionInvalid
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	mac, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, c.mac(string(payload))) {
		return CustomerSession{}, domain.ErrCustomerSessionInvalid
	}
	parts := strings.SplitN(string(payload), "\n", 3)
	if len(parts) != 3 {
		return CustomerSession{}, domain.ErrCustomerSessionInvalid
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	email, eerr := domain.ParseEmail(parts[2])
	if err != nil || eerr != nil {
		return CustomerSession{}, domain.ErrCustomerSessionInvalid
	}
	exp := time.Unix(unix, 0).UTC()
	if !now.Before(exp) {
		return CustomerSession{}, fmt.Errorf("%w: expired", domain.ErrCustomerSessionInvalid)
	}
	return CustomerSession{AccessToken: token, ExpiresAt: exp, Email: email, LinkID: parts[0]}, nil
}

// RequestCustomerAccess emails a sign-in link to an address that has
// orders. Whether it has any is never told: the caller answers alike, and
// an address without orders gets no email (keyward does not mail strangers
// on anyone's request).
type RequestCustomerAccess struct {
	tx     ports.Transactor
	orders ports.OrderRepository
	links  ports.CustomerLinkRepository
	mailer ports.Mailer
	audit  ports.AuditLog
	clock  ports.Clock
	ids    ports.IDs
	policy CustomerAccessPolicy
	base   string
	log    *slog.Logger
}

// NewRequestCustomerAccess wires RequestCustomerAccess; it panics when a
// dependency is nil.
func NewRequestCustomerAccess(tx ports.Transactor, orders ports.OrderRepository, links ports.CustomerLinkRepository, mailer ports.Mailer, audit ports.AuditLog,
	clock ports.Clock, ids ports.IDs, policy CustomerAccessPolicy, publicBaseURL string, log *slog.Logger) RequestCustomerAccess {
	require("RequestCustomerAccess", "tx", tx, "orders", orders, "customerLinks", links, "mailer", mailer, "audit", audit, "clock", clock, "ids", ids, "log", log)
	return RequestCustomerAccess{tx: tx, orders: orders, links: links, mailer: mailer, audit: audit, clock: clock, ids: ids,
		policy: policy.withDefaults(), base: strings.TrimRight(publicBaseURL, "/"), log: log}
}

// Handle returns domain.ErrInvalidEmail for a malformed address and an
// error when storage cannot tell whether the address has orders. A mail
// service that fails is logged, not returned: the answer must not differ
// for an address with orders.
func (h RequestCustomerAccess) Handle(ctx context.Context, email string) error {
	addr, err := domain.ParseEmail(email)
	if err != nil {
		return err
	}
	latest, err := h.orders.List(ctx, ports.OrderQuery{Email: addr.String(), Limit: 1})
	if err != nil {
		return fmt.Errorf("orders of the address: %w", err)
	}
	if len(latest) == 0 {
		return nil
	}
	// The link goes to the address as the orders have it, not as typed:
	// keyward mails only an address an order was placed with.
	addr = latest[0].Email()
	token := newToken()
	link, err := domain.NewCustomerLink(h.ids.NewID(), addr, domain.HashToken(token), h.clock.Now(), h.policy.LinkTTL)
	if err != nil {
		return err
	}
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := h.links.Create(ctx, link); err != nil {
			return fmt.Errorf("store sign-in link: %w", err)
		}
		if _, err := h.audit.Append(ctx, ActorCustomer, AuditCustomerAccessRequested, link.ID(),
			map[string]string{"expires_at": link.ExpiresAt().UTC().Format(time.RFC3339)}); err != nil {
			return fmt.Errorf("audit sign-in link: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d := newEmailData(latest[0]).withLink(h.base+"/account/"+token, link.ExpiresAt())
	m, err := emailCustomerSignIn.render(addr.String(), "customer-link/"+link.ID(), d)
	if err != nil {
		return err
	}
	if _, err := h.mailer.Send(ctx, m); err != nil {
		// Never the address: the link's id finds it.
		h.log.ErrorContext(ctx, "sign-in email not sent", "customer_link_id", link.ID(), "err", err)
	}
	return nil
}

// SignInCustomer exchanges a sign-in link's token, once, for an access
// token to the address's orders.
type SignInCustomer struct {
	tx       ports.Transactor
	links    ports.CustomerLinkRepository
	audit    ports.AuditLog
	clock    ports.Clock
	sessions customerSessions
}

// NewSignInCustomer wires SignInCustomer; it panics when a dependency is nil
// or the secret empty.
func NewSignInCustomer(tx ports.Transactor, links ports.CustomerLinkRepository, audit ports.AuditLog, clock ports.Clock, policy CustomerAccessPolicy, secret []byte) SignInCustomer {
	require("SignInCustomer", "tx", tx, "customerLinks", links, "audit", audit, "clock", clock)
	if len(secret) == 0 {
		panic("SignInCustomer: no token secret")
	}
	return SignInCustomer{tx: tx, links: links, audit: audit, clock: clock, sessions: customerSessions{secret: secret, ttl: policy.withDefaults().SessionTTL}}
}

// Handle returns domain.ErrSignInLinkInvalid for a token that is unknown,
// expired or used.
func (h SignInCustomer) Handle(ctx context.Context, token string) (CustomerSession, error) {
	l, err := h.links.GetByTokenHash(ctx, domain.HashToken(token))
	if errors.Is(err, domain.ErrNotFound) {
		return CustomerSession{}, domain.ErrSignInLinkInvalid
	}
	if err != nil {
		return CustomerSession{}, err
	}
	now := h.clock.Now()
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		if l, err = h.links.Update(ctx, l.ID(), func(l *domain.CustomerLink) error { return l.Use(now) }); err != nil {
			return err
		}
		if _, err := h.audit.Append(ctx, ActorCustomer, AuditCustomerSignedIn, l.ID(), nil); err != nil {
			return fmt.Errorf("audit sign-in: %w", err)
		}
		return nil
	})
	if err != nil {
		return CustomerSession{}, err
	}
	return h.sessions.issue(l, now), nil
}

// CustomerOrder is one of a customer's orders as they see it: the order
// (never its keys) and how many reveals its delivery links have left.
type CustomerOrder struct {
	Order       *domain.Order
	RevealsLeft int
}

// ListCustomerOrders returns a signed-in customer's orders.
type ListCustomerOrders struct {
	orders   ports.OrderRepository
	links    ports.DeliveryLinkRepository
	clock    ports.Clock
	sessions customerSessions
	max      int
}

// NewListCustomerOrders wires ListCustomerOrders; it panics when a
// dependency is nil or the secret empty.
func NewListCustomerOrders(orders ports.OrderRepository, links ports.DeliveryLinkRepository, clock ports.Clock, policy CustomerAccessPolicy, secret []byte) ListCustomerOrders {
	require("ListCustomerOrders", "orders", orders, "links", links, "clock", clock)
	if len(secret) == 0 {
		panic("ListCustomerOrders: no token secret")
	}
	p := policy.withDefaults()
	return ListCustomerOrders{orders: orders, links: links, clock: clock, sessions: customerSessions{secret: secret, ttl: p.SessionTTL}, max: p.MaxOrders}
}

// Handle returns the orders of the access token's address, newest first;
// domain.ErrCustomerSessionInvalid for a token that is not good.
func (h ListCustomerOrders) Handle(ctx context.Context, accessToken string) ([]CustomerOrder, error) {
	now := h.clock.Now()
	s, err := h.sessions.check(accessToken, now)
	if err != nil {
		return nil, err
	}
	os, err := h.orders.List(ctx, ports.OrderQuery{Email: s.Email.String(), Limit: h.max})
	if err != nil {
		return nil, fmt.Errorf("orders of the session: %w", err)
	}
	out := make([]CustomerOrder, 0, len(os))
	for _, o := range os {
		ls, err := h.links.ListByOrder(ctx, o.ID())
		if err != nil {
			return nil, fmt.Errorf("links of order %s: %w", o.ID(), err)
		}
		left := 0
		for _, l := range ls {
			if l.CanReveal(now) == nil {
				left += l.RevealsLeft()
			}
		}
		out = append(out, CustomerOrder{Order: o, RevealsLeft: left})
	}
	return out, nil
}

// ResendCustomerLink sends a signed-in customer a new delivery link for one
// of their orders: ResendDeliveryLink, with its rules and limits, for an
// order of the session's address.
type ResendCustomerLink struct {
	orders   ports.OrderRepository
	resend   ResendDeliveryLink
	clock    ports.Clock
	sessions customerSessions
}

// NewResendCustomerLink wires ResendCustomerLink; it panics when a
// dependency is nil or the secret empty.
func NewResendCustomerLink(orders ports.OrderRepository, resend ResendDeliveryLink, clock ports.Clock, policy CustomerAccessPolicy, secret []byte) ResendCustomerLink {
	require("ResendCustomerLink", "orders", orders, "clock", clock)
	if len(secret) == 0 {
		panic("ResendCustomerLink: no token secret")
	}
	return ResendCustomerLink{orders: orders, resend: resend, clock: clock, sessions: customerSessions{secret: secret, ttl: policy.withDefaults().SessionTTL}}
}

// Handle returns domain.ErrCustomerSessionInvalid for a token that is not
// good, domain.ErrNotFound for an order of another address, and
// ResendDeliveryLink's errors.
func (h ResendCustomerLink) Handle(ctx context.Context, accessToken, orderID string) (*domain.DeliveryLink, error) {
	s, err := h.sessions.check(accessToken, h.clock.Now())
	if err != nil {
		return nil, err
	}
	o, err := h.orders.Get(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(o.Email().String(), s.Email.String()) {
		return nil, fmt.Errorf("%w: order %s", domain.ErrNotFound, orderID)
	}
	return h.resend.resend(ctx, o, ActorCustomer, map[string]string{"via": "customer_account", "customer_link_id": s.LinkID})
}
