// Package webhooksender posts keyward's outbound webhooks to the shop's
// endpoints: public addresses only (checked on the address each
// connection dials, so a name that changes its answer after registration
// gains nothing), no redirects, no proxy, a bounded read of the answer.
package webhooksender

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// ErrNotPublic: the endpoint's host is (or resolves to) a private,
// loopback, link-local, metadata or otherwise non-public address.
var ErrNotPublic = errors.New("not a public address")

// Config tunes a Sender.
type Config struct {
	// Timeout bounds one attempt, answer included (10 s by default).
	Timeout time.Duration
	// AllowPrivate lets endpoints on private and loopback addresses be
	// reached (development and tests).
	AllowPrivate bool
}

// Sender is a ports.WebhookSender over HTTP.
type Sender struct {
	client       *http.Client
	allowPrivate bool
	resolver     *net.Resolver
}

var _ ports.WebhookSender = (*Sender)(nil)

// New returns a Sender.
func New(cfg Config) *Sender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &Sender{allowPrivate: cfg.AllowPrivate, resolver: net.DefaultResolver}
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: s.control}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial for us, past the address check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   cfg.Timeout,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	s.client = &http.Client{Transport: transport, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return s
}

// control refuses a connection to a non-public address, whatever name led
// to it.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	if s.allowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if !IsPublic(ip) {
		return fmt.Errorf("dial %s: %w", address, ErrNotPublic)
	}
	return nil
}

// nonPublic are ranges that are neither private nor loopback nor
// link-local in Go's sense, yet no shop's server lives in: shared
// address space, benchmarking, documentation, reserved, and the IPv6
// ranges that carry an IPv4 address inside (IPv4-compatible, SIIT's
// IPv4-translated, NAT64, 6to4, Teredo), through which a private IPv4
// address could be reached. (IPv4-mapped addresses are unmapped and
// checked as IPv4.)
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/96"),           // IPv4-compatible (deprecated)
	netip.MustParsePrefix("::ffff:0:0:0/96"), // SIIT: IPv4-translated
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/32"), // Teredo
	netip.MustParsePrefix("2002::/16"), // 6to4
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"),
}

// IsPublic reports whether ip is a public unicast address: not loopback,
// private (fc00::/7 included, where cloud metadata lives on IPv6),
// link-local (169.254.169.254, the metadata address, included),
// multicast, unspecified or reserved.
func IsPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// CheckURL resolves the URL's host and refuses it when any address it
// resolves to is not public.
func (s *Sender) CheckURL(ctx context.Context, rawURL string) error {
	if s.allowPrivate {
		return nil
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return fmt.Errorf("url: %w", redactURL(err))
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		if !IsPublic(ip) {
			return fmt.Errorf("%s is %w", host, ErrNotPublic)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := s.resolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("%s does not resolve: %w", host, err)
	}
	for _, a := range addrs {
		if !IsPublic(a) {
			return fmt.Errorf("%s resolves to %s, %w", host, a, ErrNotPublic)
		}
	}
	return nil
}

// drainLimit is how much more of an answer is read, past what is kept, so
// that its connection can serve the next attempt.
const drainLimit = 64 << 10

// Send posts req and keeps the first domain.WebhookResponseKept bytes of
// the answer.
func (s *Sender) Send(ctx context.Context, req ports.WebhookRequest) ports.WebhookResponse {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, req.URL, bytes.NewReader(req.Body))
	if err != nil {
		return ports.WebhookResponse{Err: fmt.Errorf("request: %w", redactURL(err))}
	}
	for k, v := range req.Header {
		r.Header[k] = v
	}
	resp, err := s.client.Do(r)
	if err != nil {
		return ports.WebhookResponse{Err: redactURL(err)}
	}
	defer resp.Body.Close()
	kept, err := io.ReadAll(io.LimitReader(resp.Body, domain.WebhookResponseKept))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	out := ports.WebhookResponse{Status: resp.StatusCode, Body: strings.ReplaceAll(strings.ToValidUTF8(string(kept), "\uFFFD"), "\x00", "")}
	if err != nil {
		out.Err = fmt.Errorf("read answer: %w", err)
	}
	return out
}

// redactURL drops the URL from a client error: its query may hold what
// the shop considers a secret, and the attempt log shows the error.
func redactURL(err error) error {
	if ue, ok := errors.AsType[*url.Error](err); ok {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
