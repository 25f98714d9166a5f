package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/humatest"

	"github.com/keyward/keyward/adapters/nowpayments"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// TestProblemMapsEveryError: every error errorTable names, wrapped as the
// use cases wrap them, becomes the status and detail a client relies on;
// anything else is a 500 that leaks nothing.
func TestProblemMapsEveryError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err        error
		status     int
		detail     string // "" means the error's own text
		retryAfter string
	}{
		{domain.ErrNotFound, http.StatusNotFound, "not found", ""},
		{domain.ErrItemNotFound, http.StatusNotFound, "not found", ""},
		{domain.ErrLinkExpired, http.StatusGone, "this delivery link has expired; ask for a new one from your order page", ""},
		{domain.ErrLinkRevoked, http.StatusGone, "this delivery link has been revoked", ""},
		{domain.ErrSignInLinkInvalid, http.StatusGone, "this sign-in link is unknown, expired or already used; ask for a new one", ""},
		{domain.ErrCustomerSessionInvalid, http.StatusUnauthorized, "sign in again: send a valid customer access_token as 'Authorization: Bearer <token>'", ""},
		{errCustomerTokenRequired, http.StatusUnauthorized, "sign in again: send a valid customer access_token as 'Authorization: Bearer <token>'", ""},
		{domain.ErrLinkExhausted, http.StatusGone, "this delivery link has no reveals left", ""},
		{domain.ErrInvalidEmail, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidOrder, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidLink, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidMoney, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrOutOfStock, http.StatusConflict, "", ""},
		{domain.ErrProductInactive, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidProduct, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidTransition, http.StatusConflict, "", ""},
		{domain.ErrConflict, http.StatusConflict, "", ""},
		{domain.ErrWebhookEndpointDisabled, http.StatusConflict, "", ""},
		{domain.ErrWebhookMessagePending, http.StatusConflict, "", ""},
		{errAdminKeyRequired, http.StatusUnauthorized, "admin API key required", ""},
		{errAdminRoleForbidden, http.StatusForbidden, "this admin key's role does not allow this operation", ""},
		{domain.ErrInvalidAdminKey, http.StatusUnprocessableEntity, "", ""},
		{application.ErrInvalidFilter, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidPricing, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidSync, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidWebhook, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrInvalidClaim, http.StatusUnprocessableEntity, "", ""},
		{domain.ErrClaimWindowClosed, http.StatusConflict, "", ""},
		{domain.ErrReplacementLimit, http.StatusConflict, "", ""},
		{domain.ErrAdminKeyRevoked, http.StatusConflict, "", ""},
		{errOrderTokenRequired, http.StatusUnauthorized, "send the order's access token as 'Authorization: Bearer <token>'", ""},
		{ports.ErrSignatureInvalid, http.StatusUnauthorized, "invalid or missing signature", ""},
		{ports.ErrMalformedNotice, http.StatusBadRequest, "", ""},
		{application.ErrUnavailable, http.StatusServiceUnavailable, "temporarily unavailable, try again shortly", "5"},
		{ports.ErrVaultUnavailable, http.StatusServiceUnavailable, "temporarily unavailable, try again shortly", "5"},
		{ports.ErrStorageUnavailable, http.StatusServiceUnavailable, "temporarily unavailable, try again shortly", "5"},
		{application.ErrRateLimited, http.StatusTooManyRequests, "", ""},
		{ports.ErrSupplierPermanent, http.StatusBadGateway, "", ""},
		{errors.New("pq: connection reset"), http.StatusInternalServerError, "internal error", ""},
	}
	var covered []error
	for _, c := range cases {
		t.Run(c.err.Error(), func(t *testing.T) {
			err := fmt.Errorf("handle order 42: %w", c.err)
			got := problem(slog.New(slog.DiscardHandler), err)
			var em *huma.ErrorModel
			if !errors.As(got, &em) {
				t.Fatalf("problem(%v) = %#v, not a huma.ErrorModel", err, got)
			}
			if em.Status != c.status || em.Title != http.StatusText(c.status) {
				t.Fatalf("status %d %q, want %d", em.Status, em.Title, c.status)
			}
			want := c.detail
			if want == "" {
				want = err.Error()
			}
			if em.Detail != want {
				t.Fatalf("detail %q, want %q", em.Detail, want)
			}
			var hdrs huma.HeadersError
			retryAfter := ""
			if errors.As(got, &hdrs) {
				retryAfter = hdrs.GetHeaders().Get("Retry-After")
			}
			if retryAfter != c.retryAfter {
				t.Fatalf("Retry-After %q, want %q", retryAfter, c.retryAfter)
			}
		})
		covered = append(covered, c.err)
	}
	for _, r := range errorTable {
		for _, target := range r.targets {
			if !slices.Contains(covered, target) {
				t.Errorf("errorTable maps %q but this test does not say what to expect", target)
			}
		}
	}
	if problem(slog.New(slog.DiscardHandler), nil) != nil {
		t.Fatal("problem(nil) is not nil")
	}
}

// TestHandlersAnswerProblems drives each row of errorTable through a real
// operation of the API and checks the status and problem body a client
// gets.
func TestHandlersAnswerProblems(t *testing.T) {
	t.Parallel()
	t.Run("404 unknown product", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		wantProblem(t, api.Get("/v1/products/no-such-sku"), http.StatusNotFound, "not found")
	})
	t.Run("404 unknown delivery token", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		wantProblem(t, api.Post("/v1/deliveries/"+strings.Repeat("a", 43)+"/reveal"), http.StatusNotFound, "not found")
	})
	gone := []struct {
		reason, detail string
		spoil          func(t *testing.T, api humatest.TestAPI, w *testWorld, orderID, token string)
	}{
		{"expired", "this delivery link has expired; ask for a new one from your order page",
			func(_ *testing.T, _ humatest.TestAPI, w *testWorld, _, _ string) { w.expire() }},
		{"revoked", "this delivery link has been revoked", func(t *testing.T, api humatest.TestAPI, _ *testWorld, orderID, _ string) {
			if resp := api.Post("/v1/admin/orders/"+orderID+"/revoke", adminAuth); resp.Code != http.StatusOK {
				t.Fatalf("revoke: %d %s", resp.Code, resp.Body)
			}
		}},
		{"exhausted", "this delivery link has no reveals left", func(t *testing.T, api humatest.TestAPI, _ *testWorld, _, token string) {
			for range testMaxReveal {
				if resp := api.Post("/v1/deliveries/" + token + "/reveal"); resp.Code != http.StatusOK {
					t.Fatalf("reveal: %d %s", resp.Code, resp.Body)
				}
			}
		}},
	}
	for _, g := range gone {
		t.Run("410 "+g.reason+" link", func(t *testing.T) {
			t.Parallel()
			api, w, app := newTestAPI(t)
			o, token := deliveredOrder(t, api, w, app)
			g.spoil(t, api, w, o.ID, token)
			wantProblem(t, api.Post("/v1/deliveries/"+token+"/reveal"), http.StatusGone, g.detail)
			wantReason(t, api.Get("/v1/deliveries/"+token).Body.String(), g.reason)
		})
	}
	t.Run("422 unknown sku", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		resp := api.Post("/v1/orders", map[string]any{"email": "a@example.com", "items": []any{map[string]any{"sku": "no-such-sku", "quantity": 1}}})
		if p := wantProblem(t, resp, http.StatusUnprocessableEntity, ""); !strings.Contains(p.Detail, "no-such-sku") {
			t.Fatalf("detail %q does not name the sku", p.Detail)
		}
	})
	t.Run("409 retry of an unpaid order", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		o := placeOrder(t, api, "cyberpunk-2077-gog-global")
		wantProblem(t, api.Post("/v1/admin/orders/"+o.ID+"/retry-fulfilment", adminAuth), http.StatusConflict, "")
	})
	t.Run("409 resend before delivery", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		o := placeOrder(t, api, "cyberpunk-2077-gog-global")
		wantProblem(t, api.Post("/v1/orders/"+o.ID+"/delivery-link", "Authorization: Bearer "+o.AccessToken), http.StatusConflict, "")
	})
	t.Run("401 unsigned IPN", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		wantProblem(t, api.Post("/v1/webhooks/nowpayments", strings.NewReader(`{"payment_id":1}`)), http.StatusUnauthorized, "invalid or missing signature")
	})
	t.Run("401 signed-looking IPN that is not JSON", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		sig, _ := nowpayments.Sign(testIPNSecret, []byte(`{}`)) // a well-formed signature of something else
		wantProblem(t, api.Post("/v1/webhooks/nowpayments", nowpayments.SignatureHeader+": "+sig, strings.NewReader(`not json`)), http.StatusUnauthorized, "invalid or missing signature")
	})
	t.Run("200 signed IPN with an unknown status: recorded and ignored", func(t *testing.T) {
		t.Parallel()
		api, _, _ := newTestAPI(t)
		body := `{"payment_id":1,"payment_status":"weird","order_id":"x"}`
		sig, _ := nowpayments.Sign(testIPNSecret, []byte(body))
		resp := api.Post("/v1/webhooks/nowpayments", nowpayments.SignatureHeader+": "+sig, strings.NewReader(body))
		if resp.Code != http.StatusOK || !strings.Contains(resp.Body.String(), `"ignored":true`) {
			t.Fatalf("status %d: %s", resp.Code, resp.Body)
		}
	})
	t.Run("202 gateway down: the order is kept, its payment not set up yet", func(t *testing.T) {
		t.Parallel()
		api, w, _ := newTestAPI(t)
		w.gateway.down.Store(true)
		resp := api.Post("/v1/orders", map[string]any{"email": "a@example.com", "items": []any{map[string]any{"sku": "cyberpunk-2077-gog-global", "quantity": 1}}})
		var got OrderBody
		if resp.Code != http.StatusAccepted || json.Unmarshal(resp.Body.Bytes(), &got) != nil {
			t.Fatalf("status %d: %s", resp.Code, resp.Body)
		}
		if got.Status != "awaiting_payment_setup" || got.Payment.Status != "not_set_up" || got.Payment.PayAddress != "" ||
			!strings.Contains(got.Payment.Hint, "GET /v1/orders/"+got.ID) || got.AccessToken == "" {
			t.Fatalf("order %+v", got)
		}
	})
	t.Run("503 vault down", func(t *testing.T) {
		t.Parallel()
		api, w, app := newTestAPI(t)
		_, token := deliveredOrder(t, api, w, app)
		w.vault.down.Store(true)
		resp := api.Post("/v1/deliveries/" + token + "/reveal")
		wantProblem(t, resp, http.StatusServiceUnavailable, "temporarily unavailable, try again shortly")
		if got := resp.Header().Get("Retry-After"); got != "5" {
			t.Fatalf("Retry-After %q", got)
		}
		w.vault.down.Store(false)
		if resp := api.Post("/v1/deliveries/" + token + "/reveal"); resp.Code != http.StatusOK {
			t.Fatalf("reveal after the outage: %d %s", resp.Code, resp.Body)
		}
	})
}

func wantReason(t *testing.T, body, reason string) {
	t.Helper()
	if !strings.Contains(body, `"revealable":false`) || !strings.Contains(body, `"reason":"`+reason+`"`) {
		t.Fatalf("delivery status %s, want revealable false with reason %q", body, reason)
	}
}
