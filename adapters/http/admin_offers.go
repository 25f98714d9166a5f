package http

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// OfferBody is one supplier's offer of a product.
type OfferBody struct {
	Supplier          string     `json:"supplier" example:"kinguin" doc:"The supplier selling it (a name in KEYWARD_SUPPLIERS)"`
	SupplierProductID string     `json:"supplier_product_id" example:"5c9b5f6b2539a4e8f172916a" doc:"The supplier's id of the product"`
	Name              string     `json:"name" example:"Cyberpunk 2077" doc:"The product's name at the supplier"`
	Cost              MoneyBody  `json:"cost" doc:"What one key costs from this supplier, as its catalog last said"`
	Stock             int        `json:"stock" example:"42" doc:"Keys the supplier had, as its catalog last said"`
	Region            string     `json:"region" example:"Region free" doc:"Where the key activates, as the supplier names it"`
	Platform          string     `json:"platform" example:"Steam" doc:"Where the key is redeemed, as the supplier names it"`
	Preorder          bool       `json:"preorder" doc:"The keys come after the game's release"`
	UpdatedAt         *time.Time `json:"updated_at" doc:"When the supplier last changed the offer; null when it does not say"`
}

func offerBody(o domain.Offer) OfferBody {
	b := OfferBody{Supplier: o.Supplier, SupplierProductID: o.SupplierProductID, Name: o.Name, Cost: moneyBody(o.Cost),
		Stock: o.Stock, Region: o.Region, Platform: o.Platform, Preorder: o.Preorder}
	if !o.UpdatedAt.IsZero() {
		t := o.UpdatedAt
		b.UpdatedAt = &t
	}
	return b
}

// OfferRefBody names one supplier's offer.
type OfferRefBody struct {
	Supplier          string `json:"supplier" minLength:"1" maxLength:"64" example:"codeswholesale" doc:"A supplier in KEYWARD_SUPPLIERS"`
	SupplierProductID string `json:"supplier_product_id" minLength:"1" maxLength:"200" example:"6a1f7e0c-2b4d-4c8e-9f3a-1d2e3f4a5b6c" doc:"The supplier's id of the product, as its synced catalog lists it"`
}

type productOffersPath struct {
	SKU string `path:"sku" maxLength:"64" example:"cyberpunk-2077-gog-global" doc:"The product's sku"`
}

type setProductOffersInput struct {
	SKU  string `path:"sku" maxLength:"64" example:"cyberpunk-2077-gog-global" doc:"The product's sku"`
	Body struct {
		Offers []OfferRefBody `json:"offers" maxItems:"20" doc:"Every offer the product is bought from: replaces the list (empty: none)"`
	}
}

type productOffersOutput struct {
	Body struct {
		Items []OfferBody `json:"items" doc:"The product's offers, cheapest first: the order fulfilment tries them in"`
	}
}

func productOffersBody(os []domain.Offer) *productOffersOutput {
	out := &productOffersOutput{}
	out.Body.Items = make([]OfferBody, 0, len(os))
	for _, o := range os {
		out.Body.Items = append(out.Body.Items, offerBody(o))
	}
	return out
}

func (s *Server) registerAdminOffers(api huma.API) {
	errs := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound}
	huma.Register(api, huma.Operation{
		OperationID: "admin-list-product-offers", Method: http.MethodGet, Path: "/v1/admin/products/{sku}/offers",
		Summary:     "List the suppliers' offers a product is bought from",
		Description: "Cheapest first. Each item is bought from the first offer that can sell it: in stock, within the price guard, at a supplier whose circuit breaker is closed.",
		Tags:        []string{"Admin"}, Security: supportSecurity, Errors: errs,
	}, func(ctx context.Context, in *productOffersPath) (*productOffersOutput, error) {
		os, err := s.app.Queries.ProductOffers.Handle(ctx, in.SKU)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return productOffersBody(os), nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "admin-set-product-offers", Method: http.MethodPut, Path: "/v1/admin/products/{sku}/offers",
		Summary: "Choose the suppliers' offers a product is bought from",
		Description: "Replaces the list. Each offer must be one a configured supplier's synced catalog lists (422 otherwise). " +
			"The cheapest becomes the product's source, and its price follows that cost unless pinned. keyward never links offers by itself: " +
			"GET /v1/admin/offers/suggestions proposes, an admin confirms here.",
		Tags: []string{"Admin"}, Security: adminSecurity, Errors: append(errs, http.StatusUnprocessableEntity),
	}, func(ctx context.Context, in *setProductOffersInput) (*productOffersOutput, error) {
		cmd := application.SetProductOffersCommand{Actor: actorFrom(ctx), SKU: in.SKU}
		for _, o := range in.Body.Offers {
			cmd.Offers = append(cmd.Offers, domain.OfferRef{Supplier: o.Supplier, SupplierProductID: o.SupplierProductID})
		}
		os, err := s.app.Commands.SetProductOffers.Handle(ctx, cmd)
		if err != nil {
			return nil, problem(s.log, err)
		}
		return productOffersBody(os), nil
	})
}

func init() {
	at := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	ex := func() any {
		out := productOffersBody([]domain.Offer{
			{Supplier: "codeswholesale", SupplierProductID: "6a1f7e0c-2b4d-4c8e-9f3a-1d2e3f4a5b6c", Name: "Cyberpunk 2077 GOG CD Key",
				Cost: domain.MustMoney("16.90", "EUR"), Stock: 31, Region: "WORLDWIDE", Platform: "GOG.com", UpdatedAt: at},
			{Supplier: "kinguin", SupplierProductID: "5c9b5f6b2539a4e8f172916a", Name: "Cyberpunk 2077 GOG CD Key",
				Cost: domain.MustMoney("17.49", "EUR"), Stock: 240, Region: "Region free", Platform: "GOG COM", UpdatedAt: at},
		})
		return out.Body
	}()
	operationExamples["admin-list-product-offers"] = operationExample{responses: map[string]any{"200": ex}}
	operationExamples["admin-set-product-offers"] = operationExample{
		request: map[string]any{"offers": []OfferRefBody{
			{Supplier: "kinguin", SupplierProductID: "5c9b5f6b2539a4e8f172916a"},
			{Supplier: "codeswholesale", SupplierProductID: "6a1f7e0c-2b4d-4c8e-9f3a-1d2e3f4a5b6c"},
		}},
		responses: map[string]any{"200": ex},
	}
}

// OfferSuggestionBody is a group of offers of several suppliers that look
// like one game.
type OfferSuggestionBody struct {
	Title      string      `json:"title" example:"cyberpunk 2077" doc:"The normalised title the offers share (lower case, no punctuation or filler words such as CD Key)"`
	Platform   string      `json:"platform" example:"gog" doc:"The normalised platform they share"`
	Region     string      `json:"region" example:"global" doc:"The normalised region they share (Kinguin's Region free and CodesWholesale's WORLDWIDE are global)"`
	Confidence float64     `json:"confidence" minimum:"0" maximum:"1" example:"1" doc:"1: the titles differ only in case and punctuation; 0.8: only once filler words are dropped"`
	Offers     []OfferBody `json:"offers" doc:"The offers, of two suppliers or more: link them with PUT /v1/admin/products/{sku}/offers to confirm"`
}

type offerSuggestionsInput struct {
	Limit int `query:"limit" minimum:"1" maximum:"500" default:"100" doc:"The most suggestions returned, surest first"`
}

type offerSuggestionsOutput struct {
	Body struct {
		Items []OfferSuggestionBody `json:"items" doc:"Surest first; nothing is linked until an admin confirms"`
	}
}

func (s *Server) registerOfferSuggestions(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "admin-offer-suggestions", Method: http.MethodGet, Path: "/v1/admin/offers/suggestions",
		Summary: "Suggest offers of several suppliers that are one game",
		Description: "Offers whose normalised title, platform and region are the same across suppliers, with a confidence. " +
			"keyward never links them on a guess: an admin confirms with PUT /v1/admin/products/{sku}/offers.",
		Tags: []string{"Admin"}, Security: supportSecurity, Errors: []int{http.StatusUnauthorized, http.StatusForbidden},
	}, func(ctx context.Context, in *offerSuggestionsInput) (*offerSuggestionsOutput, error) {
		all, err := s.app.Queries.OfferSuggestions.Handle(ctx, in.Limit)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &offerSuggestionsOutput{}
		out.Body.Items = make([]OfferSuggestionBody, 0, len(all))
		for _, sg := range all {
			out.Body.Items = append(out.Body.Items, offerSuggestionBody(sg))
		}
		return out, nil
	})
}

func offerSuggestionBody(sg application.OfferSuggestion) OfferSuggestionBody {
	b := OfferSuggestionBody{Title: sg.Key.Title, Platform: sg.Key.Platform, Region: sg.Key.Region, Confidence: sg.Confidence}
	b.Offers = productOffersBody(sg.Offers).Body.Items
	return b
}

func init() {
	at := time.Date(2026, 11, 27, 11, 40, 0, 0, time.UTC)
	out := offerSuggestionsOutput{}
	out.Body.Items = []OfferSuggestionBody{offerSuggestionBody(application.OfferSuggestion{
		Key: domain.OfferKey{Title: "cyberpunk 2077", Platform: "gog", Region: "global"}, Confidence: 1,
		Offers: []domain.Offer{
			{Supplier: "codeswholesale", SupplierProductID: "6a1f7e0c-2b4d-4c8e-9f3a-1d2e3f4a5b6c", Name: "Cyberpunk 2077 - GOG CD-Key",
				Cost: domain.MustMoney("16.90", "EUR"), Stock: 31, Region: "WORLDWIDE", Platform: "GOG.com", UpdatedAt: at},
			{Supplier: "kinguin", SupplierProductID: "5c9b5f6b2539a4e8f172916a", Name: "Cyberpunk 2077 GOG CD Key",
				Cost: domain.MustMoney("17.49", "EUR"), Stock: 240, Region: "Region free", Platform: "GOG COM", UpdatedAt: at},
		},
	})}
	operationExamples["admin-offer-suggestions"] = operationExample{responses: map[string]any{"200": out.Body}}
}
