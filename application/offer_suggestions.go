package application

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// OfferSuggestion is a group of offers of several suppliers that look like
// one game (the same normalised title, platform and region), with how
// sure the match is. An admin confirms it by linking the offers to a
// product; keyward never links them on its own.
type OfferSuggestion struct {
	Key        domain.OfferKey
	Confidence float64
	Offers     []domain.Offer // by supplier, then product id
}

// SuggestOfferLinks finds offers of different suppliers that match.
type SuggestOfferLinks struct{ offers ports.OfferRepository }

// NewSuggestOfferLinks wires SuggestOfferLinks.
func NewSuggestOfferLinks(offers ports.OfferRepository) SuggestOfferLinks {
	require("SuggestOfferLinks", "offers", offers)
	return SuggestOfferLinks{offers: offers}
}

// offerPage is how many offers one read takes.
const offerPage = 1000

// Handle returns up to limit suggestions, surest first, then by title. A
// group's confidence is the lowest of its pairs across suppliers.
func (h SuggestOfferLinks) Handle(ctx context.Context, limit int) ([]OfferSuggestion, error) {
	groups := map[domain.OfferKey][]domain.Offer{}
	var after domain.OfferRef
	for {
		page, err := h.offers.List(ctx, after, offerPage)
		if err != nil {
			return nil, fmt.Errorf("list offers: %w", err)
		}
		for _, o := range page {
			if k := o.Key(); k.Title != "" {
				groups[k] = append(groups[k], o)
			}
		}
		if len(page) < offerPage {
			break
		}
		after = page[len(page)-1].Ref()
	}
	var out []OfferSuggestion
	for k, os := range groups {
		conf, pairs := 1.0, 0
		for i := range os {
			for j := i + 1; j < len(os); j++ {
				if os[i].Supplier != os[j].Supplier {
					conf, pairs = min(conf, domain.MatchConfidence(os[i], os[j])), pairs+1
				}
			}
		}
		if pairs > 0 && conf > 0 {
			out = append(out, OfferSuggestion{Key: k, Confidence: conf, Offers: os})
		}
	}
	slices.SortFunc(out, func(a, b OfferSuggestion) int {
		if c := cmp.Compare(b.Confidence, a.Confidence); c != 0 {
			return c
		}
		return cmp.Compare(a.Key.Title+"|"+a.Key.Platform+"|"+a.Key.Region, b.Key.Title+"|"+b.Key.Platform+"|"+b.Key.Region)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}
