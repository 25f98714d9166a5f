package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"syscall"

	"github.com/lib/pq"
	"github.com/nats-io/nats.go"
)

// The adapters' start-up errors, as keyward reports them: which variable,
// what is wrong with the service it names (at its address, never its
// password), and what to do. Each keeps the adapter's error underneath.

// unavailable reports that the service a variable points at cannot be
// used: down or unreachable when the network says so, else refused with
// the service's own reason.
func unavailable(variable, service, addr string, err error) error {
	if isNetworkFailure(err) {
		return fmt.Errorf("%s: %s at %s is down or unreachable; start it or point %s at it: %w", variable, service, addr, variable, err)
	}
	return fmt.Errorf("%s: %s at %s refused keyward; check %s: %w", variable, service, addr, variable, err)
}

// isNetworkFailure reports whether err means nothing answered: a refused
// or timed-out connection, an unknown host, a deadline.
func isNetworkFailure(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	return errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrNoServers) // what NATS says when no server accepted the connection
}

// urlAddress is the host (and port) of a service's URL, without the user
// and password it may carry; a value that does not parse is not shown.
func urlAddress(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(an address that does not parse)"
	}
	return u.Host
}

// databaseAddress is host:port/dbname of a Postgres URL or key=value DSN,
// without the user and password, or an error when it does not parse.
func databaseAddress(dsn string) (string, error) {
	c, err := pq.NewConfig(dsn)
	if err != nil {
		return "", err
	}
	host, port := c.Host, int(c.Port)
	if host == "" {
		host = "localhost"
	}
	if port == 0 {
		port = 5432
	}
	return net.JoinHostPort(host, strconv.Itoa(port)) + "/" + c.Database, nil
}

// listenFailure reports a listen address keyward cannot bind.
func listenFailure(variable, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%s=%s: the address is already in use (another keyward or another program listens there); stop it or set %s to a free address: %w", variable, addr, variable, err)
	}
	return fmt.Errorf("%s=%s: keyward cannot listen there; set %s to a host:port this machine can bind: %w", variable, addr, variable, err)
}
