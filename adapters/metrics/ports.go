package metrics

import (
	"context"
	"time"

	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// Dependency names, the "dependency" label of the call metrics.
const (
	DepSupplier = "supplier"
	DepGateway  = "gateway"
	DepVault    = "vault"
	DepMailer   = "mailer"
	DepBlobs    = "blob_store"
)

// Supplier measures every call to s, as DepSupplier.
func (m *Metrics) Supplier(s ports.Supplier) ports.Supplier { return supplier{s, m, DepSupplier} }

// SupplierAs measures every call to s as the dependency dep: one supplier
// among several ("supplier.kinguin").
func (m *Metrics) SupplierAs(s ports.Supplier, dep string) ports.Supplier { return supplier{s, m, dep} }

type supplier struct {
	ports.Supplier
	m   *Metrics
	dep string
}

func (s supplier) Products(ctx context.Context, q ports.ProductQuery) (p ports.ProductPage, err error) {
	defer s.m.observe(s.dep, "products", time.Now(), &err)
	return s.Supplier.Products(ctx, q)
}

func (s supplier) Product(ctx context.Context, id string) (p ports.SupplierProduct, err error) {
	defer s.m.observe(s.dep, "product", time.Now(), &err)
	return s.Supplier.Product(ctx, id)
}

func (s supplier) PlaceOrder(ctx context.Context, r ports.PurchaseRequest) (o ports.SupplierOrder, err error) {
	defer s.m.observe(s.dep, "place_order", time.Now(), &err)
	return s.Supplier.PlaceOrder(ctx, r)
}

func (s supplier) FindOrder(ctx context.Context, externalID string) (o ports.SupplierOrder, err error) {
	defer s.m.observe(s.dep, "find_order", time.Now(), &err)
	return s.Supplier.FindOrder(ctx, externalID)
}

func (s supplier) Order(ctx context.Context, id string) (o ports.SupplierOrder, err error) {
	defer s.m.observe(s.dep, "order", time.Now(), &err)
	return s.Supplier.Order(ctx, id)
}

func (s supplier) Keys(ctx context.Context, id string) (k []ports.SupplierKey, err error) {
	defer s.m.observe(s.dep, "keys", time.Now(), &err)
	return s.Supplier.Keys(ctx, id)
}

// Gateway measures every call to g.
func (m *Metrics) Gateway(g ports.PaymentGateway) ports.PaymentGateway { return gateway{g, m} }

type gateway struct {
	ports.PaymentGateway
	m *Metrics
}

func (g gateway) CreatePayment(ctx context.Context, r ports.PaymentRequest) (p domain.Payment, err error) {
	defer g.m.observe(DepGateway, "create_payment", time.Now(), &err)
	return g.PaymentGateway.CreatePayment(ctx, r)
}

func (g gateway) GetPayment(ctx context.Context, id string) (s ports.PaymentState, err error) {
	defer g.m.observe(DepGateway, "get_payment", time.Now(), &err)
	return g.PaymentGateway.GetPayment(ctx, id)
}

// KeyVault measures every call to v, keeping ports.KeyVersionFloor when v
// has it.
func (m *Metrics) KeyVault(v ports.KeyVault) ports.KeyVault {
	if f, ok := v.(ports.KeyVersionFloor); ok {
		return flooredVault{vault{v, m}, f}
	}
	return vault{v, m}
}

type flooredVault struct {
	vault
	floor ports.KeyVersionFloor
}

func (v flooredVault) SetMinDecryptionVersion(ctx context.Context, version int) (err error) {
	defer v.m.observe(DepVault, "set_min_decryption_version", time.Now(), &err)
	return v.floor.SetMinDecryptionVersion(ctx, version)
}

type vault struct {
	ports.KeyVault
	m *Metrics
}

func (v vault) NewDataKey(ctx context.Context, orderID string) (k ports.DataKey, err error) {
	defer v.m.observe(DepVault, "new_data_key", time.Now(), &err)
	return v.KeyVault.NewDataKey(ctx, orderID)
}

func (v vault) UnwrapDataKey(ctx context.Context, orderID string, k ports.WrappedKey) (b []byte, err error) {
	defer v.m.observe(DepVault, "unwrap_data_key", time.Now(), &err)
	return v.KeyVault.UnwrapDataKey(ctx, orderID, k)
}

func (v vault) Rewrap(ctx context.Context, reqs []ports.RewrapRequest) (k []ports.WrappedKey, err error) {
	defer v.m.observe(DepVault, "rewrap", time.Now(), &err)
	return v.KeyVault.Rewrap(ctx, reqs)
}

func (v vault) Rotate(ctx context.Context) (n int, err error) {
	defer v.m.observe(DepVault, "rotate", time.Now(), &err)
	return v.KeyVault.Rotate(ctx)
}

// Mailer measures every email sent through ml.
func (m *Metrics) Mailer(ml ports.Mailer) ports.Mailer { return mailer{ml, m} }

type mailer struct {
	ports.Mailer
	m *Metrics
}

// MarkAudited forwards ports.AuditMarkingMailer.
func (ml mailer) MarkAudited(ctx context.Context, idempotencyKey string) (bool, error) {
	return ports.MarkAudited(ctx, ml.Mailer, idempotencyKey)
}

func (ml mailer) Send(ctx context.Context, e ports.Email) (r ports.Receipt, err error) {
	defer ml.m.observe(DepMailer, "send", time.Now(), &err)
	return ml.Mailer.Send(ctx, e)
}

// BlobStore measures every call to b.
func (m *Metrics) BlobStore(b ports.BlobStore) ports.BlobStore { return blobs{b, m} }

type blobs struct {
	ports.BlobStore
	m *Metrics
}

// PutJoinsUnitOfWork forwards ports.UnitOfWorkBlobs.
func (b blobs) PutJoinsUnitOfWork() bool { return ports.PutJoinsUnitOfWork(b.BlobStore) }

// StoredIn forwards ports.Stored.
func (b blobs) StoredIn() any { return ports.StoredIn(b.BlobStore) }

func (b blobs) Put(ctx context.Context, ref string, data []byte) (err error) {
	defer b.m.observe(DepBlobs, "put", time.Now(), &err)
	return b.BlobStore.Put(ctx, ref, data)
}

func (b blobs) Get(ctx context.Context, ref string) (data []byte, err error) {
	defer b.m.observe(DepBlobs, "get", time.Now(), &err)
	return b.BlobStore.Get(ctx, ref)
}

func (b blobs) Delete(ctx context.Context, refs ...string) (err error) {
	defer b.m.observe(DepBlobs, "delete", time.Now(), &err)
	return b.BlobStore.Delete(ctx, refs...)
}

func (b blobs) Exists(ctx context.Context, ref string) (ok bool, err error) {
	defer b.m.observe(DepBlobs, "exists", time.Now(), &err)
	return b.BlobStore.Exists(ctx, ref)
}

func (m *Metrics) observe(dep, op string, start time.Time, err *error) {
	m.ObserveCall(dep, op, start, *err)
}

// Revelations counts the reveals appended to log.
func (m *Metrics) Revelations(log ports.RevelationLog) ports.RevelationLog {
	return revelations{log, m}
}

type revelations struct {
	ports.RevelationLog
	m *Metrics
}

func (r revelations) Append(ctx context.Context, rs ...domain.KeyRevelation) error {
	if err := r.RevelationLog.Append(ctx, rs...); err != nil {
		return err
	}
	r.m.Revealed(len(rs))
	return nil
}

// Orders observes the paid→delivered latency of each order whose update
// delivers it, once that update committed.
func (m *Metrics) Orders(o ports.OrderRepository) ports.OrderRepository { return orders{o, m} }

type orders struct {
	ports.OrderRepository
	m *Metrics
}

func (r orders) Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error) {
	fn, observe := r.observed(fn)
	return observe(r.OrderRepository.Update(ctx, id, fn))
}

var _ ports.SeenOrderUpdater = orders{}

// UpdateSeen is the wrapped orders' UpdateSeen where they have one,
// Update otherwise, observed as Update is.
func (r orders) UpdateSeen(ctx context.Context, seen domain.OrderSnapshot, fn func(*domain.Order) error) (*domain.Order, error) {
	fn, observe := r.observed(fn)
	if u, ok := r.OrderRepository.(ports.SeenOrderUpdater); ok {
		return observe(u.UpdateSeen(ctx, seen, fn))
	}
	return observe(r.OrderRepository.Update(ctx, seen.ID, fn))
}

// observed returns fn noting whether it delivers the order, and what to
// call with the update's result: it observes paid → delivered once an
// update that delivered committed.
func (r orders) observed(fn func(*domain.Order) error) (func(*domain.Order) error, func(*domain.Order, error) (*domain.Order, error)) {
	delivered := false
	wrapped := func(o *domain.Order) error {
		before := o.Status()
		if err := fn(o); err != nil {
			return err
		}
		// fn may run more than once (serialization retries): the last run
		// is the one that commits.
		delivered = before != domain.StatusDelivered && o.Status() == domain.StatusDelivered
		return nil
	}
	return wrapped, func(o *domain.Order, err error) (*domain.Order, error) {
		if err == nil && delivered {
			if d, ok := paidToDelivered(o); ok {
				r.m.ObserveDelivery(d)
			}
		}
		return o, err
	}
}

// paidToDelivered is the time between the first entry of o's timeline in
// status paid and the last in status delivered.
func paidToDelivered(o *domain.Order) (time.Duration, bool) {
	var paid, delivered time.Time
	for _, e := range o.Timeline() {
		switch e.Status() {
		case domain.StatusPaid:
			if paid.IsZero() {
				paid = e.At()
			}
		case domain.StatusDelivered:
			delivered = e.At()
		}
	}
	if paid.IsZero() || delivered.IsZero() || delivered.Before(paid) {
		return 0, false
	}
	return delivered.Sub(paid), true
}
