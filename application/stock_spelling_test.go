package application_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/application"
	"github.com/keyward/keyward/domain"
)

// asImported is a key as an operator imports it; otherSpellings are the
// same key as the issue found it stocked, and sold, a second time.
const asImported = "W11P-Case-TEST-0001"

var otherSpellings = map[string]string{
	"upper case":        "W11P-CASE-TEST-0001",
	"lower case":        "w11p-case-test-0001",
	"zero-width space":  "W11P-\u200bCASE-TEST-0001",
	"byte order mark":   "\ufeffW11P-CASE-TEST-0001",
	"without dashes":    "W11PCASETEST0001",
	"spaces":            "W11P CASE TEST 0001",
	"other dashes":      "W11P\u2013CASE\u2014TEST\u2212 0001",
	"underscores, dots": "W11P_CASE.TEST_0001",
	"fullwidth":         "\uff37\uff11\uff11\uff30\uff0dCASE\uff0dTEST\uff0d0001",
}

// importOf imports keys into sku's stock with contentType.
func importOf(t *testing.T, app application.App, sku, contentType string, keys ...string) (application.ImportStockResult, error) {
	t.Helper()
	in := make([]application.StockKeyInput, len(keys))
	for i, k := range keys {
		in[i] = application.StockKeyInput{ContentType: contentType, Data: []byte(k)}
	}
	return app.Commands.ImportStock.Handle(t.Context(), application.ImportStockCommand{SKU: sku, Keys: in, Actor: "admin:test"})
}

// assertEverySpellingRefused imports asImported, then each other spelling
// of it, alone and all together and under another text type: none is
// added. A key with a control character is refused by its position, and
// the refusal never repeats a key.
func assertEverySpellingRefused(t *testing.T, app application.App, sku string) {
	t.Helper()
	if res, err := importOf(t, app, sku, "text/plain", "  "+asImported+"\n"); err != nil || res.Added != 1 {
		t.Fatalf("first import = %+v, %v; want 1 added", res, err)
	}
	all := make([]string, 0, len(otherSpellings))
	for name, k := range otherSpellings {
		all = append(all, k)
		if res, err := importOf(t, app, sku, "text/plain", k); err != nil || res.Added != 0 || res.Duplicates != 1 {
			t.Errorf("import of the key %s = %+v, %v; want a duplicate", name, res, err)
		}
	}
	if res, err := importOf(t, app, sku, "text/plain; charset=utf-8", all...); err != nil || res.Added != 0 || res.Duplicates != len(all) {
		t.Errorf("import of every spelling at once = %+v, %v; want %d duplicates", res, err, len(all))
	}
	res, err := importOf(t, app, sku, "text/plain", "FRESH-KEY-0002", "W11P-CASE\x00-TEST-0001", "OTHER-\x1bKEY")
	if !errors.Is(err, domain.ErrInvalidProduct) || res.Added != 0 {
		t.Fatalf("import with control characters = %+v, %v; want ErrInvalidProduct", res, err)
	}
	for _, want := range []string{"key 2", "U+0000", "key 3", "U+001B"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not name %q", err, want)
		}
	}
	if msg := err.Error(); strings.Contains(msg, "W11P") || strings.Contains(msg, "FRESH") || strings.Contains(msg, "OTHER") {
		t.Errorf("refusal %q repeats a key", msg)
	}
	if res, err := importOf(t, app, sku, "text/plain", "- \u200b -"); !errors.Is(err, domain.ErrInvalidProduct) || res.Added != 0 {
		t.Errorf("import of a key of separators only = %+v, %v; want ErrInvalidProduct", res, err)
	}
}

// TestImportRefusesEverySpellingOfAKey (memory): each spelling of a stocked
// key is a duplicate, and the customer gets the key as it was imported.
func TestImportRefusesEverySpellingOfAKey(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	p := stockedProduct(t, w, domain.SourcingStockOnly)
	assertEverySpellingRefused(t, w.app(), p.SKU())
	if levels, err := w.app().Queries.ListStock.Handle(t.Context(), p.SKU()); err != nil || levels.Counts != (domain.StockCounts{Available: 1}) {
		t.Fatalf("levels = %+v, %v; want one key", levels, err)
	}

	o, err := placePaid(t, w, p.SKU())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.fulfil().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if err := w.deliver().Handle(t.Context(), o.ID()); err != nil {
		t.Fatal(err)
	}
	if got := revealLast(t, w.app(), w.mail); got != asImported {
		t.Fatalf("revealed %q, want the key as imported, %q", got, asImported)
	}
	if _, err := placePaid(t, w, p.SKU()); !errors.Is(err, domain.ErrOutOfStock) {
		t.Fatalf("a second order = %v, want ErrOutOfStock: the key was stocked once", err)
	}
}

// revealLast reveals the first key of the delivery link last mailed.
func revealLast(t *testing.T, app application.App, mail *mailbox) string {
	t.Helper()
	mail.mu.Lock()
	body := mail.sent[len(mail.sent)-1].Text
	mail.mu.Unlock()
	i := strings.Index(body, "/deliver/")
	if i < 0 {
		t.Fatal("no delivery link mailed")
	}
	rv, err := app.Commands.RevealKeys.Handle(t.Context(), application.RevealCommand{Token: strings.Fields(body[i+len("/deliver/"):])[0]})
	if err != nil {
		t.Fatal(err)
	}
	return string(rv.Items[0].Keys[0].Data)
}
