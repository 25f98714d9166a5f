package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/domain"
)

func TestNewKeyRevelation(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	link, err := domain.NewDeliveryLink("link-1", o.ID(), domain.HashToken("tok"), t0, time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	other, err := domain.NewDeliveryLink("link-2", "another-order", domain.HashToken("tok2"), t0, time.Hour, 3)
	if err != nil {
		t.Fatal(err)
	}
	access := domain.RevealAccess{IP: "192.0.2.7", UserAgent: "Mozilla/5.0"}
	cases := []struct {
		name  string
		id    string
		order *domain.Order
		item  string
		link  *domain.DeliveryLink
		at    time.Time
		want  error
	}{
		{"valid", "rev-1", o, "item-2", link, t0, nil},
		{"no id", "", o, "item-2", link, t0, domain.ErrInvalidRevelation},
		{"no order", "rev-1", nil, "item-2", link, t0, domain.ErrInvalidRevelation},
		{"no link", "rev-1", o, "item-2", nil, t0, domain.ErrInvalidRevelation},
		{"another order's link", "rev-1", o, "item-2", other, t0, domain.ErrInvalidRevelation},
		{"an item of no order", "rev-1", o, "item-9", link, t0, domain.ErrInvalidRevelation},
		{"no item", "rev-1", o, "", link, t0, domain.ErrInvalidRevelation},
		{"no time", "rev-1", o, "item-2", link, time.Time{}, domain.ErrInvalidRevelation},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r, err := domain.NewKeyRevelation(c.id, c.order, c.item, c.link, access, c.at, true)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if err != nil {
				if r != (domain.KeyRevelation{}) {
					t.Fatalf("a refused revelation was returned: %+v", r)
				}
				return
			}
			if r.ID() != "rev-1" || r.OrderID() != o.ID() || r.ItemID() != "item-2" || r.LinkID() != "link-1" ||
				r.Email() != o.Email() || r.Access() != access || !r.At().Equal(t0) || !r.First() {
				t.Fatalf("revelation %+v", r.Snapshot())
			}
		})
	}
}

func TestUnmarshalKeyRevelation(t *testing.T) {
	t.Parallel()
	o := inState(t, domain.StatusDelivered)
	link, _ := domain.NewDeliveryLink("link-1", o.ID(), domain.HashToken("tok"), t0, time.Hour, 3)
	r, err := domain.NewKeyRevelation("rev-1", o, "item-1", link, domain.RevealAccess{IP: "192.0.2.7", UserAgent: "ua"}, t0, false)
	if err != nil {
		t.Fatal(err)
	}
	back, err := domain.UnmarshalKeyRevelation(r.Snapshot())
	if err != nil || back != r {
		t.Fatalf("round trip: %+v, %v; want %+v", back.Snapshot(), err, r.Snapshot())
	}
	corrupt := []func(*domain.KeyRevelationSnapshot){
		func(s *domain.KeyRevelationSnapshot) { s.ID = "" },
		func(s *domain.KeyRevelationSnapshot) { s.OrderID = "" },
		func(s *domain.KeyRevelationSnapshot) { s.ItemID = "" },
		func(s *domain.KeyRevelationSnapshot) { s.LinkID = "" },
		func(s *domain.KeyRevelationSnapshot) { s.Email = domain.Email{} },
		func(s *domain.KeyRevelationSnapshot) { s.At = time.Time{} },
	}
	for i, f := range corrupt {
		s := r.Snapshot()
		f(&s)
		if _, err := domain.UnmarshalKeyRevelation(s); !errors.Is(err, domain.ErrInvalidRevelation) {
			t.Errorf("corruption %d: err = %v, want ErrInvalidRevelation", i, err)
		}
	}
	s := r.Snapshot()
	s.IP, s.UserAgent, s.First = "", "", true // an unknown client is still a revelation
	if _, err := domain.UnmarshalKeyRevelation(s); err != nil {
		t.Errorf("a revelation without client details: %v", err)
	}
}
