package porttest

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// DeadLetters runs the ports.DeadLetters contract's counting and
// bookkeeping: what the dead-letter gauge and an operator's replay and
// discard rely on. newStore returns an empty store per call.
func DeadLetters(t *testing.T, newStore func(t *testing.T) ports.DeadLetters) {
	t.Helper()
	t.Run("count follows add, replay and delete", func(t *testing.T) {
		t.Parallel()
		s, ctx := newStore(t), t.Context()
		count := func(want int) {
			t.Helper()
			if n, err := s.Count(ctx); err != nil || n != want {
				t.Fatalf("Count = %d, %v; want %d", n, err, want)
			}
		}
		count(0)
		for _, id := range []string{"dl-1", "dl-2", "dl-3"} {
			l := ports.DeadLetter{ID: id, Topic: "order.paid", OrderID: "ord-" + id, Reason: "boom", Attempts: 5,
				Payload: []byte(`{}`), Metadata: map[string]string{"k": "v"}, CreatedAt: suiteT0}
			if err := s.Add(ctx, l); err != nil {
				t.Fatalf("Add(%s): %v", id, err)
			}
		}
		if err := s.Add(ctx, ports.DeadLetter{ID: "dl-1", Topic: "order.paid", Payload: []byte(`{}`), CreatedAt: suiteT0}); !errors.Is(err, domain.ErrConflict) {
			t.Errorf("Add of an existing id = %v, want ErrConflict", err)
		}
		count(3)
		if first, err := s.MarkReplayed(ctx, "dl-2", suiteT0); err != nil || !first {
			t.Fatalf("MarkReplayed = %v, %v; want the first replay", first, err)
		}
		if again, err := s.MarkReplayed(ctx, "dl-2", suiteT0); err != nil || again {
			t.Fatalf("MarkReplayed again = %v, %v; want not the first", again, err)
		}
		count(2) // a replayed letter waits for no one
		if err := s.Delete(ctx, "dl-1"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "dl-1"); !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("Delete of a deleted letter = %v, want ErrNotFound", err)
		}
		count(1)
	})
}
