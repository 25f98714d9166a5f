package http

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
)

type tokenInput struct {
	Token string `path:"token" maxLength:"128" doc:"The delivery token from the email link"`
}

type deliveryItemBody struct {
	SKU      string `json:"sku" example:"cyberpunk-2077-gog-global" doc:"The product delivered"`
	Name     string `json:"name" example:"Cyberpunk 2077" doc:"The product's name"`
	Quantity int    `json:"quantity" example:"1" doc:"Keys of this product the link reveals"`
}

type deliveryOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		OrderID     string             `json:"order_id" doc:"The order the link delivers"`
		ExpiresAt   time.Time          `json:"expires_at" doc:"When the link stops revealing (RFC 3339, UTC)"`
		RevealsLeft int                `json:"reveals_left" doc:"Reveals the link still allows"`
		Revealable  bool               `json:"revealable" doc:"Whether POST …/reveal would show the keys now; when false, reason says why"`
		Reason      string             `json:"reason,omitempty" doc:"Why the link cannot reveal: expired, revoked or exhausted"`
		Items       []deliveryItemBody `json:"items" doc:"What the link delivers, without the keys"`
	}
}

type revealInput struct {
	Token     string `path:"token" maxLength:"128" doc:"The delivery token from the email link"`
	UserAgent string `header:"User-Agent" doc:"Recorded with the reveal (who revealed the keys), as browsers send it"`
	ip        string
}

// Resolve captures the client address for the revelation record.
func (in *revealInput) Resolve(ctx huma.Context) []error {
	in.ip = clientIP(ctx.Context())
	return nil
}

// KeyBody is a revealed key: text, or an image as base64.
type KeyBody struct {
	Type        string `json:"type" enum:"text,image" doc:"text: the key is in value; image: the key is a picture in data_base64"`
	Value       string `json:"value,omitempty" doc:"The key, for type text"`
	ContentType string `json:"content_type,omitempty" doc:"For type image"`
	DataBase64  string `json:"data_base64,omitempty" doc:"Standard base64 image bytes, for type image"`
}

type revealedItemBody struct {
	ItemID string    `json:"item_id" example:"0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a01" doc:"The order item: what POST /v1/deliveries/{token}/claims names when its key does not work"`
	SKU    string    `json:"sku" example:"cyberpunk-2077-gog-global" doc:"The product"`
	Name   string    `json:"name" example:"Cyberpunk 2077" doc:"The product's name"`
	Keys   []KeyBody `json:"keys" doc:"One entry per key bought; a key replaced on a claim is not shown, its replacement is"`
}

type revealOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		OrderID     string             `json:"order_id" doc:"The order the keys belong to"`
		Items       []revealedItemBody `json:"items" doc:"The keys, per product"`
		RevealsLeft int                `json:"reveals_left" doc:"Reveals the link still allows after this one"`
		ExpiresAt   time.Time          `json:"expires_at" doc:"When the link stops revealing (RFC 3339, UTC)"`
		FirstReveal bool               `json:"first_reveal" doc:"true on this link's first reveal, false when it was revealed before"`
	}
}

func (s *Server) registerDeliveries(api huma.API) {
	huma.Register(api, huma.Operation{
		OperationID: "get-delivery", Method: http.MethodGet, Path: "/v1/deliveries/{token}",
		Summary: "Delivery link status", Description: "Describes the link without revealing or consuming anything.",
		Tags: []string{"Delivery"}, Security: publicSecurity, Errors: []int{http.StatusNotFound, http.StatusTooManyRequests},
	}, func(ctx context.Context, in *tokenInput) (*deliveryOutput, error) {
		st, err := s.app.Queries.DescribeDelivery.Handle(ctx, in.Token)
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &deliveryOutput{CacheControl: "no-store"}
		out.Body.OrderID, out.Body.ExpiresAt = st.Order.ID(), st.Link.ExpiresAt().UTC()
		out.Body.RevealsLeft, out.Body.Revealable = st.Link.RevealsLeft(), st.Problem == nil
		if st.Problem != nil {
			out.Body.Reason = reason(st.Problem)
		}
		for _, it := range st.Order.Items() {
			out.Body.Items = append(out.Body.Items, deliveryItemBody{SKU: it.SKU(), Name: it.Name(), Quantity: it.Quantity()})
		}
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "reveal-keys", Method: http.MethodPost, Path: "/v1/deliveries/{token}/reveal",
		Summary: "Reveal keys", Description: "Consumes one reveal, records who revealed (IP, user agent, time) and returns the keys.",
		Tags: []string{"Delivery"}, Security: publicSecurity,
		Errors: []int{http.StatusNotFound, http.StatusGone, http.StatusTooManyRequests, http.StatusServiceUnavailable},
	}, func(ctx context.Context, in *revealInput) (*revealOutput, error) {
		rv, err := s.app.Commands.RevealKeys.Handle(ctx, application.RevealCommand{Token: in.Token, IP: in.ip, UserAgent: in.UserAgent})
		if err != nil {
			return nil, problem(s.log, err)
		}
		out := &revealOutput{CacheControl: "no-store"}
		out.Body.OrderID, out.Body.RevealsLeft, out.Body.FirstReveal = rv.Order.ID(), rv.Link.RevealsLeft(), rv.First
		out.Body.ExpiresAt = rv.Link.ExpiresAt().UTC()
		out.Body.Items = revealedItems(rv.Items)
		return out, nil
	})
}

func revealedItems(items []application.RevealedItem) []revealedItemBody {
	out := make([]revealedItemBody, 0, len(items))
	for _, it := range items {
		b := revealedItemBody{ItemID: it.ItemID, SKU: it.SKU, Name: it.Name}
		for _, k := range it.Keys {
			if k.ContentType == "" || k.ContentType == "text/plain" {
				b.Keys = append(b.Keys, KeyBody{Type: "text", Value: string(k.Data)})
				continue
			}
			b.Keys = append(b.Keys, KeyBody{Type: "image", ContentType: k.ContentType, DataBase64: base64.StdEncoding.EncodeToString(k.Data)})
		}
		out = append(out, b)
	}
	return out
}

// reason names why a delivery link cannot reveal, by errorTable.
func reason(err error) string {
	if r := ruleFor(err); r.reason != "" {
		return r.reason
	}
	return "unavailable"
}
