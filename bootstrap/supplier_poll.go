package bootstrap

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/application"
)

// supplierPollTick is how often the process checks whether an order waiting
// for supplier keys is due a look; the looks themselves follow
// application.DefaultSupplierPoll.
const supplierPollTick = time.Second

// SupplierPollModule looks again at the orders this process left waiting
// for supplier keys (application.PollSupplier), in every process that
// fulfils orders: the workers, and the API, whose supplier webhooks resume
// fulfilment too.
var SupplierPollModule = fx.Invoke(runSupplierPoll)

func runSupplierPoll(lc fx.Lifecycle, app application.App, log *slog.Logger) {
	runInBackground(lc, every(supplierPollTick, func(ctx context.Context) {
		if _, err := app.Commands.PollSupplier.Handle(ctx); err != nil && ctx.Err() == nil {
			log.Error("supplier poll failed", "err", err)
		}
	}))
}
