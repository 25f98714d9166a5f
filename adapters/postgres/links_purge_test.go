package postgres_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/adapters/postgres"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/domain"
)

func TestDeleteExpiredLinks(t *testing.T) {
	t.Parallel()
	links := postgres.NewLinks(pgtest.NewDB(t))
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for i, expires := range []time.Time{now.Add(-time.Hour), now.Add(-2 * time.Hour), now.Add(time.Hour)} {
		l, err := domain.NewDeliveryLink(string(rune('a'+i)), "order-1", domain.HashToken(string(rune('a'+i))+"-token"), expires.Add(-15*time.Minute), 15*time.Minute, 3)
		if err != nil {
			t.Fatal(err)
		}
		if err := links.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := links.DeleteExpired(t.Context(), now, 1); err != nil || n != 1 {
		t.Fatalf("first batch: %d %v", n, err)
	}
	if n, err := links.DeleteExpired(t.Context(), now, 10); err != nil || n != 1 {
		t.Fatalf("second batch: %d %v", n, err)
	}
	left, err := links.ListByOrder(t.Context(), "order-1")
	if err != nil || len(left) != 1 || left[0].ID() != "c" {
		t.Fatalf("left %v %v, want the live link", left, err)
	}
}
