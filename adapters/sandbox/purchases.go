package sandbox

import (
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/ports"
)

// The sandbox keeps its purchases in memory, yet a restarted keyward must
// find the purchases it recorded, as it would at a real supplier. So a
// supplier order id carries what the purchase was (our external id, the
// product, the quantity) under a MAC of the sandbox secret: an id this
// sandbox (or one with the same seed) issued is recognised after a restart,
// its keys derived again (they are deterministic), and a made-up id is
// still unknown.

// newPurchase makes the purchase of qty keys of productID for externalID;
// the caller holds s.mu.
func (s *Supplier) newPurchase(e *catalogEntry, productID, externalID string, qty int, at time.Time) *purchase {
	p := &purchase{
		order:     ports.SupplierOrder{ID: s.orderID(productID, externalID, qty), ExternalID: externalID},
		createdAt: at,
	}
	if e.product.Preorder {
		p.release = e.product.ReleaseDate
	}
	for slot := range qty {
		p.keys = append(p.keys, e.format.issue(s.secret, productID, externalID, slot))
	}
	return p
}

func (s *Supplier) orderID(productID, externalID string, qty int) string {
	q := strconv.Itoa(qty)
	return symbols(derive(s.secret, "order", externalID, productID, q), 11) + "-" +
		base64.RawURLEncoding.EncodeToString([]byte(externalID+"\x00"+productID+"\x00"+q))
}

// lookup returns the purchase with id, recovering one this sandbox issued
// before a restart; the caller holds s.mu.
func (s *Supplier) lookup(id string) (*purchase, bool) {
	if p, ok := s.byID[id]; ok {
		return p, true
	}
	mac, enc, ok := strings.Cut(id, "-")
	if !ok || len(mac) != 11 {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return nil, false
	}
	externalID, productID := parts[0], parts[1]
	qty, err := strconv.Atoi(parts[2])
	e, known := s.products[productID]
	if err != nil || !known || qty < 1 || s.orderID(productID, externalID, qty) != id {
		return nil, false
	}
	p := s.newPurchase(e, productID, externalID, qty, time.Time{}) // long done: completed
	s.byExternal[externalID] = p
	s.byID[id] = p
	return p, true
}
