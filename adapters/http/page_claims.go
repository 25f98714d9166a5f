package http

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/keyward/keyward/application"
)

// claimReceived is what the page says once a claim is opened.
const claimReceived = "Thank you: we received your report. Our support team will look into it and email you, with a replacement key if it does not work."

// registerClaimForm serves the "This key doesn't work" form the reveal
// page shows beside each revealed item: it opens a claim, as POST
// /v1/deliveries/{token}/claims does, and answers the page with the
// outcome.
func (s *Server) registerClaimForm(mux *http.ServeMux) {
	mux.HandleFunc("POST /deliver/{token}/claims", func(w http.ResponseWriter, r *http.Request) {
		token := r.PathValue("token")
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil || !hmac.Equal([]byte(r.PostForm.Get("csrf")), []byte(s.claimCSRF(token))) {
			s.render(w, http.StatusForbidden, pageData{Title: "Please try again", Message: "This form expired or did not come from this page. Open the link from your email again."})
			return
		}
		_, err := s.app.Commands.OpenClaim.Handle(r.Context(), application.OpenClaimCommand{Token: token, ItemID: r.PostForm.Get("item_id"),
			Reason: r.PostForm.Get("reason"), Message: r.PostForm.Get("message")})
		if err != nil {
			rule := classify(s.log, err)
			s.render(w, rule.status, pageData{Title: "Reporting a key", Message: rule.page})
			return
		}
		s.render(w, http.StatusCreated, pageData{Title: "Reporting a key", Message: claimReceived})
	})
}

// claimCSRF binds the claim form to its link, apart from the reveal
// form's: one cannot stand for the other.
func (s *Server) claimCSRF(token string) string {
	m := hmac.New(sha256.New, s.opts.PageSecret)
	m.Write([]byte("keyward/claim-form/v1|" + token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// describeClaimForm adds the claim form's route to api's document.
func describeClaimForm(api huma.API) {
	form := func(doc string) *huma.Schema { return &huma.Schema{Type: huma.TypeString, Description: doc} }
	api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "claim-page-submit", Method: http.MethodPost, Path: "/deliver/{token}/claims",
		Summary: "Report a key that does not work, from the page (HTML)", Tags: []string{"Delivery"}, Security: publicSecurity,
		Description: "The form the reveal page shows beside each revealed key (\"This key doesn't work\"): opens a claim as " +
			"POST /v1/deliveries/{token}/claims does and answers the page with the outcome. The form is bound to its link by csrf; " +
			"bodies over 8 KiB are refused.",
		Parameters: []*huma.Param{{Name: "token", In: "path", Required: true, Description: "The delivery token from the email link",
			Schema: &huma.Schema{Type: huma.TypeString}}},
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{"application/x-www-form-urlencoded": {
			Schema: &huma.Schema{Type: huma.TypeObject, Required: []string{"csrf", "item_id", "reason"}, Properties: map[string]*huma.Schema{
				"csrf":    form("The hidden field of the page's claim form"),
				"item_id": form("The revealed item whose key does not work"),
				"reason":  {Type: huma.TypeString, Enum: []any{"not_working", "already_used", "wrong_region", "other"}, Description: "What happened"},
				"message": form("What the platform said, at most 2000 bytes"),
			}},
			Example: map[string]any{"csrf": "9fQ2mL0pX7yT3vWc8nRb5kJd1aGh6eHs4oLi2uYqE0s", "item_id": exItemID, "reason": "already_used",
				"message": "Steam says: this product code has already been activated."},
		}}},
		Responses: pageAnswers(map[string]*huma.Response{
			"201": htmlPage("The claim was received", pageExample("Reporting a key", "<p>"+claimReceived+"</p>")),
			"403": htmlPage("The form expired or did not come from the page: open the link from the email again",
				pageExample("Please try again", "<p>This form expired or did not come from this page. Open the link from your email again.</p>")),
			"409": htmlPage("The key was never revealed, was revealed longer than KEYWARD_CLAIM_WINDOW ago, or has an open claim",
				pageExample("Reporting a key", "<p>This key can no longer be reported here: keys are taken back for a limited time after they are first shown. Reply to your delivery email.</p>")),
			"422": htmlPage("An unknown reason or a message too long", pageExample("Reporting a key", "<p>This request cannot be processed.</p>")),
		}),
	})
}
