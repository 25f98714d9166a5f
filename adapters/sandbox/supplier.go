// Package sandbox holds in-process fakes of keyward's external services: a
// supplier that behaves like Kinguin ESA and a payment gateway that issues
// NOWPayments-shaped payments. They are the embedded defaults and the
// fixtures of end-to-end tests; nothing here talks to a network.
package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/internal/supplierhttp"
	"github.com/keyward/keyward/ports"
)

// SupplierConfig tunes the fake supplier. The zero value is an instant,
// reliable supplier with seed 0.
type SupplierConfig struct {
	// Latency is added to every call except Name and Health.
	Latency time.Duration
	// FailureRate is the fraction (0..1) of PlaceOrder and Keys calls that
	// fail with ports.ErrSupplierTemporary before doing anything.
	FailureRate float64
	// Seed varies the issued keys, the order ids and the failure pattern.
	Seed int64
	// Clock defaults to time.Now.
	Clock func() time.Time
	// KeyDelay keeps a new order "processing" (Keys returns
	// ports.ErrKeysPending) until this long after the purchase; zero
	// delivers at once.
	KeyDelay time.Duration
	// StockScale multiplies every product's listed stock (0 and 1: as
	// listed), for loads larger than the catalog's few hundred keys.
	StockScale int
	// PreorderRelease is the release day of the catalog's pre-order
	// (PreorderProductID): its orders stay processing, their keys refused
	// as a pre-order's until that day by Clock. Zero: 30 days after the
	// supplier is made.
	PreorderRelease time.Time
}

// Supplier is a fake Kinguin ESA: a seeded catalog, stock that purchases
// consume, Kinguin's refusals, and deterministic keys. Safe for concurrent use.
type Supplier struct {
	cfg    SupplierConfig
	secret []byte

	mu         sync.Mutex
	rng        *rand.Rand
	products   map[string]*catalogEntry
	order      []string // product ids in catalog order
	byExternal map[string]*purchase
	byID       map[string]*purchase
	created    map[string]int // new purchases per external id
	total      int
}

var _ ports.Supplier = (*Supplier)(nil)

type purchase struct {
	order     ports.SupplierOrder
	createdAt time.Time
	keys      []ports.SupplierKey
	release   time.Time // a pre-order's release day; zero for any other
}

// NewSupplier returns a supplier with a fresh copy of the sandbox catalog.
func NewSupplier(cfg SupplierConfig) *Supplier {
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	s := &Supplier{
		cfg:        cfg,
		secret:     sandboxSecret(cfg.Seed),
		rng:        rand.New(rand.NewPCG(uint64(cfg.Seed), 0x6b657977617264)),
		products:   map[string]*catalogEntry{},
		byExternal: map[string]*purchase{},
		byID:       map[string]*purchase{},
		created:    map[string]int{},
	}
	if cfg.PreorderRelease.IsZero() {
		cfg.PreorderRelease = cfg.Clock().AddDate(0, 0, 30)
	}
	cfg.PreorderRelease = domain.ReleaseDay(cfg.PreorderRelease)
	s.cfg = cfg
	for _, e := range catalog() {
		e.product.Qty *= max(1, cfg.StockScale)
		if e.product.Preorder {
			e.product.ReleaseDate = cfg.PreorderRelease
		}
		s.products[e.product.ID] = &e
		s.order = append(s.order, e.product.ID)
	}
	return s
}

// Name returns "sandbox".
func (s *Supplier) Name() string { return "sandbox" }

// Health returns nil: the sandbox is always up.
func (s *Supplier) Health(context.Context) error { return nil }

// Products returns a page of the catalog with current stock, 25 products
// unless q.Limit says otherwise; the cursor is the next product's position.
// UpdatedSince is ignored: the sandbox reports no change times. It returns
// a wrapped ports.ErrSupplierPermanent for a cursor it did not issue, or
// the context's error.
func (s *Supplier) Products(ctx context.Context, q ports.ProductQuery) (ports.ProductPage, error) {
	if err := s.call(ctx, false); err != nil {
		return ports.ProductPage{}, fmt.Errorf("sandbox products: %w", err)
	}
	start := 0
	if q.Cursor != "" {
		n, err := strconv.Atoi(q.Cursor)
		if err != nil || n < 0 {
			return ports.ProductPage{}, fmt.Errorf("sandbox products: %w: ConstraintViolation: bad cursor %q", ports.ErrSupplierPermanent, q.Cursor)
		}
		start = n
	}
	limit := q.Limit
	if limit <= 0 || limit > 100 {
		limit = 25
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end := min(start+limit, len(s.order))
	var page ports.ProductPage
	for _, id := range s.order[min(start, end):end] {
		page.Products = append(page.Products, s.products[id].product)
	}
	if end < len(s.order) {
		page.Next = strconv.Itoa(end)
	}
	return page, nil
}

// Product returns one product with its current stock, a wrapped
// domain.ErrNotFound for an unknown id, or the context's error.
func (s *Supplier) Product(ctx context.Context, id string) (ports.SupplierProduct, error) {
	if err := s.call(ctx, false); err != nil {
		return ports.SupplierProduct{}, fmt.Errorf("sandbox product %s: %w", id, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.products[id]
	if !ok {
		return ports.SupplierProduct{}, fmt.Errorf("sandbox product %s: %w", id, domain.ErrNotFound)
	}
	return e.product, nil
}

// PlaceOrder buys r.Qty keys, or returns the existing order for
// r.ExternalID. It returns a wrapped ports.ErrSupplierTemporary for an
// injected failure, ports.ErrSupplierPermanent for an unknown product, a
// quantity outside 1..9, too little stock or a price (the most we pay)
// below the current cost, and the context's error when cancelled during the latency.
func (s *Supplier) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (ports.SupplierOrder, error) {
	if err := s.call(ctx, true); err != nil {
		return ports.SupplierOrder{}, fmt.Errorf("sandbox place order %s: %w", r.ExternalID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byExternal[r.ExternalID]; ok {
		return s.view(p), nil
	}
	e, err := s.check(r)
	if err != nil {
		return ports.SupplierOrder{}, fmt.Errorf("sandbox place order %s: %w", r.ExternalID, err)
	}
	e.product.Qty -= r.Qty
	p := s.newPurchase(e, r.ProductID, r.ExternalID, r.Qty, s.cfg.Clock())
	s.byExternal[r.ExternalID] = p
	s.byID[p.order.ID] = p
	s.created[r.ExternalID]++
	s.total++
	return s.view(p), nil
}

// check applies Kinguin's refusals; the caller holds s.mu.
func (s *Supplier) check(r ports.PurchaseRequest) (*catalogEntry, error) {
	e, ok := s.products[r.ProductID]
	switch {
	case r.ExternalID == "":
		return nil, fmt.Errorf("%w: ConstraintViolation: orderExternalId is required", ports.ErrSupplierPermanent)
	case !ok:
		return nil, fmt.Errorf("%w: ProductUnavailable: unknown product %q", ports.ErrSupplierPermanent, r.ProductID)
	case r.Qty < 1 || r.Qty > domain.MaxItemQuantity:
		return nil, fmt.Errorf("%w: ConstraintViolation: qty %d outside 1..%d", ports.ErrSupplierPermanent, r.Qty, domain.MaxItemQuantity)
	case e.product.Qty < r.Qty:
		return nil, fmt.Errorf("%w: ProductUnavailable: %s has %d in stock, %d asked", ports.ErrSupplierPermanent, r.ProductID, e.product.Qty, r.Qty)
	case r.Price.Currency() != e.product.Cost.Currency() || r.Price.Amount().LessThan(e.product.Cost.Amount()):
		return nil, fmt.Errorf("%w: ProductUnavailable: no offer of %s at or below %s %s (current %s)", ports.ErrSupplierPermanent, r.ProductID, r.Price, r.Price.Currency(), e.product.Cost)
	}
	return e, nil
}

// SetCost changes what a product costs from now on, as a supplier's price
// moves; it returns a wrapped domain.ErrNotFound for an unknown product.
func (s *Supplier) SetCost(id string, cost domain.Money) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.products[id]
	if !ok {
		return fmt.Errorf("sandbox product %s: %w", id, domain.ErrNotFound)
	}
	e.product.Cost = cost
	return nil
}

// FindOrder returns the order placed for externalID, or a wrapped
// domain.ErrNotFound; otherwise only the context's error.
func (s *Supplier) FindOrder(ctx context.Context, externalID string) (ports.SupplierOrder, error) {
	if err := s.call(ctx, false); err != nil {
		return ports.SupplierOrder{}, fmt.Errorf("sandbox find order %s: %w", externalID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.byExternal[externalID]
	if !ok {
		return ports.SupplierOrder{}, fmt.Errorf("sandbox find order %s: %w", externalID, domain.ErrNotFound)
	}
	return s.view(p), nil
}

// Order returns the order with id supplierOrderID, a wrapped
// domain.ErrNotFound, or the context's error.
func (s *Supplier) Order(ctx context.Context, supplierOrderID string) (ports.SupplierOrder, error) {
	if err := s.call(ctx, false); err != nil {
		return ports.SupplierOrder{}, fmt.Errorf("sandbox order %s: %w", supplierOrderID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.lookup(supplierOrderID)
	if !ok {
		return ports.SupplierOrder{}, fmt.Errorf("sandbox order %s: %w", supplierOrderID, domain.ErrNotFound)
	}
	return s.view(p), nil
}

// Keys returns fresh copies of the order's keys: callers may zero them. It
// returns a wrapped domain.ErrNotFound for an unknown order,
// ports.ErrKeysPending within KeyDelay of the purchase,
// ports.ErrSupplierTemporary for an injected failure, or the context's error.
func (s *Supplier) Keys(ctx context.Context, supplierOrderID string) ([]ports.SupplierKey, error) {
	if err := s.call(ctx, true); err != nil {
		return nil, fmt.Errorf("sandbox keys %s: %w", supplierOrderID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.lookup(supplierOrderID)
	if !ok {
		return nil, fmt.Errorf("sandbox keys %s: %w", supplierOrderID, domain.ErrNotFound)
	}
	if s.view(p).Status != ports.PurchaseCompleted {
		if !p.release.IsZero() {
			return nil, fmt.Errorf("sandbox keys %s: %w", supplierOrderID, &ports.ReleasePendingError{ReleaseDate: p.release, Detail: "sandbox pre-order"})
		}
		return nil, fmt.Errorf("sandbox keys %s: %w", supplierOrderID, ports.ErrKeysPending)
	}
	return cloneKeys(p.keys), nil
}

// IssuedKeys returns copies of the keys bought for externalID, nil if none:
// tests compare them with what was sealed and revealed.
func (s *Supplier) IssuedKeys(externalID string) []ports.SupplierKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.byExternal[externalID]; ok {
		return cloneKeys(p.keys)
	}
	return nil
}

// PurchaseCount returns how many new purchases were created for externalID;
// anything above 1 means a key was bought twice.
func (s *Supplier) PurchaseCount(externalID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[externalID]
}

// TotalPurchases returns how many new purchases were created in all.
func (s *Supplier) TotalPurchases() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// view returns the order with its status at the current time; the caller
// holds s.mu.
func (s *Supplier) view(p *purchase) ports.SupplierOrder {
	o := p.order
	o.Status = ports.PurchaseCompleted
	if s.cfg.Clock().Before(p.createdAt.Add(s.cfg.KeyDelay)) || s.cfg.Clock().Before(p.release) {
		o.Status = ports.PurchasePending
	}
	return o
}

// call waits out the latency, then injects a failure at FailureRate when
// mayFail.
func (s *Supplier) call(ctx context.Context, mayFail bool) error {
	if err := supplierhttp.Sleep(ctx, s.cfg.Latency); err != nil {
		return err
	}
	if !mayFail || s.cfg.FailureRate <= 0 {
		return nil
	}
	s.mu.Lock()
	fail := s.rng.Float64() < s.cfg.FailureRate
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("%w: HttpClient: injected sandbox failure", ports.ErrSupplierTemporary)
	}
	return nil
}

func cloneKeys(ks []ports.SupplierKey) []ports.SupplierKey {
	out := make([]ports.SupplierKey, len(ks))
	for i, k := range ks {
		out[i] = ports.SupplierKey{ContentType: k.ContentType, Data: append([]byte(nil), k.Data...)}
	}
	return out
}
