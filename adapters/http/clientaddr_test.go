package http

import (
	"net/netip"
	"testing"
)

// TestClientAddress: X-Forwarded-For counts only behind a trusted proxy,
// and then the right-most untrusted hop is the client, whatever the
// client wrote to its left.
func TestClientAddress(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	for _, c := range []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: the header is ignored", "198.51.100.7:4711", []string{"203.0.113.1"}, nil, "198.51.100.7"},
		{"untrusted peer: the header is ignored", "198.51.100.7:4711", []string{"203.0.113.1"}, proxies, "198.51.100.7"},
		{"trusted peer, no header", "10.1.2.3:80", nil, proxies, "10.1.2.3"},
		{"trusted peer: the hop it saw", "10.1.2.3:80", []string{"203.0.113.1"}, proxies, "203.0.113.1"},
		{"spoofed left part is ignored", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.1"}, proxies, "203.0.113.1"},
		{"chain of trusted proxies", "10.1.2.3:80", []string{"6.6.6.6, 203.0.113.1, 10.9.9.9"}, proxies, "203.0.113.1"},
		{"several headers read as one list", "10.1.2.3:80", []string{"6.6.6.6, 203.0.113.1", "10.9.9.9"}, proxies, "203.0.113.1"},
		{"garbage hop: the last trusted one", "10.1.2.3:80", []string{"203.0.113.1, not-an-ip, 10.9.9.9"}, proxies, "10.9.9.9"},
		{"only trusted hops: the left-most", "10.1.2.3:80", []string{"10.7.7.7, 10.9.9.9"}, proxies, "10.7.7.7"},
		{"ipv6", "[2001:db8::1]:443", []string{"2001:db8::2, 2a00:1450::1"}, proxies, "2a00:1450::1"},
		{"v4-mapped peer", "[::ffff:10.1.2.3]:80", []string{"203.0.113.1"}, proxies, "203.0.113.1"},
		{"no port", "198.51.100.7", nil, nil, "198.51.100.7"},
		{"hop written with a port", "10.1.2.3:80", []string{"203.0.113.1:4711"}, proxies, "203.0.113.1"},
		{"ipv6 hop with a port", "10.1.2.3:80", []string{"[2a00:1450::1]:4711"}, proxies, "2a00:1450::1"},
		{"bracketed ipv6 hop", "10.1.2.3:80", []string{"[2a00:1450::1]"}, proxies, "2a00:1450::1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := clientAddress(c.peer, c.xff, c.trusted); got != c.want {
				t.Fatalf("clientAddress(%q, %q) = %q, want %q", c.peer, c.xff, got, c.want)
			}
		})
	}
}
