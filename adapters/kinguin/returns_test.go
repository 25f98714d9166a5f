package kinguin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/adapters/kinguin/kinguintest"
	"github.com/keyward/keyward/ports"
)

func TestReturnKeysOncePerOrder(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	c := newClient(t, srv)
	o, err := c.PlaceOrder(t.Context(), request("item-ret", 2, "9.99"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.ReturnKeys(t.Context(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != (ports.KeyReturn{Returned: 2}) {
		t.Fatalf("return = %+v, want 2 returned", got)
	}
	_, err = c.ReturnKeys(t.Context(), o.ID)
	if !errors.Is(err, ports.ErrReturnRefused) || !errors.Is(err, ports.ErrNothingToReturn) || !strings.Contains(err.Error(), "NoKeysToReturn") {
		t.Fatalf("second return: %v, want ErrReturnRefused and ErrNothingToReturn naming NoKeysToReturn", err)
	}
	if n := srv.Returns(o.ID); n != 2 {
		t.Fatalf("return requests = %d, want 2 (one each, never retried)", n)
	}
}

func TestReturnKeysCountsKeptKeysAndRefusals(t *testing.T) {
	t.Parallel()
	srv := kinguintest.New(t, 0)
	c := newClient(t, srv)
	srv.Fail("POST /v2/order/", kinguintest.Fault{Status: 200, Body: string(kinguintest.Fixture("kinguin-return-keys-response.json"))})
	got, err := c.ReturnKeys(t.Context(), "any")
	if err != nil {
		t.Fatal(err)
	}
	if got != (ports.KeyReturn{Returned: 1, Kept: 1}) {
		t.Fatalf("return = %+v, want 1 returned, 1 kept (reference answer)", got)
	}
	if _, err := c.ReturnKeys(t.Context(), "unknown"); !errors.Is(err, ports.ErrReturnRefused) || errors.Is(err, ports.ErrNothingToReturn) {
		t.Fatalf("unknown order: %v, want ErrReturnRefused, not ErrNothingToReturn", err)
	}
	srv.Fail("POST /v2/order/", kinguintest.Fault{Status: 503})
	if _, err := c.ReturnKeys(t.Context(), "any"); !errors.Is(err, ports.ErrSupplierTemporary) || errors.Is(err, ports.ErrReturnRefused) {
		t.Fatalf("503: %v, want ErrSupplierTemporary", err)
	}
}
