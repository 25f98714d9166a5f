package codeswholesale

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// PostbackVerifier authenticates CodesWholesale's postbacks by their
// authHash: the lower-case hex SHA-256 of the client id followed by the
// client signature. It is a static value, not a MAC of the body: anyone
// who saw one postback can replay it, so an event is only a hint, and the
// order or product is read again from the API before anything is done.
type PostbackVerifier struct {
	want [32]byte // sha256 of the expected authHash
	set  bool
}

var _ ports.SupplierEventVerifier = PostbackVerifier{}

// NewPostbackVerifier returns a verifier for the credentials; with an
// empty client id or signature it refuses every postback.
func NewPostbackVerifier(clientID, clientSignature string) PostbackVerifier {
	clientID, clientSignature = strings.TrimSpace(clientID), strings.TrimSpace(clientSignature)
	return PostbackVerifier{want: sha256.Sum256([]byte(AuthHash(clientID, clientSignature))), set: clientID != "" && clientSignature != ""}
}

// AuthHash is the authHash CodesWholesale sends with the credentials.
func AuthHash(clientID, clientSignature string) string {
	h := sha256.Sum256([]byte(clientID + clientSignature))
	return hex.EncodeToString(h[:])
}

// Postback types keyward acts on.
const (
	postbackPreOrder       = "PREORDER"
	postbackStock          = "STOCK"
	postbackNewProduct     = "NEW_PRODUCT"
	postbackProductUpdated = "PRODUCT_UPDATED"
	postbackProductHidden  = "PRODUCT_HIDDEN"
)

type postback struct {
	Type      string `json:"type"`
	AuthHash  string `json:"authHash"`
	OrderID   string `json:"orderId"`
	ProductID string `json:"productId"`
	Products  []struct {
		ProductID string `json:"productId"`
	} `json:"products"`
}

// Verify reads the body's authHash and compares it with the expected one
// in constant time (hashing both first, so that lengths leak nothing),
// before anything else of the body is used. PREORDER (the keys of a
// pre-order are out) is a purchase event naming CodesWholesale's order;
// STOCK, NEW_PRODUCT, PRODUCT_UPDATED and PRODUCT_HIDDEN are product
// events. It returns ports.ErrSignatureInvalid for a body that does not
// parse or a wrong or missing authHash, ports.ErrMalformedNotice for a
// known type without its ids, and an event of no kind for other types.
// Postbacks say nothing of when the entity changed: UpdatedAt is zero.
func (v PostbackVerifier) Verify(w ports.SupplierWebhook) (ports.SupplierEvent, error) {
	var b postback
	if err := json.Unmarshal(w.Body, &b); err != nil {
		return ports.SupplierEvent{}, fmt.Errorf("codeswholesale postback: %w: the body does not parse, so its authHash cannot be read", ports.ErrSignatureInvalid)
	}
	got := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(b.AuthHash))))
	if subtle.ConstantTimeCompare(got[:], v.want[:]) != 1 || !v.set {
		return ports.SupplierEvent{}, fmt.Errorf("codeswholesale postback: %w: wrong or missing authHash", ports.ErrSignatureInvalid)
	}
	typ := strings.ToUpper(strings.TrimSpace(b.Type))
	ev := ports.SupplierEvent{Name: supplierhttp.Truncate(typ, maxFieldLen)}
	switch typ {
	case postbackPreOrder:
		if err := checkField("orderId", b.OrderID); err != nil || b.OrderID == "" {
			return ports.SupplierEvent{}, fmt.Errorf("codeswholesale postback %s: %w: no usable orderId", typ, ports.ErrMalformedNotice)
		}
		ev.Kind, ev.SupplierOrderID = ports.SupplierEventPurchase, b.OrderID
	case postbackStock, postbackNewProduct, postbackProductUpdated, postbackProductHidden:
		ids := []string{b.ProductID}
		if typ == postbackStock {
			ids = ids[:0]
			for _, p := range b.Products {
				ids = append(ids, p.ProductID)
			}
		}
		for _, id := range ids {
			if err := checkField("productId", id); err != nil || id == "" {
				return ports.SupplierEvent{}, fmt.Errorf("codeswholesale postback %s: %w: a product without a usable productId", typ, ports.ErrMalformedNotice)
			}
		}
		if len(ids) == 0 {
			return ports.SupplierEvent{}, fmt.Errorf("codeswholesale postback %s: %w: no products", typ, ports.ErrMalformedNotice)
		}
		ev.Kind, ev.ProductIDs = ports.SupplierEventProduct, ids
	default:
		if err := checkField("type", b.Type); err != nil {
			ev.Name = ""
		}
	}
	return ev, nil
}

// maxFieldLen bounds the ids keyward takes from a postback.
const maxFieldLen = 128

// checkField refuses a value keyward could not store or log as it is: a
// control character, invalid UTF-8, or more than maxFieldLen bytes. The
// error never repeats the value.
func checkField(name, v string) error {
	switch {
	case len(v) > maxFieldLen:
		return fmt.Errorf("%s is longer than %d bytes", name, maxFieldLen)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s is not valid UTF-8", name)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%s holds a control character", name)
	}
	return nil
}
