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
// the access request's id, which is also its sign-in link's, never the
// address: the rows name it for whoever may read them.
const (
	AuditCustomerAccessRequested = "customer.access_requested"
	AuditCustomerSignInIssued    = "customer.sign_in_issued"
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

// RequestCustomerAccess records a request for a sign-in link. It does the
// same work for every address, with or without orders: one request and its
// event, audited, in one transaction. Whether the address has orders is
// looked at later, by SendCustomerSignIn, which the event reaches through
// the broker: neither the answer, nor its time, nor a failure tells.
type RequestCustomerAccess struct {
	tx       ports.Transactor
	requests ports.CustomerAccessRequests
	audit    ports.AuditLog
	clock    ports.Clock
	ids      ports.IDs
}

// NewRequestCustomerAccess wires RequestCustomerAccess; it panics when a
// dependency is nil.
func NewRequestCustomerAccess(tx ports.Transactor, requests ports.CustomerAccessRequests, audit ports.AuditLog, clock ports.Clock, ids ports.IDs) RequestCustomerAccess {
	require("RequestCustomerAccess", "tx", tx, "accessRequests", requests, "audit", audit, "clock", clock, "ids", ids)
	return RequestCustomerAccess{tx: tx, requests: requests, audit: audit, clock: clock, ids: ids}
}

// Handle returns domain.ErrInvalidEmail for a malformed address and an
// error when the request cannot be stored.
func (h RequestCustomerAccess) Handle(ctx context.Context, email string) error {
	addr, err := domain.ParseEmail(email)
	if err != nil {
		return err
	}
	rq, err := domain.NewCustomerAccessRequest(h.ids.NewID(), addr, h.clock.Now())
	if err != nil {
		return err
	}
	return h.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := h.requests.RequestAccess(ctx, rq); err != nil {
			return fmt.Errorf("store access request: %w", err)
		}
		// The subject is the request's id, never the address.
		if _, err := h.audit.Append(ctx, ActorCustomer, AuditCustomerAccessRequested, rq.ID, nil); err != nil {
			return fmt.Errorf("audit access request: %w", err)
		}
		return nil
	})
}

// SendCustomerSignIn answers an access request (the event
// customer.access_requested): when the address has orders it issues a
// sign-in link, audited, and emails it to the address as the orders have
// it; an address without orders gets nothing (keyward does not mail
// strangers on anyone's request). It runs once or more per request: the
// link's id is the request's and its token is derived from the request's
// id under the server's secret, so a second run stores no second link and
// sends the same email, which the mailer deduplicates by its key.
type SendCustomerSignIn struct {
	tx       ports.Transactor
	requests ports.CustomerAccessRequests
	orders   ports.OrderRepository
	links    ports.CustomerLinkRepository
	mailer   ports.Mailer
	audit    ports.AuditLog
	clock    ports.Clock
	policy   CustomerAccessPolicy
	secret   []byte
	base     string
	log      *slog.Logger
}

// NewSendCustomerSignIn wires SendCustomerSignIn; it panics when a
// dependency is nil or the secret empty.
func NewSendCustomerSignIn(tx ports.Transactor, requests ports.CustomerAccessRequests, orders ports.OrderRepository, links ports.CustomerLinkRepository,
	mailer ports.Mailer, audit ports.AuditLog, clock ports.Clock, policy CustomerAccessPolicy, secret []byte, publicBaseURL string, log *slog.Logger) SendCustomerSignIn {
	require("SendCustomerSignIn", "tx", tx, "accessRequests", requests, "orders", orders, "customerLinks", links, "mailer", mailer, "audit", audit, "clock", clock, "log", log)
	if len(secret) == 0 {
		panic("SendCustomerSignIn: no token secret")
	}
	return SendCustomerSignIn{tx: tx, requests: requests, orders: orders, links: links, mailer: mailer, audit: audit, clock: clock,
		policy: policy.withDefaults(), secret: secret, base: strings.TrimRight(publicBaseURL, "/"), log: log}
}

// signInToken is the token of the sign-in link answering request id.
func (h SendCustomerSignIn) signInToken(id string) string {
	m := hmac.New(sha256.New, h.secret)
	m.Write([]byte("customer-sign-in\x00"))
	m.Write([]byte(id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Handle answers ev. It is a no-op for another event, an unknown (purged)
// request, a request older than a link lives, and an address without
// orders. It returns an error wrapping ErrUnavailable when storage cannot
// be read or the mailer asks to retry, and the mailer's
// ports.ErrMailRejected error when the message was refused for good.
func (h SendCustomerSignIn) Handle(ctx context.Context, ev domain.OrderEvent) error {
	if ev.Name != domain.EventCustomerAccessRequested {
		return nil
	}
	rq, err := h.requests.AccessRequest(ctx, ev.OrderID)
	if errors.Is(err, domain.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: load access request %s: %v", ErrUnavailable, ev.OrderID, err)
	}
	now := h.clock.Now()
	if !now.Before(rq.RequestedAt.Add(h.policy.LinkTTL)) {
		h.log.InfoContext(ctx, "access request too old to answer", "access_request_id", rq.ID)
		return nil
	}
	latest, err := h.orders.List(ctx, ports.OrderQuery{Email: rq.Email.String(), Limit: 1})
	if err != nil {
		return fmt.Errorf("%w: orders of access request %s: %v", ErrUnavailable, rq.ID, err)
	}
	if len(latest) == 0 {
		return nil
	}
	// The link goes to the address as the orders have it, not as typed:
	// keyward mails only an address an order was placed with.
	addr := latest[0].Email()
	token := h.signInToken(rq.ID)
	link, err := domain.NewCustomerLink(rq.ID, addr, domain.HashToken(token), rq.RequestedAt, h.policy.LinkTTL)
	if err != nil {
		return err
	}
	err = h.tx.Atomically(ctx, func(ctx context.Context) error {
		if err := h.links.Create(ctx, link); err != nil {
			return fmt.Errorf("store sign-in link: %w", err)
		}
		if _, err := h.audit.Append(ctx, ActorCustomer, AuditCustomerSignInIssued, link.ID(),
			map[string]string{"expires_at": link.ExpiresAt().UTC().Format(time.RFC3339)}); err != nil {
			return fmt.Errorf("audit sign-in link: %w", err)
		}
		return nil
	})
	if errors.Is(err, domain.ErrConflict) {
		// Issued by an earlier run, whose email may not have gone.
		if link, err = h.links.GetByTokenHash(ctx, domain.HashToken(token)); err != nil {
			return fmt.Errorf("%w: sign-in link %s: %v", ErrUnavailable, rq.ID, err)
		}
		if link.Used() {
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	d := newEmailData(latest[0]).withLink(h.base+"/account/"+token, link.ExpiresAt())
	m, err := emailCustomerSignIn.render(addr.String(), "customer-link/"+link.ID(), d)
	if err != nil {
		return err
	}
	if _, err := h.mailer.Send(ctx, m); err != nil {
		// Never the address: the link's id finds it.
		if errors.Is(err, ports.ErrMailRejected) {
			return fmt.Errorf("send sign-in email %s: %w", link.ID(), err)
		}
		return fmt.Errorf("%w: send sign-in email %s: %v", ErrUnavailable, link.ID(), err)
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
