package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

type refundResp struct {
	Status      string `json:"status"`
	KeyOutcomes []struct {
		ItemID  string `json:"item_id"`
		Outcome string `json:"outcome"`
		Detail  string `json:"detail"`
	} `json:"key_outcomes"`
}

func (r refundResp) count(outcome string) int {
	n := 0
	for _, k := range r.KeyOutcomes {
		if k.Outcome == outcome {
			n++
		}
	}
	return n
}

// TestRefundEndToEndPostgres: on Postgres with the Kinguin contract
// server. An order from our own stock whose key the customer revealed and
// claimed, replaced from the stock and not revealed since, is refunded:
// exactly one key (the replacement) is back in the stock, and it sells
// again to another order; the revealed one never. An order bought from
// Kinguin and never revealed is refunded: Kinguin gets exactly one return
// request. A second refund of either changes nothing.
func TestRefundEndToEndPostgres(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	kin := kinguintest.New(t, 3)
	h := startKinguin(t, kin, withPostgres(url))
	h.waitCatalog(4, 30*time.Second)
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	sku := kinguintest.ProductID
	available := func() int {
		t.Helper()
		var levels struct {
			Available int `json:"available"`
		}
		if code, _, raw := h.do("GET", "/v1/admin/products/"+sku+"/stock", nil, admin, &levels); code != http.StatusOK {
			t.Fatalf("stock levels: %d %s", code, raw)
		}
		return levels.Available
	}
	if code, _, raw := h.do("PUT", "/v1/admin/products/"+sku+"/sourcing", map[string]any{"sourcing": "stock_then_supplier"}, admin, nil); code != http.StatusOK {
		t.Fatalf("sourcing: %d %s", code, raw)
	}
	if code, _, raw := h.do("POST", "/v1/admin/products/"+sku+"/stock", map[string]any{"keys": []string{"OWN-REFUND-0001", "OWN-REFUND-0002"}}, admin, nil); code != http.StatusOK {
		t.Fatalf("upload: %d %s", code, raw)
	}
	reveal := func(token string) string {
		t.Helper()
		var rv struct {
			Items []struct {
				Keys []struct {
					Value string `json:"value"`
				} `json:"keys"`
			} `json:"items"`
		}
		if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, &rv); code != http.StatusOK || len(rv.Items) != 1 || len(rv.Items[0].Keys) != 1 {
			t.Fatalf("reveal: %d %s", code, raw)
		}
		return rv.Items[0].Keys[0].Value
	}

	// Own stock: one key revealed (and found bad), its replacement not.
	const email = "refund.me@example.com"
	o := h.deliveredOrder(email, line(sku, 1))
	token := h.deliveryToken(email)
	seen := reveal(token)
	item := h.getOrder(o).Items[0].ID
	var claim struct {
		ID string `json:"id"`
	}
	if code, _, raw := h.do("POST", "/v1/deliveries/"+token+"/claims", map[string]any{"item_id": item, "reason": "not_working"}, nil, &claim); code != http.StatusCreated {
		t.Fatalf("claim: %d %s", code, raw)
	}
	if code, _, raw := h.do("POST", "/v1/admin/claims/"+claim.ID+"/approve", map[string]any{"source": "stock"}, admin, nil); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, raw)
	}
	if n := available(); n != 0 {
		t.Fatalf("%d keys in stock before the refund, want 0", n)
	}
	body := map[string]any{"reason": "customer asked", "reference": "USDT refund tx 0x9f2c41e1"}
	var refunded refundResp
	if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/refund", body, admin, &refunded); code != http.StatusOK ||
		refunded.Status != "refunded" || refunded.count("restocked") != 1 || refunded.count("quarantined") != 1 || len(refunded.KeyOutcomes) != 2 {
		t.Fatalf("refund: %d %s", code, raw)
	}
	if n := available(); n != 1 {
		t.Fatalf("%d keys in stock after the refund, want exactly 1", n)
	}
	if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/refund", body, admin, nil); code != http.StatusConflict {
		t.Fatalf("second refund: %d %s, want 409", code, raw)
	}
	if n := available(); n != 1 {
		t.Fatalf("%d keys in stock after a second refund, want 1", n)
	}
	if code, _, _ := h.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != http.StatusGone {
		t.Fatalf("the refunded order's link answers %d, want 410", code)
	}
	const other = "next.buyer@example.com"
	h.deliveredOrder(other, line(sku, 1))
	if got := reveal(h.deliveryToken(other)); got == seen || got != "OWN-REFUND-0002" && got != "OWN-REFUND-0001" {
		t.Fatalf("the next order reveals %q; the refunded customer saw %q", got, seen)
	}
	if n := available(); n != 0 {
		t.Fatalf("%d keys in stock after selling the restocked one, want 0", n)
	}

	// Bought from Kinguin, never revealed: one return request.
	const bought = "bought.key@example.com"
	b := h.deliveredOrder(bought, line(sku, 1))
	kinguinOrder := kin.OrderIDOf(h.getOrder(b).Items[0].ID)
	if kinguinOrder == "" {
		t.Fatal("the order was not bought from Kinguin")
	}
	if code, _, raw := h.do("POST", "/v1/admin/orders/"+b.ID+"/refund", body, admin, &refunded); code != http.StatusOK ||
		refunded.count("returned") != 1 || len(refunded.KeyOutcomes) != 1 {
		t.Fatalf("refund of a Kinguin key: %d %s", code, raw)
	}
	if code, _, _ := h.do("POST", "/v1/admin/orders/"+b.ID+"/refund", body, admin, nil); code != http.StatusConflict {
		t.Fatalf("second refund of the Kinguin order: %d, want 409", code)
	}
	if n := kin.Returns(kinguinOrder); n != 1 {
		t.Fatalf("Kinguin received %d return requests, want exactly 1", n)
	}
	var detail refundResp
	if code, _, raw := h.do("GET", "/v1/admin/orders/"+b.ID, nil, admin, &detail); code != http.StatusOK || detail.count("returned") != 1 {
		t.Fatalf("order detail: %d %s", code, raw)
	}
}

// returnsThenFail arms a fault once Kinguin took keys back.
type returnsThenFail struct {
	ports.SupplierReturns
	arm *atomic.Bool
}

func (r returnsThenFail) ReturnKeys(ctx context.Context, id string) (ports.KeyReturn, error) {
	got, err := r.SupplierReturns.ReturnKeys(ctx, id)
	if err == nil {
		r.arm.Store(true)
	}
	return got, err
}

// revelationsFailing fails the next read of an order's revelations once
// armed: the refund's unit of work reads them after revoking the links.
type revelationsFailing struct {
	ports.RevelationLog
	armed *atomic.Bool
}

func (r revelationsFailing) ListByOrder(ctx context.Context, orderID string) ([]domain.KeyRevelation, error) {
	if r.armed.CompareAndSwap(true, false) {
		return nil, errors.New("storage error (injected)")
	}
	return r.RevelationLog.ListByOrder(ctx, orderID)
}

// TestRefundRetriedAfterAFailedUnitOfWorkReturnsOnce: on memory and on
// Postgres with the Kinguin contract server, a refund whose unit of work
// fails after Kinguin took the key back is tried again: the key is
// returned, Kinguin got exactly one return request, and the audit trail
// says returned once.
func TestRefundRetriedAfterAFailedUnitOfWorkReturnsOnce(t *testing.T) {
	for _, storage := range []string{"memory", "postgres"} {
		t.Run(storage, func(t *testing.T) {
			t.Parallel()
			var mod func(*bootstrap.Config)
			if storage == "postgres" {
				url, _ := pgtest.NewDatabase(t)
				mod = withPostgres(url)
			}
			kin := kinguintest.New(t, 3)
			var armed atomic.Bool
			h := startKinguin(t, kin, mod,
				fx.Decorate(func(s ports.Suppliers) ports.Suppliers {
					out := slices.Clone(s)
					for i, r := range out {
						if ret, ok := r.Returner(); ok {
							out[i].Returns = returnsThenFail{ret, &armed}
						}
					}
					return out
				}),
				fx.Decorate(func(r ports.RevelationLog) ports.RevelationLog { return revelationsFailing{r, &armed} }))
			h.waitCatalog(4, 30*time.Second)
			admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
			const email = "returned.once@example.com"
			o := h.deliveredOrder(email, line(kinguintest.ProductID, 1))
			kinguinOrder := kin.OrderIDOf(h.getOrder(o).Items[0].ID)
			if kinguinOrder == "" {
				t.Fatal("the order was not bought from Kinguin")
			}
			body := map[string]any{"reason": "customer asked", "reference": "USDT refund tx 0x77"}
			if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/refund", body, admin, nil); code < 500 {
				t.Fatalf("refund whose unit of work failed: %d %s, want a server error", code, raw)
			}
			if kin.Returns(kinguinOrder) != 1 {
				t.Fatalf("Kinguin received %d return requests before the retry, want 1", kin.Returns(kinguinOrder))
			}
			var refunded refundResp
			if code, _, raw := h.do("POST", "/v1/admin/orders/"+o.ID+"/refund", body, admin, &refunded); code != http.StatusOK ||
				refunded.Status != "refunded" || refunded.count("returned") != 1 || len(refunded.KeyOutcomes) != 1 {
				t.Fatalf("refund tried again: %d %s, want the key returned", code, raw)
			}
			if n := kin.Returns(kinguinOrder); n != 1 {
				t.Fatalf("Kinguin received %d return requests, want exactly 1", n)
			}
			code, _, raw := h.do("GET", "/v1/admin/audit?format=jsonl&type="+application.AuditKeyOutcome, nil, admin, nil)
			if code != http.StatusOK {
				t.Fatalf("audit export: %d %s", code, raw)
			}
			returned := 0
			for _, l := range bytes.Split(bytes.TrimSpace(raw), []byte("\n")) {
				var rec struct {
					Subject string            `json:"subject"`
					Details map[string]string `json:"details"`
				}
				if err := json.Unmarshal(l, &rec); err != nil {
					t.Fatalf("audit line %s: %v", l, err)
				}
				if rec.Subject == o.ID && rec.Details["outcome"] == "returned" {
					returned++
				}
			}
			if returned != 1 {
				t.Fatalf("the audit trail records %d returned keys, want 1:\n%s", returned, raw)
			}
			if n := auditCount(t, h, application.AuditReturnRequested); n != 1 {
				t.Fatalf("%d return requests audited, want 1", n)
			}
		})
	}
}
