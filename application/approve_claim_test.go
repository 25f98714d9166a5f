package application_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// claimWorld is what the approval scenario needs of a world: the
// application and the mail it sent.
type claimWorld struct {
	app    application.App
	orders ports.OrderRepository
	mail   *mailbox
}

// lastLinkToken returns the delivery token of the last email sent.
func (w claimWorld) lastLinkToken(t *testing.T) (string, string) {
	t.Helper()
	w.mail.mu.Lock()
	m := w.mail.sent[len(w.mail.sent)-1]
	w.mail.mu.Unlock()
	i := strings.Index(m.Text, "/deliver/")
	if i < 0 {
		t.Fatalf("email %s has no delivery link", m.Template)
	}
	return strings.Fields(m.Text[i+len("/deliver/"):])[0], m.Template
}

func (w claimWorld) revealText(t *testing.T, token string) string {
	t.Helper()
	r, err := w.app.Commands.RevealKeys.Handle(t.Context(), application.RevealCommand{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != 1 || len(r.Items[0].Keys) != 1 {
		t.Fatalf("revealed %+v, want one item with one key", r.Items)
	}
	return string(r.Items[0].Keys[0].Data)
}

// approveFromStockScenario: a supplier key is revealed, claimed and
// replaced from the stock; the reveal shows the replacement only; the
// replaced key, in another spelling, is refused by an import; the limit
// holds until forced. orderID is a delivered order of sku with one item.
func approveFromStockScenario(t *testing.T, w claimWorld, orderID, sku string) {
	t.Helper()
	ctx := t.Context()
	token, _ := w.lastLinkToken(t)
	bad := w.revealText(t, token)
	o, err := w.orders.Get(ctx, orderID)
	if err != nil {
		t.Fatal(err)
	}
	item := o.Items()[0].ID()
	c, err := w.app.Commands.OpenClaim.Handle(ctx, application.OpenClaimCommand{Token: token, ItemID: item, Reason: "already_used", Message: "redeemed"})
	if err != nil {
		t.Fatal(err)
	}
	approve := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "stock", Note: "supplier batch 7", Actor: "admin:support"}
	if _, err := w.app.Commands.ApproveClaim.Handle(ctx, approve); !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("approval with an empty stock: %v, want ErrOutOfStock", err)
	}
	if got, _, _ := w.app.Queries.Claims.Handle(ctx, claimsOf(orderID)); len(got) != 1 || got[0].Status() != domain.ClaimOpen {
		t.Fatal("a refused approval decided the claim")
	}
	unknown := approve
	unknown.Source = "warehouse"
	if _, err := w.app.Commands.ApproveClaim.Handle(ctx, unknown); !errors.Is(err, domain.ErrInvalidClaim) {
		t.Fatalf("approval from an unknown source: %v, want ErrInvalidClaim", err)
	}
	imp := func(keys ...string) application.ImportStockResult {
		t.Helper()
		res, err := w.app.Commands.ImportStock.Handle(ctx, application.ImportStockCommand{SKU: sku, Keys: textKeys(keys...), Actor: "admin:test"})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := imp("RPLC-0001-AAAA", "RPLC-0002-BBBB"); res.Added != 2 {
		t.Fatalf("import of replacements: %+v", res)
	}
	got, err := w.app.Commands.ApproveClaim.Handle(ctx, approve)
	if err != nil {
		t.Fatal(err)
	}
	if got.Claim.Status() != domain.ClaimApproved || got.Link == nil || got.BlockedKeys != 1 {
		t.Fatalf("approval %+v", got)
	}
	newToken, tmpl := w.lastLinkToken(t)
	if tmpl != "key_replaced" {
		t.Fatalf("the customer was sent %s, want key_replaced", tmpl)
	}
	if shown := w.revealText(t, newToken); shown != "RPLC-0001-AAAA" {
		t.Fatalf("the new link reveals %q, want the replacement", shown)
	}
	if shown := w.revealText(t, token); shown != "RPLC-0001-AAAA" {
		t.Fatalf("the old link reveals %q, want the replacement, never the bad key again", shown)
	}
	respelt := strings.ToLower(strings.ReplaceAll(bad, "-", " "))
	if res := imp(respelt); res.Added != 0 || res.Duplicates != 1 {
		t.Fatalf("import of the bad key as %q: %+v, want it refused", respelt, res)
	}
	o, _ = w.orders.Get(ctx, orderID)
	it := o.Items()[0]
	if len(it.BadKeys()) != 1 || len(it.CurrentKeys()) != 1 || it.BadKeys()[0].ClaimID != c.ID() {
		t.Fatalf("item keys after the approval: %+v", it.Keys())
	}

	// A second claim: beyond KEYWARD_MAX_REPLACEMENTS (1) only force replaces.
	c2, err := w.app.Commands.OpenClaim.Handle(ctx, application.OpenClaimCommand{Token: newToken, ItemID: item, Reason: "not_working"})
	if err != nil {
		t.Fatal(err)
	}
	again := application.ApproveClaimCommand{ClaimID: c2.ID(), Source: "stock", Actor: "admin:support"}
	if _, err := w.app.Commands.ApproveClaim.Handle(ctx, again); !errors.Is(err, domain.ErrReplacementLimit) {
		t.Fatalf("a second replacement: %v, want ErrReplacementLimit", err)
	}
	again.Force = true
	forced, err := w.app.Commands.ApproveClaim.Handle(ctx, again)
	if err != nil || !forced.Claim.Forced() || forced.BlockedKeys != 0 {
		t.Fatalf("a forced replacement: %+v, %v (a stock key is blocked already)", forced, err)
	}
	if _, err := w.app.Commands.ApproveClaim.Handle(ctx, again); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("approving twice: %v", err)
	}
	tok, _ := w.lastLinkToken(t)
	if shown := w.revealText(t, tok); shown != "RPLC-0002-BBBB" {
		t.Fatalf("after the forced replacement the link reveals %q", shown)
	}
}

// TestApproveClaimReplacesFromStock runs the scenario on memory storage,
// and checks the events and audit records.
func TestApproveClaimReplacesFromStock(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, _ := deliveredToken(t, w)
	approveFromStockScenario(t, claimWorld{app: w.app(), orders: w.orders, mail: w.mail}, o.ID(), o.Items()[0].SKU())

	counts := map[string]int{}
	w.events.mu.Lock()
	for _, ev := range w.events.events {
		if ev.AggregateID() == o.ID() {
			counts[ev.EventName()]++
		}
	}
	w.events.mu.Unlock()
	for name, want := range map[string]int{domain.EventClaimOpened: 2, domain.EventClaimApproved: 2, domain.EventKeyReplaced: 2} {
		if counts[name] != want {
			t.Errorf("%d %s events, want %d (all: %v)", counts[name], name, want, counts)
		}
	}
	recs, _ := w.audit.List(t.Context(), 0, 1000)
	actions := map[string]int{}
	for _, r := range recs {
		actions[r.Action]++
		if r.Action == application.AuditKeyReplaced && (r.Subject != o.ID() || r.Details["claim_id"] == "" || r.Details["stock_key_ids"] == "") {
			t.Errorf("key.replaced record %+v", r)
		}
	}
	if actions[application.AuditClaimApproved] != 2 || actions[application.AuditKeyReplaced] != 2 {
		t.Fatalf("audit actions %v", actions)
	}
}

func claimsOf(orderID string) ports.ClaimQuery { return ports.ClaimQuery{OrderID: orderID} }

// TestApproveClaimReplacesFromStockOnPostgres runs the scenario on
// PostgreSQL storage: the replacement, the bad mark and the blocked hash
// are stored, and the unit of work that refuses for lack of stock leaves
// nothing behind.
func TestApproveClaimReplacesFromStockOnPostgres(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	ps, err := w.app.Queries.ListProducts.Handle(t.Context(), "", 1)
	if err != nil || len(ps.Items) == 0 {
		t.Fatalf("products: %v", err)
	}
	sku := ps.Items[0].SKU()
	id, err := w.orderPaidAndFulfilled(t, sku)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.app.Commands.DeliverOrder.Handle(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	approveFromStockScenario(t, claimWorld{app: w.app, orders: w.orders, mail: w.mail}, id, sku)
	var withdrawn int
	if err := w.db.Get(&withdrawn, `SELECT count(*) FROM stock_keys WHERE sku = $1 AND status = 'withdrawn' AND sealed IS NULL`, sku); err != nil || withdrawn != 1 {
		t.Fatalf("%d withdrawn keys without ciphertext (the blocked hash), %v; want 1", withdrawn, err)
	}
}

// TestApproveClaimBuysFromTheSupplier: a replacement from the supplier is
// bought from the item's own supplier, under the price guard, as its own
// purchase (external id: the claim's), and revealed instead of the bad key.
func TestApproveClaimBuysFromTheSupplier(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	cw := claimWorld{app: w.app(), orders: w.orders, mail: w.mail}
	bad := cw.revealText(t, token)
	item := o.Items()[0]
	c, err := cw.app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: item.ID(), Reason: "not_working"})
	if err != nil {
		t.Fatal(err)
	}
	approve := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:support"}

	// The price guard: a margin that leaves less than the supplier asks
	// refuses the purchase, and buys nothing.
	greedy := w.app(func(_ *application.Deps, s *application.Settings) {
		s.PriceGuard.MinMargin = item.UnitPrice().Amount().Div(decimal.NewFromInt(2)).RoundDown(2)
	})
	if _, err := greedy.Commands.ApproveClaim.Handle(t.Context(), approve); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a replacement dearer than the guard allows: %v, want ErrConflict", err)
	}
	if n := len(w.supplier.IssuedKeys(c.ID())); n != 0 {
		t.Fatalf("the refused approval bought %d keys", n)
	}
	if got, _ := w.orders.Get(t.Context(), o.ID()); got.ReplacementPurchase(c.ID()).Requested {
		t.Fatal("the order records a purchase the price guard refused, never attempted")
	}
	if n := auditActions(t, w, c.ID())[application.AuditReplacementRequested]; n != 0 {
		t.Fatalf("%d %s audit records for a purchase the price guard refused", n, application.AuditReplacementRequested)
	}

	got, err := cw.app.Commands.ApproveClaim.Handle(t.Context(), approve)
	if err != nil || got.Link == nil || got.BlockedKeys != 1 {
		t.Fatalf("approve from the supplier: %+v, %v", got, err)
	}
	issued := w.supplier.IssuedKeys(c.ID())
	if len(issued) != 1 {
		t.Fatalf("the supplier issued %d keys for the claim, want 1", len(issued))
	}
	newToken, _ := cw.lastLinkToken(t)
	if shown := cw.revealText(t, newToken); shown != string(issued[0].Data) || shown == bad {
		t.Fatalf("the new link reveals %q, the supplier issued %q (bad: %q)", shown, issued[0].Data, bad)
	}
	recs, err := w.audit.List(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	replaced := 0
	for _, r := range recs {
		if r.Action != application.AuditKeyReplaced {
			continue
		}
		replaced++
		if r.Details["replacement_supplier"] != w.supplier.Name() {
			t.Fatalf("key.replaced record %+v lacks the replacement's supplier", r.Details)
		}
	}
	if replaced != 1 {
		t.Fatalf("%d key.replaced audit records, want 1", replaced)
	}
	if n := auditActions(t, w, c.ID())[application.AuditReplacementRequested]; n != 1 {
		t.Fatalf("%d %s audit records, want 1", n, application.AuditReplacementRequested)
	}
}

// auditActions counts the audit records of subject by action.
func auditActions(t *testing.T, w *world, subject string) map[string]int {
	t.Helper()
	recs, err := w.audit.List(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, r := range recs {
		if r.Subject == subject {
			actions[r.Action]++
		}
	}
	return actions
}

// TestRevokeAfterAReplacementShredsEveryKey: a revoke deletes the bad key's
// ciphertext and its replacement's, though the revoked order forgets both.
func TestRevokeAfterAReplacementShredsEveryKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	cw := claimWorld{app: w.app(), orders: w.orders, mail: w.mail}
	cw.revealText(t, token)
	c, err := cw.app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "other"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cw.app.Commands.ApproveClaim.Handle(t.Context(), application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:a"}); err != nil {
		t.Fatal(err)
	}
	stored, _ := w.orders.Get(t.Context(), o.ID())
	keys := stored.Items()[0].Keys()
	if len(keys) != 2 {
		t.Fatalf("%d sealed keys, want the bad one and its replacement", len(keys))
	}
	if _, err := cw.app.Commands.RevokeOrder.Handle(t.Context(), o.ID(), "chargeback", "admin:a"); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if ok, err := w.blobs.Exists(t.Context(), k.BlobRef); err != nil || ok {
			t.Fatalf("the ciphertext of slot %d survived the revoke (%v)", k.Slot, err)
		}
	}
}

// TestApproveClaimStandsWhenTheEmailFails: the replacement is stored
// whatever the mailer says; the answer says no link was emailed, and a
// resent delivery link reveals the replacement.
func TestApproveClaimStandsWhenTheEmailFails(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	cw := claimWorld{app: w.app(), orders: w.orders, mail: w.mail}
	cw.revealText(t, token)
	c, err := cw.app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "other"})
	if err != nil {
		t.Fatal(err)
	}
	down := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Mailer = failingMailer{err: errors.New("smtp down")}
	})
	got, err := down.Commands.ApproveClaim.Handle(t.Context(), application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:a"})
	if err != nil || got.Link != nil || got.Claim.Status() != domain.ClaimApproved {
		t.Fatalf("approval with the mailer down: %+v, %v; want approved, no link", got, err)
	}
	if _, err := cw.app.Commands.ResendDeliveryLink.Handle(t.Context(), o.ID(), "", "admin:a"); err != nil {
		t.Fatal(err)
	}
	tok, _ := cw.lastLinkToken(t)
	if shown := cw.revealText(t, tok); shown != string(w.supplier.IssuedKeys(c.ID())[0].Data) {
		t.Fatalf("the resent link reveals %q, not the replacement", shown)
	}
}

// TestApproveClaimFromTheSupplierOnPostgres: the replacement bought is
// stored and revealed through PostgreSQL storage.
func TestApproveClaimFromTheSupplierOnPostgres(t *testing.T) {
	t.Parallel()
	w := newPGStockWorld(t)
	ps, err := w.app.Queries.ListProducts.Handle(t.Context(), "", 1)
	if err != nil || len(ps.Items) == 0 {
		t.Fatalf("products: %v", err)
	}
	id, err := w.orderPaidAndFulfilled(t, ps.Items[0].SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.app.Commands.DeliverOrder.Handle(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	cw := claimWorld{app: w.app, orders: w.orders, mail: w.mail}
	token, _ := cw.lastLinkToken(t)
	bad := cw.revealText(t, token)
	o, _ := w.orders.Get(t.Context(), id)
	c, err := w.app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "wrong_region"})
	if err != nil {
		t.Fatal(err)
	}
	approve := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:a"}
	if _, err := w.app.Commands.ApproveClaim.Handle(t.Context(), approve); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Commands.ApproveClaim.Handle(t.Context(), approve); !errors.Is(err, domain.ErrInvalidTransition) {
		t.Fatalf("approving twice: %v", err)
	}
	issued := w.supplier.IssuedKeys(c.ID())
	newToken, _ := cw.lastLinkToken(t)
	if shown := cw.revealText(t, newToken); len(issued) != 1 || shown != string(issued[0].Data) || shown == bad {
		t.Fatalf("the new link reveals %q; the supplier issued %d keys for the claim", shown, len(issued))
	}
	res, err := w.app.Commands.ImportStock.Handle(t.Context(), application.ImportStockCommand{SKU: o.Items()[0].SKU(), Actor: "admin:test",
		Keys: textKeys(strings.ToUpper(bad) + "\t")})
	if err != nil || res.Added != 0 || res.Duplicates != 1 {
		t.Fatalf("import of the bad key: %+v, %v; want it refused", res, err)
	}
}

// failingPuts fails the next Put once armed.
type failingPuts struct {
	ports.BlobStore
	armed atomic.Bool
}

func (b *failingPuts) Put(ctx context.Context, ref string, data []byte) error {
	if b.armed.CompareAndSwap(true, false) {
		return errors.New("blob store error (injected)")
	}
	return b.BlobStore.Put(ctx, ref, data)
}

// TestApproveClaimFailedAfterBuyingKeepsThePurchase: an approval from the
// supplier buys the replacement, then its unit of work fails. The purchase
// is on record (the order's timeline and the audit trail), so the claim is
// not replaced from the stock nor rejected, leaving the keys paid for
// unused; approved from the supplier again, it uses the same purchase.
func TestApproveClaimFailedAfterBuyingKeepsThePurchase(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	blobs := &failingPuts{BlobStore: w.blobs}
	app := w.app(func(d *application.Deps, _ *application.Settings) { d.Blobs = blobs })
	cw := claimWorld{app: app, orders: w.orders, mail: w.mail}
	cw.revealText(t, token)
	c, err := app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "not_working"})
	if err != nil {
		t.Fatal(err)
	}
	blobs.armed.Store(true) // the replacement's ciphertext is not stored
	approve := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:support"}
	if _, err := app.Commands.ApproveClaim.Handle(t.Context(), approve); err == nil {
		t.Fatal("the approval whose unit of work failed succeeded")
	}
	if n := len(w.supplier.IssuedKeys(c.ID())); n != 1 {
		t.Fatalf("the supplier issued %d keys for the claim, want 1", n)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if p := got.ReplacementPurchase(c.ID()); !p.Bought() || p.Supplier != w.supplier.Name() {
		t.Fatalf("the order records the purchase as %+v", p)
	}
	fromStock := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "stock", Actor: "admin:support"}
	if _, err := app.Commands.ApproveClaim.Handle(t.Context(), fromStock); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("approve from stock after a purchase: %v, want ErrConflict", err)
	}
	if _, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "works for us", "admin:support"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("reject after a purchase: %v, want ErrConflict", err)
	}
	if _, err := app.Commands.ApproveClaim.Handle(t.Context(), approve); err != nil {
		t.Fatalf("approve from the supplier again: %v", err)
	}
	issued := w.supplier.IssuedKeys(c.ID())
	if len(issued) != 1 {
		t.Fatalf("the supplier issued %d keys for the claim, want the 1 bought before", len(issued))
	}
	newToken, _ := cw.lastLinkToken(t)
	if shown := cw.revealText(t, newToken); shown != string(issued[0].Data) {
		t.Fatalf("the new link reveals %q, the supplier issued %q", shown, issued[0].Data)
	}
	actions := auditActions(t, w, c.ID())
	for a, n := range auditActions(t, w, o.ID()) {
		actions[a] += n
	}
	if actions[application.AuditReplacementRequested] != 1 || actions[application.AuditReplacementBought] != 1 ||
		actions[application.AuditKeyReplaced] != 1 || actions[application.AuditClaimApproved] != 1 {
		t.Fatalf("audit actions %v, want the purchase requested and bought once, the claim approved and replaced once", actions)
	}
}

// answerLost answers the first PlaceOrder as a timeout would: when placed
// is set, after the supplier placed the order (the purchase is made, its
// answer lost), otherwise without asking it.
type answerLost struct {
	ports.Supplier
	placed bool
	once   atomic.Bool
}

func (s *answerLost) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	if !s.once.CompareAndSwap(false, true) {
		return s.Supplier.PlaceOrder(ctx, r)
	}
	if s.placed {
		if _, err := s.Supplier.PlaceOrder(ctx, r); err != nil {
			return ports.SupplierOrder{}, err
		}
	}
	return ports.SupplierOrder{}, errors.New("context deadline exceeded (injected)")
}

// claimWithALostPurchase opens a claim on a delivered order and approves
// it from a supplier whose answer to the purchase is lost, placed or not:
// the order records the purchase requested, not bought.
func claimWithALostPurchase(t *testing.T, placed bool) (*world, application.App, *domain.Order, *domain.Claim) {
	t.Helper()
	w := newWorld(t)
	o, token := deliveredToken(t, w)
	app := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers[0].Supplier = &answerLost{Supplier: d.Suppliers[0].Supplier, placed: placed}
	})
	claimWorld{app: app, orders: w.orders, mail: w.mail}.revealText(t, token)
	c, err := app.Commands.OpenClaim.Handle(t.Context(), application.OpenClaimCommand{Token: token, ItemID: o.Items()[0].ID(), Reason: "not_working"})
	if err != nil {
		t.Fatal(err)
	}
	approve := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:support"}
	if _, err := app.Commands.ApproveClaim.Handle(t.Context(), approve); !errors.Is(err, application.ErrUnavailable) {
		t.Fatalf("approval whose purchase timed out: %v, want ErrUnavailable", err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	if p := got.ReplacementPurchase(c.ID()); !p.Requested || p.Bought() {
		t.Fatalf("after the timed out purchase the order records %+v, want it requested, not bought", p)
	}
	return w, app, o, c
}

// TestDecidingAClaimWhosePurchaseAnswerWasLost: the supplier placed the
// replacement's order but its answer timed out. Neither a rejection nor an
// approval from stock decides the claim then: the supplier is asked, the
// purchase it finds is recorded bought (audited once), and both answer
// ErrConflict; approved from the supplier, the claim gets the keys bought.
func TestDecidingAClaimWhosePurchaseAnswerWasLost(t *testing.T) {
	t.Parallel()
	w, app, o, c := claimWithALostPurchase(t, true)
	if n := len(w.supplier.IssuedKeys(c.ID())); n != 1 {
		t.Fatalf("the supplier issued %d keys for the claim, want 1", n)
	}
	if _, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "works for us", "admin:support"); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("reject after a purchase whose answer was lost: %v, want ErrConflict", err)
	}
	got, _ := w.orders.Get(t.Context(), o.ID())
	p := got.ReplacementPurchase(c.ID())
	if !p.Bought() {
		t.Fatalf("the purchase the supplier found is recorded as %+v, want bought", p)
	}
	fromStock := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "stock", Actor: "admin:support"}
	if _, err := app.Commands.ApproveClaim.Handle(t.Context(), fromStock); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("approve from stock after a purchase whose answer was lost: %v, want ErrConflict", err)
	}
	if got, _, _ := app.Queries.Claims.Handle(t.Context(), claimsOf(o.ID())); len(got) != 1 || got[0].Status() != domain.ClaimOpen {
		t.Fatal("the claim was decided although its replacement is paid for")
	}
	if n := auditActions(t, w, c.ID())[application.AuditReplacementBought]; n != 1 {
		t.Fatalf("%d %s audit records, want 1", n, application.AuditReplacementBought)
	}
	approve := application.ApproveClaimCommand{ClaimID: c.ID(), Source: "supplier", Actor: "admin:support"}
	if _, err := app.Commands.ApproveClaim.Handle(t.Context(), approve); err != nil {
		t.Fatalf("approve from the supplier: %v", err)
	}
	if n := len(w.supplier.IssuedKeys(c.ID())); n != 1 {
		t.Fatalf("the supplier issued %d keys for the claim, want the 1 bought before", n)
	}
	if got, _ := w.orders.Get(t.Context(), o.ID()); got.ReplacementPurchase(c.ID()).SupplierOrderID != p.SupplierOrderID {
		t.Fatalf("the approval recorded purchase %+v, want %s", got.ReplacementPurchase(c.ID()), p.SupplierOrderID)
	}
}

// TestRejectingAClaimWhosePurchaseNeverTookPlace: the purchase timed out
// before the supplier placed it: asked, the supplier knows no order of the
// claim, so the claim is rejected.
func TestRejectingAClaimWhosePurchaseNeverTookPlace(t *testing.T) {
	t.Parallel()
	w, app, o, c := claimWithALostPurchase(t, false)
	got, err := app.Commands.RejectClaim.Handle(t.Context(), c.ID(), "works for us", "admin:support")
	if err != nil || got.Status() != domain.ClaimRejected {
		t.Fatalf("reject after a purchase never placed: %+v, %v", got, err)
	}
	if n := len(w.supplier.IssuedKeys(c.ID())); n != 0 {
		t.Fatalf("the supplier issued %d keys for the claim, want none", n)
	}
	if o, _ := w.orders.Get(t.Context(), o.ID()); o.ReplacementPurchase(c.ID()).Bought() {
		t.Fatal("a purchase never placed is recorded bought")
	}
}

// canceledOrders is a supplier whose orders show as cancelled.
type canceledOrders struct{ ports.Supplier }

func (s canceledOrders) FindOrder(ctx context.Context, externalID string) (ports.SupplierOrder, error) {
	so, err := s.Supplier.FindOrder(ctx, externalID)
	so.Status = ports.PurchaseCanceled
	return so, err
}

// TestRejectingAClaimWhosePurchaseWasCanceled: the purchase whose answer
// was lost was placed, then cancelled by the supplier: no keys come and
// nothing is spent, so the claim is rejected and no purchase recorded.
func TestRejectingAClaimWhosePurchaseWasCanceled(t *testing.T) {
	t.Parallel()
	w, _, o, c := claimWithALostPurchase(t, true)
	reject := w.app(func(d *application.Deps, _ *application.Settings) {
		d.Suppliers[0].Supplier = canceledOrders{d.Suppliers[0].Supplier}
	})
	if got, err := reject.Commands.RejectClaim.Handle(t.Context(), c.ID(), "works for us", "admin:support"); err != nil || got.Status() != domain.ClaimRejected {
		t.Fatalf("reject after a purchase the supplier cancelled: %+v, %v", got, err)
	}
	if o, _ := w.orders.Get(t.Context(), o.ID()); o.ReplacementPurchase(c.ID()).Bought() {
		t.Fatal("a cancelled purchase is recorded bought")
	}
}
