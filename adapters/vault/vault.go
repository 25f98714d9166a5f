// Package vault implements the KeyVault port with HashiCorp Vault's transit
// engine: one derived aes256-gcm96 key, per-order data keys whose context
// is the order id, rotation and batch rewrap.
package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/keyward/keyward/ports"
)

// Config says where Vault is and which transit key to use.
type Config struct {
	Address   string // VAULT_ADDR
	Token     string // VAULT_TOKEN / KEYWARD_VAULT_TOKEN
	Mount     string // transit mount path; default "transit"
	Key       string // transit key name; default "keyward"
	CreateKey bool   // mount transit and create the key when missing
	Timeout   time.Duration
	TLS       api.TLSConfig
}

// Vault is a KeyVault backed by Vault transit.
type Vault struct {
	client *api.Client
	mount  string
	key    string
	create bool
	log    *slog.Logger
}

// New returns a client for cfg; it does not contact Vault (Init does).
func New(cfg Config, log *slog.Logger) (*Vault, error) {
	if cfg.Mount == "" {
		cfg.Mount = "transit"
	}
	if cfg.Key == "" {
		cfg.Key = "keyward"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	ac := api.DefaultConfig()
	if ac.Error != nil {
		return nil, fmt.Errorf("vault config: %w", ac.Error)
	}
	if cfg.Address != "" {
		ac.Address = cfg.Address
	}
	ac.Timeout = cfg.Timeout
	ac.MaxRetries = 1 // the pipeline retries with backoff; keep calls short
	if err := ac.ConfigureTLS(&cfg.TLS); err != nil {
		return nil, fmt.Errorf("vault tls: %w", err)
	}
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	if cfg.Token != "" {
		c.SetToken(cfg.Token)
	}
	return &Vault{client: c, mount: cfg.Mount, key: cfg.Key, create: cfg.CreateKey, log: log}, nil
}

// Client exposes the underlying client (token renewal uses it).
func (v *Vault) Client() *api.Client { return v.client }

// Init makes sure the transit mount and a derived key exist (creating them
// when allowed) and that the key is derived. It returns ErrVaultUnavailable
// when Vault cannot be reached.
func (v *Vault) Init(ctx context.Context) error {
	if v.create {
		mounts, err := v.client.Sys().ListMountsWithContext(ctx)
		if err != nil {
			return classify("list mounts", err)
		}
		if _, ok := mounts[v.mount+"/"]; !ok {
			if err := v.client.Sys().MountWithContext(ctx, v.mount, &api.MountInput{Type: "transit", Description: "keyward data keys"}); err != nil {
				// Another instance may have mounted it at the same moment.
				if again, lerr := v.client.Sys().ListMountsWithContext(ctx); lerr != nil || again[v.mount+"/"] == nil {
					return classify("mount transit", err)
				}
			} else {
				v.log.Info("mounted vault transit engine", "mount", v.mount)
			}
		}
	}
	s, err := v.client.Logical().ReadWithContext(ctx, v.path("keys", v.key))
	if err != nil {
		return classify("read transit key", err)
	}
	if s == nil {
		if !v.create {
			return fmt.Errorf("vault transit key %s/%s does not exist and creating it is not allowed", v.mount, v.key)
		}
		if _, err := v.client.Logical().WriteWithContext(ctx, v.path("keys", v.key), map[string]any{"type": "aes256-gcm96", "derived": true}); err != nil {
			return classify("create transit key", err)
		}
		v.log.Info("created vault transit key", "mount", v.mount, "key", v.key)
		return nil
	}
	if d, _ := s.Data["derived"].(bool); !d {
		return fmt.Errorf("vault transit key %s/%s is not derived: keyward needs derived=true so every data key is bound to its order", v.mount, v.key)
	}
	return nil
}

func (v *Vault) path(parts ...string) string {
	p := v.mount
	for _, s := range parts {
		p += "/" + s
	}
	return p
}

// orderContext is the derivation context: the order id itself, so each
// order's data key is wrapped under its own derived key.
func orderContext(orderID string) string {
	return base64.StdEncoding.EncodeToString([]byte(orderID))
}

// classify maps a Vault client error to the port's errors: authentication
// and format failures of a ciphertext are ErrDataKeyInvalid; network
// errors, timeouts, sealed or overloaded Vault, and permission problems are
// ErrVaultUnavailable (an operator fixes them; orders wait, never fail).
func classify(op string, err error) error {
	var re *api.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusBadRequest:
			return fmt.Errorf("%w: %s: %v", ports.ErrDataKeyInvalid, op, re.Errors)
		default:
			return fmt.Errorf("%w: %s: vault answered %d %v", ports.ErrVaultUnavailable, op, re.StatusCode, re.Errors)
		}
	}
	return fmt.Errorf("%w: %s: %v", ports.ErrVaultUnavailable, op, err)
}
