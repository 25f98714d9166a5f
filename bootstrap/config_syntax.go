package bootstrap

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// validateSyntax checks each variable's own form before any rule that
// combines several: a malformed value is reported under its own name,
// not as the fault of a rule it happens to trip (an unparsable listen
// address is not "beyond loopback", so the IPN secret rule would blame
// the secret). Values that may hold a password are never echoed.
func (c Config) validateSyntax() error {
	if err := checkListenAddr("KEYWARD_HTTP_ADDR", c.HTTPAddr); err != nil {
		return err
	}
	if c.Messaging.Role == RoleWorker {
		if err := checkListenAddr("KEYWARD_OPS_ADDR", c.OpsAddr); err != nil {
			return err
		}
	}
	if c.PublicBaseURL != "" {
		if err := checkURL("KEYWARD_PUBLIC_BASE_URL", c.PublicBaseURL, "https://keys.example.com", "http", "https"); err != nil {
			return err
		}
	}
	if c.DatabaseURL != "" {
		if _, err := databaseAddress(c.DatabaseURL); err != nil {
			return fmt.Errorf("KEYWARD_DATABASE_URL is not a Postgres URL such as postgres://host:5432/keyward?sslmode=disable (or a key=value connection string): %w", err)
		}
	}
	if c.KeyVault == "vault" {
		if err := checkURL("VAULT_ADDR", c.Vault.Addr, "https://vault.example.com:8200", "http", "https"); err != nil {
			return err
		}
	}
	if m := c.Messaging; m.Broker == BrokerNATS {
		if err := checkBrokerURL("KEYWARD_NATS_URL", m.NATSURL, "nats", "tls"); err != nil {
			return err
		}
	} else if m.Broker == BrokerAMQP {
		if err := checkBrokerURL("KEYWARD_AMQP_URL", m.AMQPURL, "amqp", "amqps"); err != nil {
			return err
		}
	}
	if c.Limits.Store == "redis" && c.Limits.RedisURL != "" {
		if err := checkURL("KEYWARD_REDIS_URL", c.Limits.RedisURL, "redis://127.0.0.1:6379/0", "redis", "rediss"); err != nil {
			return err
		}
	}
	return nil
}

// checkListenAddr checks that addr is host:port (the host may be empty:
// every interface).
func checkListenAddr(name, addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err == nil {
		if n, perr := strconv.Atoi(port); perr == nil && n >= 0 && n <= 65535 {
			return nil
		}
	}
	return fmt.Errorf("%s=%q is not a listen address: want host:port, such as 127.0.0.1:8080 or :8080", name, addr)
}

// checkURL checks that u is an absolute URL with a host and one of
// schemes, without echoing it (it may carry a password).
func checkURL(name, u, example string, schemes ...string) error {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return fmt.Errorf("%s is not a URL such as %s", name, example)
	}
	for _, s := range schemes {
		if p.Scheme == s {
			return nil
		}
	}
	return fmt.Errorf("%s must start with %s://, not %s://", name, schemes[0], p.Scheme)
}

// listenAddr is the address this process serves HTTP on: a worker's ops
// endpoints, or the API.
func (c Config) listenAddr() string {
	if c.Messaging.Role == RoleWorker {
		return c.OpsAddr
	}
	return c.HTTPAddr
}
