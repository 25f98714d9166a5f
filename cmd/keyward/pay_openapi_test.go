package main_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
)

// placeOrder orders one of the first product at base and returns its id.
func placeOrder(t *testing.T, base string) string {
	t.Helper()
	var products struct {
		Items []struct {
			SKU string `json:"sku"`
		} `json:"items"`
	}
	if code := call(t, "GET", base+"/v1/products", "", nil, &products); code != 200 || len(products.Items) == 0 {
		t.Fatalf("products: %d", code)
	}
	var order struct {
		ID string `json:"id"`
	}
	body := map[string]any{"email": "pay@example.com", "items": []any{map[string]any{"sku": products.Items[0].SKU, "quantity": 1}}}
	if code := call(t, "POST", base+"/v1/orders", "", body, &order); code != 201 {
		t.Fatalf("order: %d", code)
	}
	return order.ID
}

// with returns env with the variables set (a later entry wins).
func with(env []string, vars ...string) []string { return append(append([]string{}, env...), vars...) }

// TestPayFindsTheServerLikeServe: without --server, `keyward pay` posts to
// the server the same configuration makes serve listen on:
// KEYWARD_HTTP_ADDR, or KEYWARD_PUBLIC_BASE_URL when it is set.
func TestPayFindsTheServerLikeServe(t *testing.T) {
	t.Parallel()
	s := serve(t)
	addr := strings.TrimPrefix(s.base, "http://")
	for name, env := range map[string][]string{
		"KEYWARD_HTTP_ADDR":       with(s.env, "KEYWARD_HTTP_ADDR="+addr),
		"KEYWARD_PUBLIC_BASE_URL": with(s.env, "KEYWARD_HTTP_ADDR=127.0.0.1:1", "KEYWARD_PUBLIC_BASE_URL="+s.base),
	} {
		id := placeOrder(t, s.base)
		cmd := exec.Command(binary, "pay", "--order", id)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "200 OK") {
			t.Errorf("pay with %s: %v\n%s", name, err, out)
		}
	}
}

// TestOpenAPIIsTheServedDocument: `keyward openapi` prints, byte for byte,
// what GET /openapi.json of a server with the same configuration answers.
func TestOpenAPIIsTheServedDocument(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	l.Close() // for the server to take: nothing else on this machine binds a given port this late
	for name, vars := range map[string][]string{
		"listen address":  {"KEYWARD_HTTP_ADDR=" + free},
		"public base URL": {"KEYWARD_PUBLIC_BASE_URL=http://localhost:9443/shop"},
	} {
		t.Run(name, func(t *testing.T) {
			s := serve(t, vars...)
			resp, err := http.Get(s.base + "/openapi.json")
			if err != nil {
				t.Fatal(err)
			}
			served, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET /openapi.json: %d %v", resp.StatusCode, err)
			}
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(binary, "openapi")
			cmd.Env, cmd.Stdout, cmd.Stderr = s.env, &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("keyward openapi: %v\n%s", err, stderr.String())
			}
			if !bytes.Equal(stdout.Bytes(), served) {
				t.Fatalf("keyward openapi (%d bytes) differs from the served /openapi.json (%d bytes) at byte %d",
					stdout.Len(), len(served), firstDifference(stdout.Bytes(), served))
			}
		})
	}
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
