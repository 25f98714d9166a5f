package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

type seqIDs struct{ n atomic.Int64 }

func (s *seqIDs) NewID() string { return fmt.Sprintf("wh-%d", s.n.Add(1)) }

// piggyOutbox carries the webhook statement inside its own, as the SQL
// outbox does; it fails when told to.
type piggyOutbox struct {
	fail  bool
	carry int
}

func (p *piggyOutbox) PublishTx(context.Context, *sql.Tx, ...domain.Event) error { return nil }

func (p *piggyOutbox) PublishTxWith(ctx context.Context, tx *sql.Tx, with string, args []any, _ ...domain.Event) error {
	p.carry++
	if _, err := tx.ExecContext(ctx, `WITH piggyback AS (`+with+`) SELECT $1::text, $2::text`, append([]any{"a", "b"}, args...)...); err != nil {
		return err
	}
	if p.fail {
		return errors.New("outbox down")
	}
	return nil
}

// TestWebhookMessagesCommitWithTheOrder: a save writes the webhook
// messages of its events in its transaction, through the outbox's own
// statement when it carries one or on its own otherwise; a save that rolls
// back leaves none.
func TestWebhookMessagesCommitWithTheOrder(t *testing.T) {
	t.Parallel()
	for _, piggy := range []bool{true, false} {
		t.Run(fmt.Sprintf("piggyback=%v", piggy), func(t *testing.T) {
			t.Parallel()
			db := pgtest.NewDB(t)
			hooks := postgres.NewWebhooks(db)
			if err := hooks.CreateEndpoint(t.Context(), domain.WebhookEndpoint{ID: "ep", URL: "https://shop.example/h", Events: []string{"order.paid", "order.placed"},
				Secret: "sealed", CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
			inner := &piggyOutbox{}
			var next postgres.Outbox = postgres.NoOutbox{}
			if piggy {
				next = inner
			}
			orders := postgres.NewOrders(db, postgres.NewWebhookOutbox(next, hooks, &seqIDs{}))
			if err := orders.Create(t.Context(), pendingOrder(t, "ord-1")); err != nil {
				t.Fatal(err)
			}
			if _, err := orders.Update(t.Context(), "ord-1", pay); err != nil {
				t.Fatal(err)
			}
			var types []string
			if err := db.SelectContext(t.Context(), &types, `SELECT type FROM webhook_messages WHERE order_id = 'ord-1' ORDER BY id`); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(types) != "[order.placed order.paid]" {
				t.Fatalf("messages %v, want order.placed then order.paid", types)
			}
			if piggy && inner.carry != 2 {
				t.Fatalf("the outbox carried %d webhook statements, want 2", inner.carry)
			}
			if !piggy {
				return
			}
			inner.fail = true
			if err := orders.Create(t.Context(), pendingOrder(t, "ord-2")); err == nil {
				t.Fatal("a failing outbox saved the order")
			}
			var n int
			if err := db.GetContext(t.Context(), &n, `SELECT count(*) FROM webhook_messages WHERE order_id = 'ord-2'`); err != nil || n != 0 {
				t.Fatalf("%d messages of a rolled-back save (%v)", n, err)
			}
		})
	}
}
