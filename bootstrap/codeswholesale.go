package bootstrap

import (
	"fmt"
	"log/slog"
	"strings"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/codeswholesale"
	"github.com/keyward/keyward/ports"
)

// CodesWholesaleConfig configures the CodesWholesale supplier
// (codeswholesale in KEYWARD_SUPPLIERS).
type CodesWholesaleConfig struct {
	CodesWholesaleAPIURL          string `env:"KEYWARD_CODESWHOLESALE_API_URL" envDefault:"https://sandbox.codeswholesale.com" secret:"url" doc:"CodesWholesale host; \x60/v3/...\x60 and the token endpoint \x60/oauth/token\x60 are appended (live: \x60https://api.codeswholesale.com\x60)"`
	CodesWholesaleClientID        string `env:"KEYWARD_CODESWHOLESALE_CLIENT_ID" doc:"CodesWholesale API client id (OAuth2 client credentials); required with \x60codeswholesale\x60 in \x60KEYWARD_SUPPLIERS\x60"`
	CodesWholesaleClientSecret    string `env:"KEYWARD_CODESWHOLESALE_CLIENT_SECRET" secret:"true" doc:"CodesWholesale API client secret, sent in the token request's body; required with \x60codeswholesale\x60 in \x60KEYWARD_SUPPLIERS\x60"`
	CodesWholesaleClientSignature string `env:"KEYWARD_CODESWHOLESALE_CLIENT_SIGNATURE" secret:"true" doc:"CodesWholesale client signature: postbacks to \x60POST /v1/webhooks/codeswholesale\x60 carry SHA-256 of the client id and it as \x60authHash\x60; unset refuses every postback"`
}

// Validate names the variable to fix.
func (c CodesWholesaleConfig) Validate() error {
	switch {
	case strings.TrimSpace(c.CodesWholesaleClientID) == "":
		return fmt.Errorf("KEYWARD_SUPPLIERS with codeswholesale needs KEYWARD_CODESWHOLESALE_CLIENT_ID (the API client id from the CodesWholesale panel)")
	case strings.TrimSpace(c.CodesWholesaleClientSecret) == "":
		return fmt.Errorf("KEYWARD_SUPPLIERS with codeswholesale needs KEYWARD_CODESWHOLESALE_CLIENT_SECRET (the API client secret from the CodesWholesale panel)")
	case !strings.HasPrefix(c.CodesWholesaleAPIURL, "https://") && !strings.HasPrefix(c.CodesWholesaleAPIURL, "http://"):
		return fmt.Errorf("KEYWARD_CODESWHOLESALE_API_URL must be an http(s) URL, not %q", RedactURL(c.CodesWholesaleAPIURL))
	}
	return nil
}

// CodesWholesaleSupplierModule buys keys from CodesWholesale API v3, takes
// its postbacks, and reports it ready when its balance can be read.
var CodesWholesaleSupplierModule = fx.Module("supplier.codeswholesale",
	fx.Provide(
		func(cfg Config, log *slog.Logger) (*codeswholesale.Client, error) {
			cw := cfg.Supplier.CodesWholesale
			c, err := codeswholesale.New(codeswholesale.Config{BaseURL: cw.CodesWholesaleAPIURL, ClientID: cw.CodesWholesaleClientID,
				ClientSecret: cw.CodesWholesaleClientSecret, Log: log.With("component", "codeswholesale")})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_CODESWHOLESALE_API_URL, KEYWARD_CODESWHOLESALE_CLIENT_ID, KEYWARD_CODESWHOLESALE_CLIENT_SECRET: %w", err)
			}
			return c, nil
		},
		fx.Annotate(func(cfg Config, c *codeswholesale.Client) ports.SupplierRegistration {
			cw := cfg.Supplier.CodesWholesale
			return ports.SupplierRegistration{Supplier: c, Hooks: codeswholesale.NewPostbackVerifier(cw.CodesWholesaleClientID, cw.CodesWholesaleClientSignature)}
		}, fx.ResultTags(`group:"suppliers"`)),
	),
)
