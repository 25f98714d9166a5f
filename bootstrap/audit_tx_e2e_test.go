package bootstrap_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"go.uber.org/fx"

	"github.com/keyward/keyward/adapters/maildir"
	"github.com/keyward/keyward/adapters/postgres/pgtest"
	"github.com/keyward/keyward/bootstrap"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// freezeAudit holds a process inside its unit of work: the audit record of
// an action is about to be written, after the action's own change.
type freezeAudit struct {
	ports.AuditLog
	action string
	f      *freezer
}

func (a freezeAudit) Append(ctx context.Context, actor, action, subject string, details map[string]string) (domain.AuditRecord, error) {
	if action == a.action {
		a.f.hit()
	}
	return a.AuditLog.Append(ctx, actor, action, subject, details)
}

// TestRevealAndItsAuditCommitTogether kills the process after a reveal
// consumed its link and before the unit of work committed: the next process
// sees neither the consumed reveal nor an audit record of it, and the
// customer's reveal then works once, audited once.
func TestRevealAndItsAuditCommitTogether(t *testing.T) {
	t.Parallel()
	url, admin := pgtest.NewDatabase(t)
	keyring := t.TempDir() + "/keyring.json"
	mod := func(c *bootstrap.Config) { c.DatabaseURL = url; c.KeyringFile = keyring }
	h0 := start(t, mod)
	sku := h0.firstSKU(func(p product) bool { return p.InStock }).SKU
	const email = "atomic@example.com"
	h0.deliveredOrder(email, line(sku, 1))
	token := h0.deliveryToken(email)
	var before struct {
		RevealsLeft int `json:"reveals_left"`
	}
	if code, _, raw := h0.do("GET", "/v1/deliveries/"+token, nil, nil, &before); code != http.StatusOK || before.RevealsLeft < 1 {
		t.Fatalf("before: %d %s", code, raw)
	}
	h0.stop()

	f := newFreezer(t)
	var db *sqlx.DB
	h1 := start(t, func(c *bootstrap.Config) { mod(c); c.MailDir = h0.cfg.MailDir }, fx.Populate(&db),
		fx.Decorate(func(a ports.AuditLog) ports.AuditLog {
			return freezeAudit{AuditLog: a, action: "keys.revealed", f: f}
		}))
	go func() { // never answers: the process is killed mid-request
		resp, err := http.Post(h1.base+"/v1/deliveries/"+token+"/reveal", "application/json", nil)
		if err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-f.crashed:
	case <-time.After(20 * time.Second):
		t.Fatal("the reveal never reached its audit record")
	}
	kill(t, h1, db, admin)

	h2 := start(t, func(c *bootstrap.Config) { mod(c); c.MailDir = h0.cfg.MailDir })
	var st struct {
		RevealsLeft int `json:"reveals_left"`
	}
	if code, _, raw := h2.do("GET", "/v1/deliveries/"+token, nil, nil, &st); code != http.StatusOK || st.RevealsLeft != before.RevealsLeft {
		t.Fatalf("after the crash: %d %s, want %d reveals left as before", code, raw, before.RevealsLeft)
	}
	if n := auditCount(t, h2, "keys.revealed"); n != 0 {
		t.Fatalf("%d reveal records for a reveal that never committed", n)
	}
	if code, _, raw := h2.do("POST", "/v1/deliveries/"+token+"/reveal", nil, nil, nil); code != http.StatusOK {
		t.Fatalf("reveal after the crash: %d %s", code, raw)
	}
	if n := auditCount(t, h2, "keys.revealed"); n != 1 {
		t.Fatalf("%d reveal records, want 1", n)
	}
}

// TestAuditChainUnderConcurrentWriters: reveals, resends and retries at
// once leave a linear chain that verifies, one record per committed action.
func TestAuditChainUnderConcurrentWriters(t *testing.T) {
	t.Parallel()
	url, _ := pgtest.NewDatabase(t)
	h := start(t, func(c *bootstrap.Config) { c.DatabaseURL = url; c.LinkMaxReveals = 1000; c.ResendLimit = 0 })
	sku := h.firstSKU(func(p product) bool { return p.InStock }).SKU
	var orders []orderResp
	var emails []string
	for i := range 4 {
		email := "chain" + strconv.Itoa(i) + "@example.com"
		orders, emails = append(orders, h.deliveredOrder(email, line(sku, 1))), append(emails, email)
	}
	admin := map[string]string{"Authorization": "Bearer " + testAdminKey}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := map[string]int{}
	for i := range 100 {
		o, email := orders[i%len(orders)], emails[i%len(orders)]
		wg.Go(func() {
			var code int
			action := "keys.revealed"
			if i%5 == 0 {
				action = "delivery.link_resent"
				code = postStatus(h.base+"/v1/admin/orders/"+o.ID+"/resend-delivery", admin["Authorization"])
			} else {
				code = revealLatest(h, email)
			}
			if code >= 200 && code < 300 {
				mu.Lock()
				ok[action]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var v struct {
		Valid    bool `json:"valid"`
		Verified int  `json:"verified"`
	}
	if code, _, raw := h.do("GET", "/v1/admin/audit/verify", nil, admin, &v); code != http.StatusOK || !v.Valid {
		t.Fatalf("verify: %d %s", code, raw)
	}
	for action, n := range ok {
		if got := auditCount(t, h, action); got != n {
			t.Errorf("%d %s records for %d that succeeded", got, action, n)
		}
	}
	if ok["keys.revealed"] == 0 {
		t.Fatal("no reveal went through")
	}
}

// auditCount counts the audit records of one action. (Every admin request
// is audited too, so a listing grows while it is read: the filter keeps
// only the action asked for.)
func auditCount(t *testing.T, h *harness, action string) int {
	t.Helper()
	code, _, raw := h.do("GET", "/v1/admin/audit?format=jsonl&type="+action, nil, map[string]string{"Authorization": "Bearer " + testAdminKey}, nil)
	if code != http.StatusOK {
		t.Fatalf("audit export: %d %s", code, raw)
	}
	return bytes.Count(raw, []byte("\n"))
}

// revealLatest reveals through the newest link emailed to addr and returns
// the status; it is safe in a goroutine (no t.Fatal), and 0 means no link.
func revealLatest(h *harness, addr string) int {
	mails, err := maildir.ReadAll(h.cfg.MailDir)
	if err != nil {
		return 0
	}
	token := ""
	for _, m := range mails { // in send order: the last one wins
		if m.To == addr && m.Subject == "Your keys are ready" {
			if m := deliverToken.FindStringSubmatch(m.Text); m != nil {
				token = m[1]
			}
		}
	}
	if token == "" {
		return 0
	}
	return postStatus(h.base+"/v1/deliveries/"+token+"/reveal", "")
}

// postStatus POSTs nothing to url and returns the status, 0 on a transport
// error; safe in a goroutine.
func postStatus(url, authorization string) int {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return 0
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
