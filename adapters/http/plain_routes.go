package http

import (
	"net/http"

	"github.com/danielgtaylor/huma/v2"
)

// describePlainRoutes adds to api's document the routes served by plain
// handlers beside Huma (the reveal page, the metrics, the docs page and
// the document itself), so that a reader of the docs finds them. It only
// describes them: how they are served stays in page.go, ops.go, docs.go
// and Huma's own document handlers.
func describePlainRoutes(api huma.API) {
	doc := api.OpenAPI()
	token := &huma.Param{Name: "token", In: "path", Required: true,
		Description: "The delivery token from the email link", Schema: &huma.Schema{Type: huma.TypeString}}
	doc.AddOperation(&huma.Operation{
		OperationID: "reveal-page", Method: http.MethodGet, Path: "/deliver/{token}",
		Summary: "Reveal page (HTML)", Tags: []string{"Delivery"}, Security: publicSecurity,
		Description: "The page the delivery email links to: what the link delivers and a button that reveals the keys. " +
			"Opening it never reveals or consumes anything (mail scanners prefetch links). HTML for people, with a " +
			"nonce-only Content-Security-Policy; a shop that shows keys in its own front end uses GET /v1/deliveries/{token} " +
			"and POST /v1/deliveries/{token}/reveal instead.",
		Parameters: []*huma.Param{token},
		Responses: pageAnswers(map[string]*huma.Response{"200": htmlPage("The page, with the reveal button",
			pageExample("Your keys", `<form method="post"><input type="hidden" name="csrf" value="…"><button>Show my keys</button></form>`))}),
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "reveal-page-submit", Method: http.MethodPost, Path: "/deliver/{token}",
		Summary: "Reveal the keys from the page (HTML)", Tags: []string{"Delivery"}, Security: publicSecurity,
		Description: "The reveal page's form: consumes one reveal, records who revealed (IP, user agent, time) and answers " +
			"the page with the keys. The form is bound to its link by csrf; bodies over 4 KiB are refused.",
		Parameters: []*huma.Param{token},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/x-www-form-urlencoded": {
			Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"csrf"}, Properties: map[string]*huma.Schema{
				"csrf": {Type: huma.TypeString, Description: "The hidden field the page's form carries, as GET /deliver/{token} wrote it"},
			}},
			Example: map[string]any{"csrf": "2lU0hM7pQ3y8cT1vXr5nWb9kJf4aGd6eHs0oLi2uYqE"},
		}}},
		Responses: pageAnswers(map[string]*huma.Response{
			"200": htmlPage("The page, with the keys", pageExample("Your keys", "<h2>Cyberpunk 2077</h2><p><code>EXAMP-LEKEY-00000-00000</code></p>")),
			"403": htmlPage("The form expired or did not come from the page: open the link from the email again",
				pageExample("Please try again", "<p>This form expired or did not come from this page. Open the link from your email again.</p>")),
		}),
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "metrics", Method: http.MethodGet, Path: "/metrics",
		Summary: "Prometheus metrics", Tags: []string{"Ops"}, Security: publicSecurity,
		Description: "The process's metrics in the Prometheus text format: dependency calls, paid-to-delivered times, " +
			"reveals, message retries, rate limits, Go runtime. Unauthenticated like /healthz: keep it off the public edge. " +
			"A worker serves it on its ops listener.",
		Responses: map[string]*huma.Response{"200": {Description: "The metrics", Content: map[string]*huma.MediaType{
			"text/plain; version=0.0.4": {Schema: &huma.Schema{Type: huma.TypeString}, Example: "# HELP keyward_keys_revealed_total Keys revealed to customers.\n" +
				"# TYPE keyward_keys_revealed_total counter\nkeyward_keys_revealed_total 1873\n"},
		}}},
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "docs-page", Method: http.MethodGet, Path: "/docs",
		Summary: "API reference (HTML)", Tags: []string{"Ops"}, Security: publicSecurity,
		Description: "This document rendered for people, with \"try it\" against this server. Everything it loads is served " +
			"from here (under /docs/assets/), so it works without internet.",
		Responses: map[string]*huma.Response{"200": htmlPage("The reference page",
			`<!doctype html><html lang="en"><head><title>keyward API</title><script src="/docs/assets/web-components.min.js"></script></head>`+
				`<body><elements-api apiDescriptionUrl="/openapi.yaml" router="hash" layout="sidebar"></elements-api></body></html>`)},
	})
	for _, f := range []struct{ path, mediaType, format string }{
		{"/openapi.json", "application/openapi+json", "JSON"}, {"/openapi.yaml", "application/openapi+yaml", "YAML"},
	} {
		// An example is the value, which each media type writes its way.
		example := map[string]any{"openapi": "3.1.0", "info": map[string]any{"title": "keyward", "version": "1.4.0"}, "paths": map[string]any{}}
		doc.AddOperation(&huma.Operation{
			OperationID: "openapi-" + f.format, Method: http.MethodGet, Path: f.path,
			Summary: "This document (" + f.format + ")", Tags: []string{"Ops"}, Security: publicSecurity,
			Description: "This OpenAPI 3.1 document, in " + f.format + ", as `keyward openapi` prints it. " +
				"/openapi-3.0.json and /openapi-3.0.yaml serve it downgraded to OpenAPI 3.0, for client generators that do not read 3.1.",
			Responses: map[string]*huma.Response{"200": {Description: "The document", Content: map[string]*huma.MediaType{
				f.mediaType: {Schema: &huma.Schema{Type: huma.TypeObject, AdditionalProperties: true}, Example: example},
			}}},
		})
	}
}

// htmlPage is an HTML answer of a page.
func htmlPage(description, example string) *huma.Response {
	return &huma.Response{Description: description, Content: map[string]*huma.MediaType{
		"text/html; charset=utf-8": {Schema: &huma.Schema{Type: huma.TypeString}, Example: example},
	}}
}

// pageExample is the reveal page, shortened to its title and message.
func pageExample(title, body string) string {
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>` + title + `</title></head><body><h1>` + title + `</h1>` + body + `</body></html>`
}

// pageAnswers adds to answers those both reveal page routes share: the
// link's problems as pages, and the delivery rate limits' 429, a problem
// written before the page is reached.
func pageAnswers(answers map[string]*huma.Response) map[string]*huma.Response {
	answers["404"] = htmlPage("No link has this token",
		pageExample("Your keys", "<p>This link is not valid. Check that you copied the whole link from your email.</p>"))
	answers["410"] = htmlPage("The link expired, was revoked or has no reveals left; the page says which",
		pageExample("Your keys", "<p>This link has expired. You can ask for a new one from your order.</p>"))
	answers["429"] = &huma.Response{Description: "Too Many Requests: wait Retry-After seconds", Content: map[string]*huma.MediaType{
		"application/problem+json": {Schema: &huma.Schema{Ref: "#/components/schemas/ErrorModel"}},
	}}
	answers["503"] = htmlPage("The keys cannot be opened right now (nothing was used up): try again in a minute",
		pageExample("Your keys", "<p>Your keys are safe but cannot be opened right now. Please try again in a minute; nothing was used up.</p>"))
	return answers
}
