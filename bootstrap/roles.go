package bootstrap

import (
	"fmt"

	"go.uber.org/fx"
)

// Roles of a keyward process (KEYWARD_ROLE).
const (
	RoleAll    = "all"    // the API and the workers
	RoleAPI    = "api"    // the API: orders and payments go to the outbox, nothing is consumed
	RoleWorker = "worker" // the consumers, the reconciler and the schedulers; ops endpoints only
)

// validateRole checks KEYWARD_ROLE and what a role other than all needs.
func (c Config) validateRole() error {
	m := c.Messaging
	switch m.Role {
	case RoleAll:
	case RoleAPI, RoleWorker:
		if c.DatabaseURL == "" {
			return fmt.Errorf("KEYWARD_ROLE=%s needs KEYWARD_DATABASE_URL: API and workers meet in its outbox", m.Role)
		}
		if m.Role == RoleWorker && c.PublicBaseURL == "" {
			return fmt.Errorf("a worker needs KEYWARD_PUBLIC_BASE_URL: it emails links to the API, which it does not serve")
		}
	default:
		return fmt.Errorf("KEYWARD_ROLE must be all, api or worker, not %q", m.Role)
	}
	return nil
}

// roleModule is what this process runs besides the application: the API,
// the workers, or both.
func roleModule(cfg Config) fx.Option {
	switch cfg.Messaging.Role {
	case RoleAPI:
		return fx.Options(HTTPModule, SupplierPollModule)
	case RoleWorker:
		return fx.Options(WorkersModule, OpsHTTPModule, SupplierPollModule)
	}
	return fx.Options(WorkersModule, HTTPModule, SupplierPollModule)
}

// WorkersModule runs the consumers of the pipeline, the customer
// notifications, the reconciler, the sweeper, the periodic catalog sync
// and the Postgres queue's pruning.
var WorkersModule = fx.Options(PipelineModule, NotificationsModule, fx.Invoke(runReconciler, runSweeper, runCatalogSync, runAuditCheckpoints, runQueuePrune))
