// Command walk buys a key from a running keyward with the client
// oapi-codegen generated from keyward's OpenAPI document (package keyward,
// generated next to this file by the apiclient test): products → order →
// payment → reveal. It exits 1 at the first step where the server or the
// generated client does not do what the document promises.
package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"time"

	"walk/keyward"
)

func main() {
	server := flag.String("server", "", "keyward base URL")
	mailDir := flag.String("mail", "", "keyward's mail directory (KEYWARD_MAIL_DIR)")
	secret := flag.String("ipn-secret", "", "keyward's NOWPayments IPN secret")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := walk(ctx, *server, *mailDir, *secret); err != nil {
		fmt.Fprintln(os.Stderr, "walk:", err)
		os.Exit(1)
	}
}

func walk(ctx context.Context, server, mailDir, secret string) error {
	c, err := keyward.NewClientWithResponses(server)
	if err != nil {
		return err
	}

	products, err := c.ListProductsWithResponse(ctx, &keyward.ListProductsParams{})
	if err != nil || !(products.JSON200 != nil) {
		return failed("list products", products, err)
	}
	var sku string
	for _, p := range *products.JSON200.Items {
		if p.InStock {
			sku = p.Sku
			break
		}
	}
	if sku == "" {
		return errors.New("list products: nothing in stock")
	}
	missing, err := c.GetProductWithResponse(ctx, "no-such-sku")
	if err != nil || !(missing.ApplicationproblemJSON404 != nil) {
		return failed("get unknown product", missing, err)
	}

	// Placed twice with one Idempotency-Key, as a client retrying after a
	// lost answer: the same order and access token both times.
	idem := "walk-order-0001"
	line := keyward.PlaceOrderJSONRequestBody{Email: "walk@example.com", Items: &[]keyward.OrderLineBody{{Sku: sku, Quantity: 1}}}
	placed, err := c.PlaceOrderWithResponse(ctx, &keyward.PlaceOrderParams{IdempotencyKey: &idem}, line)
	if err != nil || !(placed.JSON201 != nil && placed.JSON201.AccessToken != nil) {
		return failed("place order", placed, err)
	}
	again, err := c.PlaceOrderWithResponse(ctx, &keyward.PlaceOrderParams{IdempotencyKey: &idem}, line)
	if err != nil || again.JSON201 == nil || again.JSON201.Id != placed.JSON201.Id || again.JSON201.AccessToken == nil || *again.JSON201.AccessToken != *placed.JSON201.AccessToken {
		return failed("place order again with the same Idempotency-Key", again, err)
	}
	order := *placed.JSON201
	bearer := func(_ context.Context, r *http.Request) error {
		r.Header.Set("Authorization", "Bearer "+*order.AccessToken)
		return nil
	}
	anonymous, err := c.GetOrderWithResponse(ctx, order.Id)
	if err != nil || !(anonymous.ApplicationproblemJSON401 != nil) {
		return failed("get order without its token", anonymous, err)
	}

	body, sig, err := paymentNotice(order, secret)
	if err != nil {
		return err
	}
	paid, err := c.NowpaymentsIpnWithBodyWithResponse(ctx, &keyward.NowpaymentsIpnParams{XNowpaymentsSig: &sig}, "application/json", bytes.NewReader(body))
	if err != nil || !(paid.JSON200 != nil) {
		return failed("payment notification", paid, err)
	}
	forged := strings.Repeat("0", 128)
	refused, err := c.NowpaymentsIpnWithBodyWithResponse(ctx, &keyward.NowpaymentsIpnParams{XNowpaymentsSig: &forged}, "application/json", bytes.NewReader(body))
	if err != nil || !(refused.ApplicationproblemJSON401 != nil) {
		return failed("forged payment notification", refused, err)
	}

	// Fulfilment and delivery run in the background: wait until the order
	// says it is delivered.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := c.GetOrderWithResponse(ctx, order.Id, bearer)
		if err != nil || !(got.JSON200 != nil) {
			return failed("get order", got, err)
		}
		if got.JSON200.Status == keyward.OrderBodyStatusDelivered {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("order %s still %s: %w", order.Id, got.JSON200.Status, ctx.Err())
		case <-tick.C:
		}
	}

	token, err := deliveryToken(mailDir)
	if err != nil {
		return err
	}
	status, err := c.GetDeliveryWithResponse(ctx, token)
	if err != nil || !(status.JSON200 != nil && status.JSON200.Revealable) {
		return failed("delivery status", status, err)
	}
	revealed, err := c.RevealKeysWithResponse(ctx, token, &keyward.RevealKeysParams{})
	if err != nil || !(revealed.JSON200 != nil) {
		return failed("reveal", revealed, err)
	}
	items := *revealed.JSON200.Items
	if len(items) != 1 || items[0].Sku != sku || items[0].Keys == nil || len(*items[0].Keys) != 1 {
		return fmt.Errorf("reveal: want one key of %s, got %s", sku, revealed.Body)
	}
	if k := (*items[0].Keys)[0]; (k.Value == nil || *k.Value == "") && (k.DataBase64 == nil || *k.DataBase64 == "") {
		return fmt.Errorf("reveal: an empty key: %s", revealed.Body)
	}
	unknown, err := c.RevealKeysWithResponse(ctx, strings.Repeat("a", 43), &keyward.RevealKeysParams{})
	if err != nil || !(unknown.ApplicationproblemJSON404 != nil) {
		return failed("reveal with an unknown token", unknown, err)
	}
	fmt.Printf("walked: order %s paid, delivered and revealed (%s)\n", order.Id, sku)
	return nil
}

// failed says why step went wrong: the call's error or, when the answer
// is not the one the document promises, its status and body.
func failed(step string, r interface{ StatusCode() int }, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", step, err)
	}
	body := reflect.ValueOf(r).Elem().FieldByName("Body").Bytes() // every generated response has Body
	return fmt.Errorf("%s: unexpected answer %d: %s", step, r.StatusCode(), body)
}

// paymentNotice is the IPN NOWPayments sends when the order is paid in
// full, with its signature: the hex HMAC-SHA512 under the IPN secret of the
// body with its keys sorted. Every value is a string, so Go's encoding of
// the map (keys sorted, no HTML escaping) is that canonical form.
func paymentNotice(o keyward.OrderBody, secret string) ([]byte, string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(map[string]string{
		"payment_id": o.Payment.PaymentId, "payment_status": "finished", "pay_address": o.Payment.PayAddress,
		"price_amount": o.Total.Amount, "price_currency": o.Total.Currency,
		"pay_amount": o.Payment.PayAmount, "actually_paid": o.Payment.PayAmount, "pay_currency": o.Payment.PayCurrency,
		"order_id": o.Id,
	})
	if err != nil {
		return nil, "", err
	}
	body := bytes.TrimSpace(buf.Bytes())
	m := hmac.New(sha512.New, []byte(secret))
	m.Write(body)
	return body, hex.EncodeToString(m.Sum(nil)), nil
}

var deliverLink = regexp.MustCompile(`/deliver/([A-Za-z0-9_-]+)`)

// deliveryToken reads the link token from the one email in mailDir that
// carries a delivery link (the others are the order and payment notices).
// Quoted-printable soft line breaks are undone first; the token's
// characters are never encoded.
func deliveryToken(mailDir string) (string, error) {
	files, err := filepath.Glob(filepath.Join(mailDir, "*.eml"))
	if err != nil {
		return "", err
	}
	var tokens []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		text := strings.ReplaceAll(string(raw), "=\r\n", "")
		if m := deliverLink.FindStringSubmatch(text); m != nil {
			tokens = append(tokens, m[1])
		}
	}
	if len(tokens) != 1 {
		return "", fmt.Errorf("want one email with a delivery link in %s, found %d among %d emails", mailDir, len(tokens), len(files))
	}
	return tokens[0], nil
}
