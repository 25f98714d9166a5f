package bootstrap_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/testkit"
)

// TestPreorderEndToEndPostgres: on Postgres with the Kinguin contract
// server, a pre-order (isPreorder, releaseDate two days on) is listed
// with preorder and release_date; an order for it is paid and placed,
// Kinguin answers its keys with ProcessingPreorder, and the item waits as
// awaiting_release: the customer is emailed the release date, the shop's
// endpoint gets order.preordered, the audit trail records it; the sweep
// does not hold it just before the release (two days past the give-up
// time); once the clock passes the release, the poll's look finds the
// keys and the order is delivered as usual (the keys revealed are those
// Kinguin issued), one Kinguin order in all.
func TestPreorderEndToEndPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	kin := kinguintest.New(t, 3)
	release := domain.ReleaseDay(time.Now().UTC().AddDate(0, 0, 2))
	kin.AddPreorder(release)
	kin.PreorderErrors(true)
	var app application.App
	h := startKinguin(t, kin, func(c *bootstrap.Config) {
		withPostgres(url)(c)
		withWebhooks("200ms,200ms")(c)
		c.ReconcileInterval, c.Operations.SweepInterval = 0, 0 // the test sweeps itself
	}, fx.Populate(&app))
	kin.SetClock(h.clock.Now)
	h.waitCatalog(5, 30*time.Second)
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	day := release.Format(domain.DateLayout)

	var listed struct {
		Preorder    bool   `json:"preorder"`
		ReleaseDate string `json:"release_date"`
	}
	if code, _, raw := h.do("GET", "/v1/products/"+kinguintest.PreorderProductID, nil, nil, &listed); code != http.StatusOK || !listed.Preorder || listed.ReleaseDate != day {
		t.Fatalf("pre-order listed: %d %s", code, raw)
	}
	shop := newHookReceiver(t)
	// Only order.preordered: a webhook sent once the test clock is days
	// ahead would carry a timestamp the receiver refuses as too new.
	h.registerWebhook(shop, domain.WebhookOrderPreordered)

	const email = "pre.order@example.com"
	o := h.placeOrder(email, line(kinguintest.PreorderProductID, 1))
	h.pay(o)
	got := h.waitItem(o, "awaiting_release", 30*time.Second)
	itemID := got.Items[0].ID
	var detail struct {
		Status string `json:"status"`
		Items  []struct {
			Status      string `json:"status"`
			ReleaseDate string `json:"release_date"`
		} `json:"items"`
		Timeline []struct {
			Type string `json:"type"`
		} `json:"timeline"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/orders/"+o.ID, nil, admin, &detail); code != http.StatusOK || detail.Status != "fulfilling" ||
		detail.Items[0].ReleaseDate != day || !strings.Contains(string(raw), `"type":"item_awaiting_release"`) {
		t.Fatalf("order detail: %d %s", code, raw)
	}
	supplierOrder := kin.OrderIDOf(itemID)
	if supplierOrder == "" || kin.Purchases(itemID) != 1 {
		t.Fatalf("Kinguin order %q, %d purchases", supplierOrder, kin.Purchases(itemID))
	}

	// The customer hears of the release date; the shop of the pre-order.
	testkit.Eventually(t, 30*time.Second, "the pre-order email", func() bool {
		for _, m := range h.allMailsTo(email) {
			if strings.Contains(m.Subject, "pre-order") && strings.Contains(m.Text, "released on "+day) {
				return true
			}
		}
		return false
	})
	var preordered hookMessage
	testkit.Eventually(t, 30*time.Second, "order.preordered at the shop", func() bool {
		for _, m := range shop.messages() {
			if m.Type == domain.WebhookOrderPreordered && m.OrderID == o.ID {
				preordered = m
				return true
			}
		}
		return false
	})
	var payload struct {
		Data map[string]string `json:"data"`
	}
	if err := json.Unmarshal([]byte(preordered.Body), &payload); err != nil || payload.Data["item_id"] != itemID || payload.Data["release_date"] != day {
		t.Fatalf("order.preordered body %s (%v)", preordered.Body, err)
	}
	testkit.Eventually(t, 30*time.Second, "the audit record of the wait", func() bool {
		var list struct {
			Items []struct {
				Action  string            `json:"action"`
				Subject string            `json:"subject"`
				Details map[string]string `json:"details"`
			} `json:"items"`
		}
		h.do("GET", "/v1/admin/audit?limit=100&type="+application.AuditOrderPreordered, nil, admin, &list)
		return len(list.Items) == 1 && list.Items[0].Subject == o.ID && list.Items[0].Details["release_date"] == day
	})

	// Just before the release, two days past the give-up time: not held.
	h.clock.Set(release.Add(-time.Minute))
	if res, err := app.Commands.Sweep.Handle(t.Context()); err != nil || res.HeldStuck != 0 {
		t.Fatalf("sweep before the release: %+v %v", res, err)
	}
	if st := h.getOrder(o).Status; st != "fulfilling" {
		t.Fatalf("order is %s before the release", st)
	}
	// Counted as waiting for its release, which KeywardOrdersStuck leaves out.
	if v, ok := metricValue(scrape(t, h.base), "keyward_orders_awaiting_release", nil); !ok || v != 1 {
		t.Errorf("keyward_orders_awaiting_release = %v (%t), want 1", v, ok)
	}

	// Released: the poll looks again and the keys are delivered.
	h.clock.Set(release.Add(time.Minute))
	h.waitStatus(o, "delivered", 30*time.Second)
	if n := len(h.mailsTo(email)); n != 1 {
		t.Fatalf("%d delivery emails, want 1", n)
	}
	if kin.Purchases(itemID) != 1 || kin.TotalPurchases() != 1 {
		t.Fatalf("Kinguin purchases: %d for the item, %d in all", kin.Purchases(itemID), kin.TotalPurchases())
	}
	var rv struct {
		Items []struct {
			Keys []struct {
				Value string `json:"value"`
			} `json:"keys"`
		} `json:"items"`
	}
	token := h.deliveryToken(email)
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != http.StatusOK || len(rv.Items) != 1 ||
		len(rv.Items[0].Keys) != 1 || rv.Items[0].Keys[0].Value != string(kin.IssuedKeys(itemID)[0].Data) {
		t.Fatalf("reveal: %d %s", code, raw)
	}
	if got := h.getOrder(o); got.Items[0].Status != "sealed" {
		t.Fatalf("item %s after delivery", got.Items[0].Status)
	}
}
