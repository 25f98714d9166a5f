package http

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

//go:embed templates/*.html
var templateFS embed.FS

var pageTemplates = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// pageData feeds templates/deliver.html.
type pageData struct {
	Nonce    string
	Token    string
	CSRF     string
	Title    string
	Message  string
	Order    *domain.Order
	Link     *domain.DeliveryLink
	CanShow  bool
	Revealed []revealedItemBody
	// ClaimCSRF binds the "This key doesn't work" forms, shown with the
	// keys, to the link.
	ClaimCSRF string
}

// registerPage serves the customer's reveal page. GET never reveals or
// consumes anything (mail scanners prefetch links); the form POSTs.
func (s *Server) registerPage(mux *http.ServeMux) {
	mux.HandleFunc("GET /deliver/{token}", func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		st, err := s.app.Queries.DescribeDelivery.Handle(r.Context(), token)
		if err != nil {
			s.renderError(w, err)
			return
		}
		d := pageData{Token: token, CSRF: s.csrf(token), Order: st.Order, Link: st.Link, CanShow: st.Problem == nil, Title: "Your keys"}
		status := http.StatusOK
		if st.Problem != nil {
			r := ruleFor(st.Problem)
			status, d.Message = r.status, r.page
		}
		s.render(w, status, d)
	})
	mux.HandleFunc("POST /deliver/{token}", func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.csrf(token))) {
			s.render(w, http.StatusForbidden, pageData{Title: "Please try again", Message: "This form expired or did not come from this page. Open the link from your email again."})
			return
		}
		rv, err := s.app.Commands.RevealKeys.Handle(r.Context(), application.RevealCommand{Token: token, IP: clientIP(r.Context()), UserAgent: r.UserAgent()})
		if err != nil {
			s.renderError(w, err)
			return
		}
		s.render(w, http.StatusOK, pageData{Title: "Your keys", Token: token, ClaimCSRF: s.claimCSRF(token), Order: rv.Order, Link: rv.Link,
			Revealed: revealedItems(rv.Items)})
	})
	s.registerClaimForm(mux)
}

// renderError renders err as the page, with the status and message
// errorTable gives it.
func (s *Server) renderError(w http.ResponseWriter, err error) {
	r := classify(s.log, err)
	for k, v := range r.headersFor(err) {
		w.Header()[k] = v
	}
	s.render(w, r.status, pageData{Title: "Your keys", Message: r.page})
}

func (s *Server) render(w http.ResponseWriter, status int, d pageData) {
	s.writePage(w, status, "deliver.html", func(nonce string) any { d.Nonce = nonce; return d })
}

// writePage writes the page template name with the data withNonce returns
// for a fresh nonce, under the pages' CSP (scripts and styles by that
// nonce only, forms to this origin only), never cached, never framed.
func (s *Server) writePage(w http.ResponseWriter, status int, name string, withNonce func(nonce string) any) {
	raw := make([]byte, 16)
	_, _ = rand.Read(raw)
	nonce := base64.StdEncoding.EncodeToString(raw)
	d := withNonce(nonce)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+"'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, name, d); err != nil {
		s.log.Error("render page", "err", err)
	}
}

// csrf binds the reveal form to its link: an HMAC of the token under the
// page secret.
func (s *Server) csrf(token string) string {
	m := hmac.New(sha256.New, s.opts.PageSecret)
	m.Write([]byte("keyward/reveal-form/v1|" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
