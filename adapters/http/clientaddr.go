package http

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// clientAddrKey types the request-context value resolveClient sets.
type clientAddrKey struct{}

// resolveClient puts the client's address (clientAddress) into each
// request's context, once, for every limiter and record to read through
// clientIP.
func resolveClient(next http.Handler, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip := clientAddress(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), trusted)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientAddrKey{}, ip)))
	})
}

// clientIP is the client's address resolveClient found for the request of
// ctx; outside such a request, empty.
func clientIP(ctx context.Context) string {
	ip, _ := ctx.Value(clientAddrKey{}).(string)
	return ip
}

// clientAddress is the address a request came from. X-Forwarded-For is
// believed only when the direct peer is a trusted proxy, and then only
// up to the right-most address that is not itself trusted: everything to
// its left was written by the client and proves nothing. Without trusted
// proxies the peer is the client.
func clientAddress(remoteAddr string, forwardedFor []string, trusted []netip.Prefix) string {
	peer := remoteAddr
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(addr, trusted) {
		return peer
	}
	client := addr.Unmap().String()
	for i := len(forwardedFor) - 1; i >= 0; i-- {
		hops := strings.Split(forwardedFor[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			hop, err := parseHop(hops[j])
			if err != nil {
				// A hop that is no address was not written by a proxy we
				// trust: the last trusted hop is all we know.
				return client
			}
			client = hop.Unmap().String()
			if !isTrusted(hop, trusted) {
				return client
			}
		}
	}
	return client
}

// parseHop reads one X-Forwarded-For entry: an address, or an address
// with a port ("203.0.113.9:4711", "[2001:db8::1]:4711") as some proxies
// write it, or a bracketed IPv6 address.
func parseHop(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), nil
	}
	return netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
}

func isTrusted(addr netip.Addr, trusted []netip.Prefix) bool {
	addr = addr.Unmap()
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
