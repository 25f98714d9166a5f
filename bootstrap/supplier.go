package bootstrap

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/ports"
)

// SupplierConfig chooses where keys are bought. Field names carry their
// adapter's name: configuration field names are unique across Config.
type SupplierConfig struct {
	SupplierKinds        string `env:"KEYWARD_SUPPLIERS" fallback:"KEYWARD_SUPPLIER" envDefault:"sandbox" doc:"the suppliers keys are bought from, comma-separated, in order of preference: \x60sandbox\x60 (in-process fake), \x60kinguin\x60 (Kinguin ESA), \x60codeswholesale\x60 (CodesWholesale API v3); an item is bought from its product's supplier, and the first one's catalog is imported at start-up; unset: \x60KEYWARD_SUPPLIER\x60 (one supplier) when that is set, else this default"`
	KinguinAPIURL        string `env:"KEYWARD_KINGUIN_API_URL" envDefault:"https://gateway.kinguin.net/esa/api" secret:"url" doc:"Kinguin ESA base URL; paths such as \x60/v1/products\x60 are appended (Kinguin's sandbox: \x60https://gateway.sandbox.kinguin.net/esa/api\x60)"`
	KinguinAPIKey        string `env:"KEYWARD_KINGUIN_API_KEY" secret:"true" doc:"Kinguin store API key, sent as \x60X-Api-Key\x60; required with \x60kinguin\x60 in \x60KEYWARD_SUPPLIERS\x60"`
	KinguinWebhookSecret string `env:"KEYWARD_KINGUIN_WEBHOOK_SECRET" secret:"true" doc:"the secret set for the store's webhooks (\x60X-Event-Secret\x60 of \x60POST /v1/webhooks/kinguin\x60; the sandbox supplier takes Kinguin's webhooks at \x60/v1/webhooks/sandbox\x60 under it too); required with \x60kinguin\x60 in \x60KEYWARD_SUPPLIERS\x60, unset refuses every Kinguin webhook; at least 16 characters beyond loopback"`
	CodesWholesale       CodesWholesaleConfig
}

// supplierModules are the supplier adapters by name: each provides its
// ports.SupplierRegistration to the "suppliers" group.
var supplierModules = map[string]fx.Option{
	"sandbox":        SandboxSupplierModule,
	"kinguin":        KinguinSupplierModule,
	"codeswholesale": CodesWholesaleSupplierModule,
}

// Names returns the configured suppliers' names in order.
func (c SupplierConfig) Names() []string {
	var out []string
	for n := range strings.SplitSeq(c.SupplierKinds, ",") {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// uses reports whether the named supplier is configured.
func (c SupplierConfig) uses(name string) bool { return slices.Contains(c.Names(), name) }

// Validate names the variable to fix.
func (c SupplierConfig) Validate() error {
	names := c.Names()
	if len(names) == 0 {
		return fmt.Errorf("KEYWARD_SUPPLIERS names no supplier: set one or more of %s", strings.Join(slices.Sorted(maps.Keys(supplierModules)), ", "))
	}
	seen := map[string]bool{}
	for _, n := range names {
		if _, ok := supplierModules[n]; !ok {
			return fmt.Errorf("KEYWARD_SUPPLIERS names %q: each must be one of %s", n, strings.Join(slices.Sorted(maps.Keys(supplierModules)), ", "))
		}
		if seen[n] {
			return fmt.Errorf("KEYWARD_SUPPLIERS names %q twice", n)
		}
		seen[n] = true
	}
	if c.uses("kinguin") {
		switch {
		case strings.TrimSpace(c.KinguinAPIKey) == "":
			return fmt.Errorf("KEYWARD_SUPPLIERS with kinguin needs KEYWARD_KINGUIN_API_KEY (the store's API key from the Kinguin dashboard)")
		case strings.TrimSpace(c.KinguinWebhookSecret) == "":
			return fmt.Errorf("KEYWARD_SUPPLIERS with kinguin needs KEYWARD_KINGUIN_WEBHOOK_SECRET (the secret set for the store's webhooks)")
		case !strings.HasPrefix(c.KinguinAPIURL, "https://") && !strings.HasPrefix(c.KinguinAPIURL, "http://"):
			return fmt.Errorf("KEYWARD_KINGUIN_API_URL must be an http(s) URL, not %q", RedactURL(c.KinguinAPIURL))
		}
	}
	if c.uses("codeswholesale") {
		return c.CodesWholesale.Validate()
	}
	return nil
}

// supplierModule returns the modules of the suppliers KEYWARD_SUPPLIERS
// names, and the registry of them in its order.
func supplierModule(cfg Config) fx.Option {
	opts := []fx.Option{fx.Provide(
		newSuppliers,
		application.NewBalanceBook,
		fx.Annotate(supplierHealthChecks, fx.ResultTags(`group:"health,flatten"`)),
		func() catalogImport { return catalogImportOf(cfg.Supplier.Names()) },
	)}
	for _, n := range cfg.Supplier.Names() {
		opts = append(opts, supplierModules[n])
	}
	return fx.Options(opts...)
}

// catalogImportOf is the start-up import of the first supplier's catalog:
// the sandbox's in-process catalog is read at once, before serving; a real
// supplier's in the background, into an empty catalog only.
func catalogImportOf(names []string) catalogImport {
	if len(names) > 0 && names[0] == "sandbox" {
		return catalogImport{}
	}
	return catalogImport{Background: true, OnlyIfEmpty: true}
}

type supplierParams struct {
	fx.In
	Config        Config
	Registrations []ports.SupplierRegistration `group:"suppliers"`
	Balances      *application.BalanceBook
}

// newSuppliers orders the registered suppliers as KEYWARD_SUPPLIERS does.
// Every balance read of them (GET /v1/admin/suppliers, the balance gauge,
// the balance_low check) is noted in the balance book routing consults.
func newSuppliers(p supplierParams) (ports.Suppliers, error) {
	byName := map[string]ports.SupplierRegistration{}
	for _, r := range p.Registrations {
		byName[r.Supplier.Name()] = r
	}
	var out ports.Suppliers
	for _, n := range p.Config.Supplier.Names() {
		r, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("KEYWARD_SUPPLIERS names %q, which registered no supplier", n)
		}
		out = append(out, r)
	}
	return application.RecordBalances(out, p.Balances), nil
}

// supplierHealthChecks reports each supplier at /readyz: as "supplier"
// when there is one, as "supplier.<name>" when there are several.
func supplierHealthChecks(s ports.Suppliers) []ports.HealthCheck {
	out := make([]ports.HealthCheck, 0, len(s))
	for _, r := range s {
		out = append(out, ports.HealthCheck{Name: supplierDependency(s, r.Supplier.Name()), Check: r.Supplier.Health})
	}
	return out
}

// supplierDependency names a supplier as a dependency (health checks,
// circuit breakers): "supplier" alone, "supplier.<name>" among several.
func supplierDependency(s ports.Suppliers, name string) string {
	if len(s) == 1 {
		return "supplier"
	}
	return "supplier." + name
}

// KinguinSupplierModule buys keys from Kinguin ESA, takes its webhooks,
// and reports it ready when its balance can be read.
var KinguinSupplierModule = fx.Module("supplier.kinguin",
	fx.Provide(
		func(cfg Config) (*kinguin.Client, error) {
			c, err := kinguin.New(kinguin.Config{BaseURL: cfg.Supplier.KinguinAPIURL, APIKey: cfg.Supplier.KinguinAPIKey})
			if err != nil {
				return nil, fmt.Errorf("KEYWARD_KINGUIN_API_URL, KEYWARD_KINGUIN_API_KEY: %w", err)
			}
			return c, nil
		},
		fx.Annotate(func(cfg Config, c *kinguin.Client) ports.SupplierRegistration {
			return ports.SupplierRegistration{Supplier: c, Hooks: kinguin.NewWebhookVerifier(cfg.Supplier.KinguinWebhookSecret)}
		}, fx.ResultTags(`group:"suppliers"`)),
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
