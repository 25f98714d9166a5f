package domain_test

import (
	"testing"

	"github.com/keyward/keyward/domain"
)

func TestOfferMatchNormalisesTitlePlatformAndRegion(t *testing.T) {
	t.Parallel()
	kinguin := domain.Offer{Supplier: "kinguin", Name: "Cyberpunk 2077 GOG CD Key", Platform: "GOG COM", Region: "Region free"}
	for _, c := range []struct {
		name string
		cw   domain.Offer
		want float64
	}{
		{"same words, other spelling", domain.Offer{Name: "Cyberpunk 2077 - GOG CD-Key", Platform: "GOG.com", Region: "WORLDWIDE"}, 1},
		{"filler words", domain.Offer{Name: "Cyberpunk 2077", Platform: "gog.com", Region: "Worldwide"}, 0.8},
		{"another region", domain.Offer{Name: "Cyberpunk 2077", Platform: "GOG.com", Region: "EUROPE"}, 0},
		{"another platform", domain.Offer{Name: "Cyberpunk 2077", Platform: "Steam", Region: "WORLDWIDE"}, 0},
		{"another game", domain.Offer{Name: "Cyberpunk 2077 Phantom Liberty", Platform: "GOG.com", Region: "WORLDWIDE"}, 0},
	} {
		if got := domain.MatchConfidence(kinguin, c.cw); got != c.want {
			t.Errorf("%s: MatchConfidence(%q, %q) = %v, want %v (keys %+v, %+v)", c.name, kinguin.Name, c.cw.Name, got, c.want, kinguin.Key(), c.cw.Key())
		}
	}
	if k := (domain.Offer{Region: "Region free"}).Key().Region; k != (domain.Offer{Region: "WORLDWIDE"}).Key().Region {
		t.Errorf("Region free is %q, WORLDWIDE is not the same", k)
	}
}
