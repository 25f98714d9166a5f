package http

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
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
			status, d.Message = http.StatusGone, pageMessage(st.Problem)
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
		rv, err := s.app.Commands.RevealKeys.Handle(r.Context(), application.RevealCommand{Token: token, IP: clientIP(r.RemoteAddr), UserAgent: r.UserAgent()})
		if err != nil {
			s.renderError(w, err)
			return
		}
		s.render(w, http.StatusOK, pageData{Title: "Your keys", Order: rv.Order, Link: rv.Link, Revealed: revealedItems(rv.Items)})
	})
}

func (s *Server) renderError(w http.ResponseWriter, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on our side. Please try again in a minute."
	switch {
	case errors.Is(err, domain.ErrNotFound):
		status, msg = http.StatusNotFound, "This link is not valid. Check that you copied the whole link from your email."
	case errors.Is(err, domain.ErrLinkExpired), errors.Is(err, domain.ErrLinkRevoked), errors.Is(err, domain.ErrLinkExhausted):
		status, msg = http.StatusGone, pageMessage(err)
	case errors.Is(err, application.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		status, msg = http.StatusServiceUnavailable, "Your keys are safe but cannot be opened right now. Please try again in a minute; nothing was used up."
	default:
		s.log.Error("reveal page failed", "err", err)
	}
	s.render(w, status, pageData{Title: "Your keys", Message: msg})
}

func pageMessage(err error) string {
	switch {
	case errors.Is(err, domain.ErrLinkExpired):
		return "This link has expired. You can ask for a new one from your order."
	case errors.Is(err, domain.ErrLinkRevoked):
		return "This link has been revoked."
	case errors.Is(err, domain.ErrLinkExhausted):
		return "This link has been used as many times as it allows."
	}
	return "This link cannot be used."
}

func (s *Server) render(w http.ResponseWriter, status int, d pageData) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	d.Nonce = base64.StdEncoding.EncodeToString(nonce)
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if err := pageTemplates.ExecuteTemplate(w, "deliver.html", d); err != nil {
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
