package domain

import (
	"fmt"
	"time"
)

// MaxItemQuantity is the most keys one order line may ask for.
const MaxItemQuantity = 10

// SealedKey points at one sealed (encrypted) key of an item.
type SealedKey struct {
	Slot        int
	BlobRef     string
	ContentType string
	// Bad: the key was replaced on an approved claim. It stays sealed,
	// as evidence for the supplier, and is never revealed again.
	Bad bool
	// ClaimID is the claim that found the key bad, or that a replacement
	// was sealed for; "" for a key sealed at fulfilment.
	ClaimID string
}

// ItemFailure says why an item could not be fulfilled.
type ItemFailure struct {
	Reason    string
	Retryable bool
}

// OrderItem is one line of an order, fulfilled on its own. It changes only
// through its Order's methods.
type OrderItem struct {
	id              string
	sku             string
	name            string
	source          ProductSource
	quantity        int
	unitPrice       Money
	status          ItemStatus
	failure         *ItemFailure
	supplierOrderID string
	boughtFrom      string
	keys            []SealedKey
	releaseDate     time.Time // a pre-order's release day; zero otherwise
}

// NewItem describes a line of a new order, for NewOrder.
type NewItem struct {
	ID       string
	Product  *Product
	Quantity int
}

func newOrderItem(ni NewItem) (*OrderItem, error) {
	if ni.ID == "" {
		return nil, fmt.Errorf("%w: item id is empty", ErrInvalidOrder)
	}
	if ni.Product == nil {
		return nil, fmt.Errorf("%w: item has no product", ErrInvalidOrder)
	}
	if ni.Quantity < 1 || ni.Quantity > MaxItemQuantity {
		return nil, fmt.Errorf("%w: quantity %d of %s is outside 1..%d", ErrInvalidOrder, ni.Quantity, ni.Product.SKU(), MaxItemQuantity)
	}
	if err := ni.Product.CanSell(ni.Quantity); err != nil {
		return nil, err
	}
	return &OrderItem{
		id:        ni.ID,
		sku:       ni.Product.SKU(),
		name:      ni.Product.Name(),
		source:    ni.Product.Source(),
		quantity:  ni.Quantity,
		unitPrice: ni.Product.Price(),
		status:    ItemPending,
	}, nil
}

// ItemSnapshot carries an item's stored fields, inside an OrderSnapshot. It
// is a value: it shares nothing with the item.
type ItemSnapshot struct {
	ID              string
	SKU             string
	Name            string
	Source          ProductSource
	Quantity        int
	UnitPrice       Money
	Status          ItemStatus
	Failure         *ItemFailure
	SupplierOrderID string
	// BoughtFrom names the supplier the item's purchase was begun with
	// ("" before one was).
	BoughtFrom string
	Keys       []SealedKey
	// ReleaseDate is the release day of an item bought as a pre-order
	// (zero for any other).
	ReleaseDate time.Time
}

// unmarshalOrderItem rehydrates an item from storage without re-validating
// business rules, copying what s shares; it returns ErrInvalidOrder only
// for corrupt data.
func unmarshalOrderItem(s ItemSnapshot) (*OrderItem, error) {
	if s.ID == "" || s.SKU == "" || s.Quantity < 1 || s.Status == (ItemStatus{}) {
		return nil, fmt.Errorf("%w: corrupt item %q", ErrInvalidOrder, s.ID)
	}
	it := &OrderItem{
		id: s.ID, sku: s.SKU, name: s.Name, source: s.Source, quantity: s.Quantity,
		unitPrice: s.UnitPrice, status: s.Status,
		supplierOrderID: s.SupplierOrderID, boughtFrom: s.BoughtFrom, keys: append([]SealedKey(nil), s.Keys...),
		releaseDate: ReleaseDay(s.ReleaseDate),
	}
	if s.Failure != nil {
		f := *s.Failure
		it.failure = &f
	}
	return it, nil
}

// Snapshot returns the item's fields for storage, as values that later
// changes to the item do not reach.
func (i *OrderItem) Snapshot() ItemSnapshot {
	return ItemSnapshot{
		ID: i.id, SKU: i.sku, Name: i.name, Source: i.source, Quantity: i.quantity,
		UnitPrice: i.unitPrice, Status: i.status, Failure: i.Failure(),
		SupplierOrderID: i.supplierOrderID, BoughtFrom: i.boughtFrom, Keys: i.Keys(), ReleaseDate: i.releaseDate,
	}
}

// ID returns the item's id, global across orders: the supplier sees it as
// our external order id.
func (i *OrderItem) ID() string { return i.id }

// SKU returns the product's sku.
func (i *OrderItem) SKU() string { return i.sku }

// Name returns the product's name when the order was placed.
func (i *OrderItem) Name() string { return i.name }

// Source returns where the item's keys come from.
func (i *OrderItem) Source() ProductSource { return i.source }

// Quantity returns how many keys the line asks for.
func (i *OrderItem) Quantity() int { return i.quantity }

// UnitPrice returns the price of one key when the order was placed.
func (i *OrderItem) UnitPrice() Money { return i.unitPrice }

// Status returns where the item is in its fulfilment.
func (i *OrderItem) Status() ItemStatus { return i.status }

// SupplierOrderID returns the supplier's order id, "" before the purchase.
func (i *OrderItem) SupplierOrderID() string { return i.supplierOrderID }

// BoughtFrom names the supplier the item's purchase was begun with, ""
// before one was: the supplier order, its keys and its webhooks are that
// supplier's, whatever the product's source says since.
func (i *OrderItem) BoughtFrom() string { return i.boughtFrom }

// Supplier names the supplier to buy the item from, or bought from: the
// one the purchase was begun with, else its product's at order time.
func (i *OrderItem) Supplier() string {
	if i.boughtFrom != "" {
		return i.boughtFrom
	}
	return i.source.Supplier
}

// Keys returns a copy of the references to the item's sealed keys, the
// bad ones included; none before sealing or after a revoke.
func (i *OrderItem) Keys() []SealedKey { return append([]SealedKey(nil), i.keys...) }

// CurrentKeys returns the keys the customer is shown: every sealed key but
// the bad ones (those a claim replaced).
func (i *OrderItem) CurrentKeys() []SealedKey {
	var out []SealedKey
	for _, k := range i.keys {
		if !k.Bad {
			out = append(out, k)
		}
	}
	return out
}

// BadKeys returns the keys replaced on approved claims, kept sealed as
// evidence.
func (i *OrderItem) BadKeys() []SealedKey {
	var out []SealedKey
	for _, k := range i.keys {
		if k.Bad {
			out = append(out, k)
		}
	}
	return out
}

// NextSlot returns the first slot no key of the item holds: where a
// replacement is sealed, so the bad key's blob stays as it is.
func (i *OrderItem) NextSlot() int {
	next := 0
	for _, k := range i.keys {
		next = max(next, k.Slot+1)
	}
	return next
}

// Failure returns why the item failed, or nil.
func (i *OrderItem) Failure() *ItemFailure {
	if i.failure == nil {
		return nil
	}
	f := *i.failure
	return &f
}

// Subtotal is unit price × quantity.
func (i *OrderItem) Subtotal() Money { return i.unitPrice.Mul(i.quantity) }

// beginPurchase begins the purchase at supplier ("": unnamed, for an item
// whose product names none).
func (i *OrderItem) beginPurchase(supplier string) error {
	if supplier != "" && i.boughtFrom != "" && i.boughtFrom != supplier && (i.status != ItemPending || i.supplierOrderID != "") {
		// A purchase may exist at the first supplier: buying at a second
		// could buy twice.
		return fmt.Errorf("%w: item %s was bought from %s, not %s", ErrInvalidTransition, i.id, i.boughtFrom, supplier)
	}
	if supplier != "" {
		i.boughtFrom = supplier
	}
	switch i.status {
	case ItemPending, ItemPurchasing:
		i.status = ItemPurchasing
		return nil
	case ItemFailed:
		if i.failure != nil && i.failure.Retryable {
			i.status, i.failure = ItemPurchasing, nil
			return nil
		}
	}
	return fmt.Errorf("%w: item %s cannot start purchase from %s", ErrInvalidTransition, i.id, i.status)
}

func (i *OrderItem) recordPurchase(supplierOrderID string) error {
	if supplierOrderID == "" {
		return fmt.Errorf("%w: empty supplier order id", ErrInvalidOrder)
	}
	switch i.status {
	case ItemPurchasing:
		i.status, i.supplierOrderID = ItemPurchased, supplierOrderID
		return nil
	case ItemPurchased:
		if i.supplierOrderID == supplierOrderID {
			return nil
		}
	}
	return fmt.Errorf("%w: item %s cannot record purchase from %s", ErrInvalidTransition, i.id, i.status)
}

func (i *OrderItem) seal(keys []SealedKey) error {
	if i.status != ItemPurchased && i.status != ItemAwaitingRelease {
		return fmt.Errorf("%w: item %s cannot be sealed from %s", ErrInvalidTransition, i.id, i.status)
	}
	if len(keys) != i.quantity {
		return fmt.Errorf("%w: item %s needs %d keys, got %d", ErrInvalidOrder, i.id, i.quantity, len(keys))
	}
	i.status, i.keys = ItemSealed, append([]SealedKey(nil), keys...)
	return nil
}

func (i *OrderItem) fail(reason string, retryable bool) error {
	if i.status == ItemSealed {
		return fmt.Errorf("%w: item %s is already sealed", ErrInvalidTransition, i.id)
	}
	i.status, i.failure = ItemFailed, &ItemFailure{Reason: reason, Retryable: retryable}
	return nil
}

// resetForRetry puts a failed item back to pending, keeping a known
// supplier order so that the retry finds it instead of buying again.
func (i *OrderItem) resetForRetry() {
	if i.status != ItemFailed {
		return
	}
	i.failure = nil
	if i.supplierOrderID != "" {
		i.status = ItemPurchased
		if !i.releaseDate.IsZero() {
			i.status = ItemAwaitingRelease
		}
		return
	}
	i.status = ItemPending
}

func (i *OrderItem) shred() { i.keys = nil }

// itemEvent is a timeline entry for an item change.
func itemEvent(kind EventKind, status OrderStatus, i *OrderItem, now time.Time, extra ...string) FulfillmentEvent {
	meta := map[string]string{"item_id": i.id, "sku": i.sku, "item_status": i.status.String()}
	for k := 0; k+1 < len(extra); k += 2 {
		meta[extra[k]] = extra[k+1]
	}
	return newFulfillmentEvent(kind, status, meta, now)
}
