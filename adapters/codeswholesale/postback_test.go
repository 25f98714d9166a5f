package codeswholesale_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/codeswholesale"
	"github.com/keyward/keyward/adapters/codeswholesale/codeswholesaletest"
	"github.com/keyward/keyward/ports"
)

func postback(body []byte) ports.SupplierWebhook {
	return ports.SupplierWebhook{Header: func(string) string { return "" }, Body: body}
}

// TestAuthHashVector: the reference's test vector.
func TestAuthHashVector(t *testing.T) {
	t.Parallel()
	const want = "f99d6c2e157aa4924b5db4258d769d9446a7460ea31364214052a156ad6cde68"
	if got := codeswholesale.AuthHash(codeswholesaletest.ClientID, codeswholesaletest.ClientSignature); got != want {
		t.Fatalf("AuthHash = %s, want %s", got, want)
	}
}

func TestPostbacksReadAsHints(t *testing.T) {
	t.Parallel()
	v := codeswholesale.NewPostbackVerifier(codeswholesaletest.ClientID, codeswholesaletest.ClientSignature)
	for _, c := range []struct {
		file string
		want ports.SupplierEvent
	}{
		{"codeswholesale-postback-preorder.json", ports.SupplierEvent{Kind: ports.SupplierEventPurchase, Name: "PREORDER",
			SupplierOrderID: "00000000-0000-0000-0000-0000000000a1"}},
		{"codeswholesale-postback-stock.json", ports.SupplierEvent{Kind: ports.SupplierEventProduct, Name: "STOCK",
			ProductIDs: []string{codeswholesaletest.ProductID}}},
		{"codeswholesale-postback-product-updated.json", ports.SupplierEvent{Kind: ports.SupplierEventProduct, Name: "PRODUCT_UPDATED",
			ProductIDs: []string{codeswholesaletest.ProductID}}},
	} {
		got, err := v.Verify(postback(codeswholesaletest.Fixture(c.file)))
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, %v\nwant %+v", c.file, got, err, c.want)
		}
	}
	upper := strings.Replace(string(codeswholesaletest.Fixture("codeswholesale-postback-preorder.json")), "f99d6c2e", "F99D6C2E", 1)
	if _, err := v.Verify(postback([]byte(upper))); err != nil {
		t.Errorf("upper-case authHash: %v", err)
	}
	hash := codeswholesale.AuthHash(codeswholesaletest.ClientID, codeswholesaletest.ClientSignature)
	if got, err := v.Verify(postback([]byte(`{"type":"NEW_INVOICE","authHash":"` + hash + `"}`))); err != nil || got.Kind != "" || got.Name != "NEW_INVOICE" {
		t.Errorf("unknown type: %+v, %v; want an event of no kind", got, err)
	}
}

func TestPostbacksRefused(t *testing.T) {
	t.Parallel()
	hash := codeswholesale.AuthHash(codeswholesaletest.ClientID, codeswholesaletest.ClientSignature)
	good := codeswholesale.NewPostbackVerifier(codeswholesaletest.ClientID, codeswholesaletest.ClientSignature)
	for name, c := range map[string]struct {
		v    codeswholesale.PostbackVerifier
		body string
		want error
	}{
		"wrong hash":        {good, `{"type":"PREORDER","orderId":"o","authHash":"` + strings.Repeat("0", 64) + `"}`, ports.ErrSignatureInvalid},
		"no hash":           {good, `{"type":"PREORDER","orderId":"o"}`, ports.ErrSignatureInvalid},
		"not JSON":          {good, `type=PREORDER`, ports.ErrSignatureInvalid},
		"none configured":   {codeswholesale.NewPostbackVerifier("", ""), `{"type":"PREORDER","orderId":"o","authHash":"` + codeswholesale.AuthHash("", "") + `"}`, ports.ErrSignatureInvalid},
		"pre-order no id":   {good, `{"type":"PREORDER","authHash":"` + hash + `"}`, ports.ErrMalformedNotice},
		"stock no products": {good, `{"type":"STOCK","authHash":"` + hash + `","products":[]}`, ports.ErrMalformedNotice},
		"NUL in product id": {good, `{"type":"PRODUCT_UPDATED","authHash":"` + hash + `","productId":"a\u0000"}`, ports.ErrMalformedNotice},
		"order id too long": {good, `{"type":"PREORDER","authHash":"` + hash + `","orderId":"` + strings.Repeat("o", 200) + `"}`, ports.ErrMalformedNotice},
	} {
		if _, err := c.v.Verify(postback([]byte(c.body))); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
}
