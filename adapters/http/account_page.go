package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// accountData feeds templates/account.html.
type accountData struct {
	Nonce       string
	Title       string
	Message     string
	EmailForm   bool   // the form that asks for a sign-in link
	Token       string // the sign-in link's token, for its button
	CSRF        string
	SignedIn    bool
	Session     string // the customer access token the order forms carry
	SessionCSRF string
	Orders      []accountOrder
}

type accountOrder struct {
	ID          string
	Status      string
	CreatedAt   string
	Items       []accountItem
	Delivered   bool
	RevealsLeft int
}

type accountItem struct {
	Name     string
	Quantity int
	// ReleaseDate is the day a pre-order's keys come, while it waits.
	ReleaseDate string
}

// registerAccountPage serves the customer's account page: ask for a
// sign-in link, open it, see the orders, have a delivery link sent again.
// As on the reveal page, GET never uses anything up (mail scanners prefetch
// links); every change is a POSTed form bound by csrf. The customer access
// token travels in the forms, never in a URL or a cookie.
func (s *Server) registerAccountPage(mux *http.ServeMux) {
	mux.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		s.renderAccount(w, http.StatusOK, s.emailForm(""))
	})
	mux.HandleFunc("POST /account", func(w http.ResponseWriter, r *http.Request) {
		if !s.accountForm(w, r, accountCSRFLabel) {
			return
		}
		email := r.PostForm.Get("email")
		if wait, over := s.customerAccessWait(r.Context(), email); over {
			w.Header().Set("Retry-After", retryAfterSeconds(wait))
			s.renderAccount(w, http.StatusTooManyRequests, s.emailForm(ruleFor(application.ErrRateLimited).page))
			return
		}
		if err := s.app.Commands.RequestCustomerAccess.Handle(r.Context(), email); err != nil {
			r := classify(s.log, err)
			msg := r.page
			if errors.Is(err, domain.ErrInvalidEmail) {
				msg = "This is not an email address we can write to. Check it and try again."
			}
			s.renderAccount(w, r.status, s.emailForm(msg))
			return
		}
		s.renderAccount(w, http.StatusOK, accountData{Title: "Check your email", Message: customerAccessAnswer})
	})
	mux.HandleFunc("GET /account/{token}", func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		s.renderAccount(w, http.StatusOK, accountData{Title: "Your orders", Token: token, CSRF: s.accountCSRF(accountCSRFLabel + "|" + token)})
	})
	mux.HandleFunc("POST /account/{token}", func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		if !s.accountForm(w, r, accountCSRFLabel+"|"+token) {
			return
		}
		sess, err := s.app.Commands.SignInCustomer.Handle(r.Context(), token)
		if err != nil {
			s.accountError(w, err)
			return
		}
		s.renderOrders(w, r, sess.AccessToken, "")
	})
	mux.HandleFunc("POST /account/orders/{id}/delivery-link", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil {
			s.accountForbidden(w)
			return
		}
		session := r.PostForm.Get("session")
		if !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.accountCSRF(accountSessionLabel+"|"+session))) {
			s.accountForbidden(w)
			return
		}
		id := r.PathValue("id")
		link, err := s.app.Commands.ResendCustomerLink.Handle(r.Context(), session, id)
		switch {
		case errors.Is(err, domain.ErrCustomerSessionInvalid):
			s.accountError(w, err)
			return
		case err != nil:
			rule := classify(s.log, err)
			for k, v := range rule.headersFor(err) {
				w.Header()[k] = v
			}
			msg := rule.page
			if errors.Is(err, domain.ErrInvalidTransition) {
				msg = "This order has no keys to send yet."
			}
			s.renderOrders(w, r, session, msg)
			return
		}
		s.renderOrders(w, r, session, "A new link for order "+id+" is on its way to your email, valid until "+
			link.ExpiresAt().UTC().Format("2006-01-02 15:04 MST")+". Older links of this order no longer work.")
	})
}

// CSRF labels of the account page's forms.
const (
	accountCSRFLabel    = "keyward/account-form/v1"
	accountSessionLabel = "keyward/account-session/v1"
)

// accountCSRF binds a form to what it acts on: an HMAC under the page
// secret of the label and the token the form carries.
func (s *Server) accountCSRF(what string) string {
	m := hmac.New(sha256.New, s.opts.PageSecret)
	m.Write([]byte(what))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// accountForm reads a small form and checks its csrf against label; it
// answers the refusal itself and reports false.
func (s *Server) accountForm(w http.ResponseWriter, r *http.Request, label string) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.accountCSRF(label))) {
		s.accountForbidden(w)
		return false
	}
	return true
}

func (s *Server) accountForbidden(w http.ResponseWriter) {
	d := s.emailForm("This form expired or did not come from this page. Please start again.")
	d.Title = "Please try again"
	s.renderAccount(w, http.StatusForbidden, d)
}

// accountError renders err with the email form, to start again.
func (s *Server) accountError(w http.ResponseWriter, err error) {
	r := classify(s.log, err)
	for k, v := range r.headersFor(err) {
		w.Header()[k] = v
	}
	s.renderAccount(w, r.status, s.emailForm(r.page))
}

func (s *Server) emailForm(msg string) accountData {
	return accountData{Title: "Find your orders", EmailForm: true, Message: msg, CSRF: s.accountCSRF(accountCSRFLabel)}
}

// renderOrders renders the session's orders, with msg above them.
func (s *Server) renderOrders(w http.ResponseWriter, r *http.Request, session, msg string) {
	orders, err := s.app.Queries.CustomerOrders.Handle(r.Context(), session)
	if err != nil {
		s.accountError(w, err)
		return
	}
	d := accountData{Title: "Your orders", Message: msg, SignedIn: true, Session: session, SessionCSRF: s.accountCSRF(accountSessionLabel + "|" + session)}
	for _, co := range orders {
		o := co.Order
		ao := accountOrder{ID: o.ID(), Status: o.Status().String(), CreatedAt: o.CreatedAt().UTC().Format("2006-01-02 15:04 MST"),
			Delivered: o.Status() == domain.StatusDelivered, RevealsLeft: co.RevealsLeft}
		for _, it := range o.Items() {
			ai := accountItem{Name: it.Name(), Quantity: it.Quantity()}
			if it.Status() == domain.ItemAwaitingRelease {
				ai.ReleaseDate = domain.FormatDay(it.ReleaseDate())
			}
			ao.Items = append(ao.Items, ai)
		}
		d.Orders = append(d.Orders, ao)
	}
	s.renderAccount(w, http.StatusOK, d)
}

func (s *Server) renderAccount(w http.ResponseWriter, status int, d accountData) {
	s.writePage(w, status, "account.html", func(nonce string) any { d.Nonce = nonce; return d })
}

// describeAccountRoutes adds the account page's routes to api's document.
func describeAccountRoutes(api huma.API) {
	doc := api.OpenAPI()
	token := &huma.Param{Name: "token", In: "path", Required: true,
		Description: "The sign-in token from the emailed /account/{token} link", Schema: &huma.Schema{Type: huma.TypeString}}
	id := &huma.Param{Name: "id", In: "path", Required: true, Description: "The order's id", Schema: &huma.Schema{Type: huma.TypeString}}
	form := func(fields map[string]string, example map[string]any) *huma.RequestBody {
		props := map[string]*huma.Schema{}
		var required []string
		for name, doc := range fields {
			props[name] = &huma.Schema{Type: huma.TypeString, Description: doc}
			required = append(required, name)
		}
		slices.Sort(required)
		return &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/x-www-form-urlencoded": {
			Schema: &huma.Schema{Type: huma.TypeObject, Required: required, Properties: props}, Example: example}}}
	}
	csrfDoc := "The hidden field the page's form carries"
	forbidden := htmlPage("The form expired or did not come from the page: start again",
		pageExample("Please try again", "<p>This form expired or did not come from this page. Please start again.</p>"))
	doc.AddOperation(&huma.Operation{
		OperationID: "account-page", Method: http.MethodGet, Path: "/account",
		Summary: "Account page (HTML)", Tags: []string{"Customer"}, Security: publicSecurity,
		Description: "Where a customer who lost the delivery email asks for a sign-in link: POST /v1/customer/access as a " +
			"page, with the reveal page's look and Content-Security-Policy.",
		Responses: map[string]*huma.Response{"200": htmlPage("The page, with the email form",
			pageExample("Find your orders", `<form method="post" action="/account"><input type="email" name="email"><button>Email me a link</button></form>`))},
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "account-page-request", Method: http.MethodPost, Path: "/account",
		Summary: "Ask for a sign-in link from the page (HTML)", Tags: []string{"Customer"}, Security: publicSecurity,
		Description: "The email form: the same answer for every address, limited like POST /v1/customer/access.",
		RequestBody: form(map[string]string{"email": "The address the orders were placed with", "csrf": csrfDoc},
			map[string]any{"email": "a@example.com", "csrf": "2lU0hM7pQ3y8cT1vXr5nWb9kJf4aGd6eHs0oLi2uYqE"}),
		Responses: map[string]*huma.Response{
			"200": htmlPage("The same answer for every address", pageExample("Check your email", "<p>"+customerAccessAnswer+"</p>")),
			"403": forbidden,
			"422": htmlPage("Not an address", pageExample("Find your orders", "<p>This is not an email address we can write to. Check it and try again.</p>")),
			"429": htmlPage("Too many links asked for: wait Retry-After seconds", pageExample("Find your orders",
				"<p>This was asked for too often. Please wait a while and try again.</p>")),
		},
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "account-link-page", Method: http.MethodGet, Path: "/account/{token}",
		Summary: "Sign-in link page (HTML)", Tags: []string{"Customer"}, Security: publicSecurity,
		Description: "The page the sign-in email links to: a button that signs in. Opening it uses nothing up (mail scanners prefetch links).",
		Parameters:  []*huma.Param{token},
		Responses: map[string]*huma.Response{"200": htmlPage("The page, with the sign-in button",
			pageExample("Your orders", `<form method="post"><input type="hidden" name="csrf" value="…"><button>Show my orders</button></form>`))},
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "account-link-page-submit", Method: http.MethodPost, Path: "/account/{token}",
		Summary: "Sign in from the page (HTML)", Tags: []string{"Customer"}, Security: publicSecurity,
		Description: "Uses the sign-in link (once) and answers the address's orders, each delivered one with a " +
			"\"Send my keys again\" form that carries the customer access token.",
		Parameters:  []*huma.Param{token},
		RequestBody: form(map[string]string{"csrf": csrfDoc}, map[string]any{"csrf": "2lU0hM7pQ3y8cT1vXr5nWb9kJf4aGd6eHs0oLi2uYqE"}),
		Responses: map[string]*huma.Response{
			"200": htmlPage("The orders", pageExample("Your orders", `<section><h2>Order 0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00</h2><button>Send my keys again</button></section>`)),
			"403": forbidden,
			"410": htmlPage("The link is unknown, expired or used", pageExample("Find your orders",
				"<p>This sign-in link has expired or was already used. Ask for a new one below.</p>")),
		},
	})
	doc.AddOperation(&huma.Operation{
		OperationID: "account-resend-page", Method: http.MethodPost, Path: "/account/orders/{id}/delivery-link",
		Summary: "Send my keys again from the page (HTML)", Tags: []string{"Customer"}, Security: publicSecurity,
		Description: "POST /v1/customer/orders/{id}/delivery-link as a page: the orders again, with what happened above them.",
		Parameters:  []*huma.Param{id},
		RequestBody: form(map[string]string{"session": "The customer access token the page's form carries", "csrf": csrfDoc},
			map[string]any{"session": "cs1.…", "csrf": "2lU0hM7pQ3y8cT1vXr5nWb9kJf4aGd6eHs0oLi2uYqE"}),
		Responses: map[string]*huma.Response{
			"200": htmlPage("The orders, with the outcome", pageExample("Your orders", "<p>A new link for order 0193a5c2-7d4e-7b1a-9f00-2c5d8e6f1a00 is on its way to your email.</p>")),
			"401": htmlPage("The session ended", pageExample("Find your orders", "<p>Your session has ended. Ask for a new sign-in link below.</p>")),
			"403": forbidden,
		},
	})
}
