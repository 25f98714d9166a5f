package application_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// rollbackRacingTx is a Transactor whose next unit of work, once armed,
// fails after fn has done all its work (so the store rolls it back), and
// runs race right after that rollback: the moment another request was
// waiting for the rows the failed unit held.
type rollbackRacingTx struct {
	ports.Transactor
	race atomic.Pointer[func()]
}

func (r *rollbackRacingTx) arm(race func()) { r.race.Store(&race) }

func (r *rollbackRacingTx) Atomically(ctx context.Context, fn func(context.Context) error) error {
	race := r.race.Swap(nil)
	if race == nil {
		return r.Transactor.Atomically(ctx, fn)
	}
	err := r.Transactor.Atomically(ctx, func(ctx context.Context) error {
		if err := fn(ctx); err != nil {
			return err
		}
		return errors.New("commit failed (injected)")
	})
	(*race)()
	return err
}

// assertRollbackRacingRevealKeepsTheLimit reveals token through reveal
// with a unit of work that rolls back while another reveal goes through,
// then reveals until the link is exhausted: the failed reveal costs the
// customer nothing and the link never reveals more than max times.
func assertRollbackRacingRevealKeepsTheLimit(t *testing.T, reveal application.RevealKeys, tx *rollbackRacingTx, token string, max int) {
	t.Helper()
	ctx := t.Context()
	var raced error
	tx.arm(func() { _, raced = reveal.Handle(ctx, application.RevealCommand{Token: token}) })
	if _, err := reveal.Handle(ctx, application.RevealCommand{Token: token}); err == nil {
		t.Fatal("the reveal whose unit of work rolled back succeeded")
	}
	if raced != nil {
		t.Fatalf("the reveal racing the rollback: %v (the failed reveal was charged)", raced)
	}
	succeeded := 1
	for ; ; succeeded++ {
		_, err := reveal.Handle(ctx, application.RevealCommand{Token: token})
		if errors.Is(err, domain.ErrLinkExhausted) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if succeeded > max {
			break
		}
	}
	if succeeded != max {
		t.Fatalf("the link revealed %d times, it allows %d", succeeded, max)
	}
}

func TestRollbackRacingARevealKeepsTheLimitOnMemory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	_, token := deliveredToken(t, w)
	tx := &rollbackRacingTx{}
	app := w.app(func(d *application.Deps, _ *application.Settings) { tx.Transactor = d.Tx; d.Tx = tx })
	assertRollbackRacingRevealKeepsTheLimit(t, app.Commands.RevealKeys, tx, token, 3)
}

func TestRollbackRacingARevealKeepsTheLimitOnPostgres(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	_, token := pgDelivered(t, w)
	assertRollbackRacingRevealKeepsTheLimit(t, w.app.Commands.RevealKeys, w.tx, token, 3)
}
