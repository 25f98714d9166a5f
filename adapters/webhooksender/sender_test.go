package webhooksender_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/webhooksender"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

func TestIsPublic(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:2800:21f:cb07:6820:80da:af6b:8b2c": true, "203.0.114.9": true,
		"127.0.0.1": false, "10.1.2.3": false, "172.16.0.1": false, "192.168.0.1": false, "169.254.169.254": false, "100.100.100.200": false,
		"0.0.0.0": false, "::1": false, "::": false, "fd00:ec2::254": false, "fe80::1": false, "::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false,
		"224.0.0.1": false, "255.255.255.255": false, "198.18.0.1": false,
		// IPv6 ranges with an IPv4 address inside reach it: refused,
		// whatever the address inside. IPv4-mapped is checked as IPv4.
		"::127.0.0.1": false, "::93.184.215.14": false, // IPv4-compatible, ::/96
		"2002:7f00:1::": false, "2002:5db8:d70e::1": false, // 6to4, 2002::/16
		"2001:0:4136:e378:8000:63bf:3fff:fdd2": false,                          // Teredo, 2001::/32
		"::ffff:0:7f00:1":                      false, "::ffff:0:a00:1": false, // SIIT IPv4-translated, ::ffff:0:0:0/96
		"64:ff9b::7f00:1": false, "64:ff9b::a9fe:a9fe": false, // NAT64, 64:ff9b::/96
		"::ffff:169.254.169.254": false, "::ffff:93.184.215.14": true, // IPv4-mapped, ::ffff:0:0/96
		"2001:4860:4860::8888": true, // public, next to Teredo
	} {
		if got := webhooksender.IsPublic(netip.MustParseAddr(addr)); got != want {
			t.Errorf("IsPublic(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestSendRefusesPrivateAddressesAtDialTime: without the development
// switch the connection to a loopback address is refused when it is
// dialled, whatever the URL said at registration.
func TestSendRefusesPrivateAddressesAtDialTime(t *testing.T) {
	t.Parallel()
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer srv.Close()
	resp := webhooksender.New(webhooksender.Config{Timeout: 2 * time.Second}).Send(t.Context(), ports.WebhookRequest{URL: srv.URL, Header: http.Header{}, Body: []byte(`{}`)})
	if !errors.Is(resp.Err, webhooksender.ErrNotPublic) || resp.Status != 0 || hits != 0 {
		t.Fatalf("send to loopback: %+v, %d hits; want ErrNotPublic before any request", resp, hits)
	}
	if err := webhooksender.New(webhooksender.Config{}).CheckURL(t.Context(), "https://localhost/hooks"); !errors.Is(err, webhooksender.ErrNotPublic) {
		t.Fatalf("CheckURL(localhost) = %v, want ErrNotPublic", err)
	}
}

// TestSendNoRedirectBoundedBody: a redirect is an answer (3xx, not
// followed), the body kept is the first 2 KB, and a slow endpoint times
// out.
func TestSendNoRedirectBoundedBody(t *testing.T) {
	t.Parallel()
	var followed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		case "/elsewhere":
			followed.Store(true)
		case "/big":
			if r.Header.Get("webhook-id") != "msg_1" || r.Header.Get("Content-Type") != "application/json" {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(strings.Repeat("a", 100_000)))
		case "/slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
	}))
	defer srv.Close()
	s := webhooksender.New(webhooksender.Config{Timeout: 300 * time.Millisecond, AllowPrivate: true})
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("Content-Type", "application/json")
	if resp := s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + "/redirect", Header: h}); resp.Status != http.StatusFound || followed.Load() {
		t.Fatalf("redirect: %+v, followed %v", resp, followed.Load())
	}
	if resp := s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + "/big", Header: h, Body: []byte(`{}`)}); resp.Status != 200 || len(resp.Body) != domain.WebhookResponseKept {
		t.Fatalf("big answer: status %d, %d bytes kept", resp.Status, len(resp.Body))
	}
	if resp := s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + "/slow", Header: h}); resp.Err == nil || resp.Status != 0 {
		t.Fatalf("slow endpoint: %+v, want a timeout", resp)
	}
}
