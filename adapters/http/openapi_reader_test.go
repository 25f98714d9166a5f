package http

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/adapters/sandbox"
	"github.com/keyward/keyward/application"
)

// servedDocument is the document NewHandler serves at /openapi.json, with
// the sandbox operations the embedded default adds.
func servedDocument(t *testing.T) *huma.OpenAPI {
	t.Helper()
	opts := Options{Version: "test", RateLimits: &RateLimits{}, Extra: []func(huma.API){sandbox.PaymentsAPI(nil)}}
	_, api := NewHandler(application.App{}, opts, slog.New(slog.DiscardHandler))
	return api.OpenAPI()
}

// documentOperations lists every operation of doc, whatever its method.
func documentOperations(doc *huma.OpenAPI) []*huma.Operation {
	var ops []*huma.Operation
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op != nil {
				ops = append(ops, op)
			}
		}
	}
	return ops
}

// TestOpenAPIPropertiesAreDescribed: a front-end developer reads what a
// field means in the document, so every property of every schema (named or
// inline) and every parameter carries a description.
func TestOpenAPIPropertiesAreDescribed(t *testing.T) {
	t.Parallel()
	doc := servedDocument(t)
	var undescribed []string
	var walk func(where string, s *huma.Schema)
	walk = func(where string, s *huma.Schema) {
		if s == nil {
			return
		}
		for name, p := range s.Properties {
			if strings.TrimSpace(p.Description) == "" {
				undescribed = append(undescribed, where+"."+name)
			}
			walk(where+"."+name, p)
		}
		walk(where+"[]", s.Items)
		if extra, ok := s.AdditionalProperties.(*huma.Schema); ok {
			walk(where+"{}", extra)
		}
		for _, sub := range append(append(append([]*huma.Schema{}, s.AllOf...), s.AnyOf...), s.OneOf...) {
			walk(where, sub)
		}
	}
	for name, s := range doc.Components.Schemas.Map() {
		walk(name, s)
	}
	for _, op := range documentOperations(doc) {
		for _, p := range op.Parameters {
			if strings.TrimSpace(p.Description) == "" {
				undescribed = append(undescribed, op.OperationID+" parameter "+p.Name)
			}
			walk(op.OperationID+" parameter "+p.Name, p.Schema)
		}
		if op.RequestBody != nil {
			for ct, mt := range op.RequestBody.Content {
				walk(op.OperationID+" request "+ct, mt.Schema)
			}
		}
		for status, r := range op.Responses {
			for ct, mt := range r.Content {
				walk(op.OperationID+" "+status+" "+ct, mt.Schema)
			}
		}
	}
	if len(undescribed) > 0 {
		t.Errorf("%d properties and parameters without a description:\n%s", len(undescribed), strings.Join(undescribed, "\n"))
	}
}
