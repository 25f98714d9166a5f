package http

import (
	"net/http"
	"sync"

	"github.com/danielgtaylor/huma/v2"
)

// openAPI30 serves /openapi-3.0.json and /openapi-3.0.yaml without the
// webhooks section, which OpenAPI 3.0 does not have (Huma's downgrade
// keeps it): the event types stay described in the 3.1 document. Other
// requests go to next.
func openAPI30(next http.Handler, api huma.API) http.Handler {
	var once sync.Once
	var js, yml []byte
	build := func() {
		doc := *api.OpenAPI()
		doc.Webhooks = nil
		js, _ = doc.Downgrade()
		yml, _ = doc.DowngradeYAML()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead || r.URL.Path != "/openapi-3.0.json" && r.URL.Path != "/openapi-3.0.yaml" {
			next.ServeHTTP(w, r)
			return
		}
		once.Do(build)
		body, ct := js, "application/openapi+json"
		if r.URL.Path == "/openapi-3.0.yaml" {
			body, ct = yml, "application/openapi+yaml"
		}
		w.Header().Set("Content-Type", ct)
		_, _ = w.Write(body)
	})
}
