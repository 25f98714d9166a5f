package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// SupplierConfig chooses where keys are bought. Field names carry their
// adapter's name: configuration field names are unique across Config.
type SupplierConfig struct {
	SupplierKind         string `env:"KEYWARD_SUPPLIER" envDefault:"sandbox" doc:"\x60sandbox\x60 (in-process fake) or \x60kinguin\x60 (Kinguin ESA)"`
	KinguinAPIURL        string `env:"KEYWARD_KINGUIN_API_URL" envDefault:"https://gateway.kinguin.net/esa/api" secret:"url" doc:"Kinguin ESA base URL; paths such as \x60/v1/products\x60 are appended (Kinguin's sandbox: \x60https://gateway.sandbox.kinguin.net/esa/api\x60)"`
	KinguinAPIKey        string `env:"KEYWARD_KINGUIN_API_KEY" secret:"true" doc:"Kinguin store API key, sent as \x60X-Api-Key\x60; required with \x60KEYWARD_SUPPLIER=kinguin\x60"`
	KinguinWebhookSecret string `env:"KEYWARD_KINGUIN_WEBHOOK_SECRET" secret:"true" doc:"the secret set for the store's webhooks (\x60X-Event-Secret\x60 of \x60POST /v1/webhooks/kinguin\x60); required with \x60KEYWARD_SUPPLIER=kinguin\x60, unset refuses every Kinguin webhook; at least 16 characters beyond loopback"`
}

// Validate names the variable to fix.
func (c SupplierConfig) Validate() error {
	switch c.SupplierKind {
	case "sandbox":
		return nil
	case "kinguin":
	default:
		return fmt.Errorf("KEYWARD_SUPPLIER must be sandbox or kinguin, not %q", c.SupplierKind)
	}
	switch {
	case strings.TrimSpace(c.KinguinAPIKey) == "":
		return fmt.Errorf("KEYWARD_SUPPLIER=kinguin needs KEYWARD_KINGUIN_API_KEY (the store's API key from the Kinguin dashboard)")
	case strings.TrimSpace(c.KinguinWebhookSecret) == "":
		return fmt.Errorf("KEYWARD_SUPPLIER=kinguin needs KEYWARD_KINGUIN_WEBHOOK_SECRET (the secret set for the store's webhooks)")
	case !strings.HasPrefix(c.KinguinAPIURL, "https://") && !strings.HasPrefix(c.KinguinAPIURL, "http://"):
		return fmt.Errorf("KEYWARD_KINGUIN_API_URL must be an http(s) URL, not %q", RedactURL(c.KinguinAPIURL))
	}
	return nil
}

// supplierModule returns the supplier module KEYWARD_SUPPLIER chooses.
func supplierModule(cfg Config) fx.Option {
	if cfg.Supplier.SupplierKind == "kinguin" {
		return KinguinSupplierModule
	}
	return fx.Options(SandboxSupplierModule, fx.Module("supplier.sandbox.events", fx.Provide(
		// The sandbox sends no webhooks; the Kinguin endpoint answers a
		// configured secret all the same (and refuses all without one).
		func(cfg Config) ports.SupplierEventVerifier {
			return kinguin.NewWebhookVerifier(cfg.Supplier.KinguinWebhookSecret)
		},
		// The in-process catalog is read at once, before serving.
		func() catalogImport { return catalogImport{} },
	)))
}

// KinguinSupplierModule buys keys from Kinguin ESA, takes its webhooks,
// imports its catalog in the background when ours is empty, and reports
// it ready when its balance can be read.
var KinguinSupplierModule = fx.Module("supplier.kinguin",
	fx.Provide(
		func(cfg Config) (*kinguin.Client, error) {
			c, err := kinguin.New(kinguin.Config{BaseURL: cfg.Supplier.KinguinAPIURL, APIKey: cfg.Supplier.KinguinAPIKey})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_KINGUIN_API_URL, KEYWARD_KINGUIN_API_KEY: %w", err)
			}
			return c, nil
		},
		func(c *kinguin.Client) ports.Supplier { return c },
		func(c *kinguin.Client) ports.SupplierBalance { return c },
		fx.Annotate(func(c *kinguin.Client) ports.HealthCheck {
			return ports.HealthCheck{Name: "supplier", Check: c.Health}
		}, fx.ResultTags(`group:"health"`)),
		func(cfg Config) ports.SupplierEventVerifier {
			return kinguin.NewWebhookVerifier(cfg.Supplier.KinguinWebhookSecret)
		},
		func() catalogImport { return catalogImport{Background: true, OnlyIfEmpty: true} },
	),
)

// catalogImport is how the catalog is imported at start-up.
type catalogImport struct {
	// Background serves at once while the import runs; otherwise start-up
	// waits for it.
	Background bool
	// OnlyIfEmpty imports only into an empty catalog.
	OnlyIfEmpty bool
}

// syncCatalogOnStart imports the supplier's catalog as policy says. A
// failed import is logged, not fatal: serving with the catalog we have
// beats not serving at all.
func syncCatalogOnStart(lc fx.Lifecycle, policy catalogImport, app application.App, log *slog.Logger) {
	sync := app.Commands.SyncCatalog
	run := func(ctx context.Context) {
		res, err := sync.Handle(ctx, application.SyncCatalogCommand{OnlyIfEmpty: policy.OnlyIfEmpty})
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("catalog sync failed", "err", err, "products", res.Products, "pages", res.Pages)
		case res.Skipped:
			log.Info("catalog not empty: start-up import skipped")
		case err == nil:
			log.Info("catalog synced", "products", res.Products, "pages", res.Pages)
		}
	}
	if !policy.Background {
		lc.Append(fx.Hook{OnStart: func(ctx context.Context) error { run(ctx); return nil }})
		return
	}
	runInBackground(lc, run)
}
