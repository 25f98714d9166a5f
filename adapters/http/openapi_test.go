package http

import (
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"
)

type operation struct {
	method, path string
	op           *huma.Operation
}

// operations lists the operations of api's document, sorted by path.
func operations(api humatest.TestAPI) []operation {
	var ops []operation
	for path, item := range api.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post} {
			if op != nil {
				ops = append(ops, operation{method, path, op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}

// TestOpenAPIDeclaresSecurityAndErrors: every operation says what
// credentials it needs and documents the error statuses it can answer, so a
// generated client can rely on the document.
func TestOpenAPIDeclaresSecurityAndErrors(t *testing.T) {
	t.Parallel()
	api, _, _ := newTestAPI(t)
	for _, o := range operations(api) {
		op, path := o.op, o.path
		t.Run(o.method+" "+path, func(t *testing.T) {
			if op.Security == nil {
				t.Fatal("no security requirement")
			}
			var want []int
			if requires(op, adminKeyScheme) || requires(op, orderTokenScheme) {
				want = append(want, http.StatusUnauthorized)
			}
			if len(op.Parameters) > 0 || op.RequestBody != nil {
				want = append(want, http.StatusUnprocessableEntity)
			}
			if strings.HasPrefix(path, "/v1/deliveries/") || strings.HasPrefix(path, "/v1/webhooks/") || requires(op, adminKeyScheme) {
				want = append(want, http.StatusTooManyRequests) // the rate limits
			}
			for _, code := range want {
				if op.Responses[strconv.Itoa(code)] == nil {
					t.Errorf("does not document %d", code)
				}
			}
		})
	}
	ipn := api.OpenAPI().Paths["/v1/webhooks/nowpayments"].Post
	for _, p := range ipn.Parameters {
		if p.In == "header" && p.Name == "x-nowpayments-sig" {
			return
		}
	}
	t.Fatal("the IPN signature header is not documented")
}
