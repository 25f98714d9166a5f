package http

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
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

// TestOpenAPIOperationsHaveExamples: every request body and every answer
// with a body (problems aside: they share one documented model) shows an
// example, a JSON example is valid against its schema, and a success other
// than 204 documents the body it answers.
func TestOpenAPIOperationsHaveExamples(t *testing.T) {
	t.Parallel()
	doc := servedDocument(t)
	for _, op := range documentOperations(doc) {
		t.Run(op.OperationID, func(t *testing.T) {
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Content {
					checkExample(t, doc, "request "+ct, mt, huma.ModeWriteToServer)
				}
			}
			for status, r := range op.Responses {
				if strings.HasPrefix(status, "2") && status != "204" && len(r.Content) == 0 {
					t.Errorf("%s: no content documented", status)
				}
				for ct, mt := range r.Content {
					if ct != "application/problem+json" {
						checkExample(t, doc, status+" "+ct, mt, huma.ModeReadFromServer)
					}
				}
			}
		})
	}
}

// checkExample fails unless mt has an example and, for JSON, one its schema
// accepts.
func checkExample(t *testing.T, doc *huma.OpenAPI, where string, mt *huma.MediaType, mode huma.ValidateMode) {
	t.Helper()
	examples := []any{mt.Example}
	if mt.Example == nil {
		examples = examples[:0]
		for _, e := range mt.Examples {
			examples = append(examples, e.Value)
		}
	}
	if len(examples) == 0 {
		t.Errorf("%s: no example", where)
		return
	}
	if !strings.Contains(where, "json") || mt.Schema == nil {
		return
	}
	for _, ex := range examples {
		b, err := json.Marshal(ex)
		if err != nil {
			t.Fatalf("%s: example: %v", where, err)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: example: %v", where, err)
		}
		res := &huma.ValidateResult{}
		huma.Validate(doc.Components.Schemas, mt.Schema, huma.NewPathBuffer([]byte{}, 0), mode, v, res)
		for _, e := range res.Errors {
			t.Errorf("%s: example does not match its schema: %v", where, e)
		}
	}
}

// TestOpenAPIDescribesRoutesServedOutsideHuma: the reveal page, the
// metrics, the docs page and the document itself are served by plain
// handlers, yet a reader of the docs finds them there.
func TestOpenAPIDescribesRoutesServedOutsideHuma(t *testing.T) {
	t.Parallel()
	doc := servedDocument(t)
	for _, route := range []struct{ method, path string }{
		{"GET", "/deliver/{token}"}, {"POST", "/deliver/{token}"}, {"GET", "/metrics"},
		{"GET", "/docs"}, {"GET", "/openapi.json"}, {"GET", "/openapi.yaml"},
	} {
		item := doc.Paths[route.path]
		var op *huma.Operation
		if item != nil {
			op = map[string]*huma.Operation{"GET": item.Get, "POST": item.Post}[route.method]
		}
		if op == nil || op.Summary == "" || op.Description == "" {
			t.Errorf("%s %s is not described", route.method, route.path)
		}
	}
	// What needs no application is served as described.
	h, _ := NewHandler(application.App{}, Options{Version: "test", RateLimits: &RateLimits{}}, slog.New(slog.DiscardHandler))
	for _, path := range []string{"/docs", "/openapi.json", "/openapi.yaml"} {
		resp := httptest.NewRecorder()
		h.ServeHTTP(resp, httptest.NewRequest(http.MethodGet, path, nil))
		served, _, _ := strings.Cut(resp.Header().Get("Content-Type"), ";")
		var documented []string
		if item := doc.Paths[path]; item != nil && item.Get != nil {
			for mt := range item.Get.Responses["200"].Content {
				base, _, _ := strings.Cut(mt, ";")
				documented = append(documented, base)
			}
		}
		if resp.Code != http.StatusOK || len(documented) != 1 || documented[0] != served {
			t.Errorf("GET %s: %d %q, documented as %q", path, resp.Code, served, documented)
		}
	}
}
