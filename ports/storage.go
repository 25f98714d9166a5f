package ports

import (
	"context"
	"reflect"
	"time"

	"github.com/keyward/keyward/domain"
)

// OrderRepository stores orders.
type OrderRepository interface {
	// Create stores a new order and publishes its events; domain.ErrConflict
	// if the id exists.
	Create(ctx context.Context, o *domain.Order) error
	// Get returns the order or domain.ErrNotFound.
	Get(ctx context.Context, id string) (*domain.Order, error)
	// Update loads the order under a lock, calls fn, and saves the order
	// and publishes the events it collected in one transaction. When fn
	// returns an error nothing is saved and the error is returned.
	// domain.ErrNotFound if the order does not exist.
	Update(ctx context.Context, id string, fn func(*domain.Order) error) (*domain.Order, error)
	// List returns orders newest first, after the cursor (an order id, ""
	// for the start), filtered by what q sets.
	List(ctx context.Context, q OrderQuery) ([]*domain.Order, error)
}

// SeenOrderUpdater is an OrderRepository that can update an order from a
// copy its caller holds (optional): a store that has one saves the read.
type SeenOrderUpdater interface {
	// UpdateSeen is Update starting from seen, the order as the caller
	// read it or saved it in a unit of work that committed: while the
	// stored order is still at seen's version, fn changes a copy of seen
	// and the save finds it so under its lock; otherwise (changed since,
	// or fn refuses the copy) it is Update.
	UpdateSeen(ctx context.Context, seen domain.OrderSnapshot, fn func(*domain.Order) error) (*domain.Order, error)
}

// OrderCounter counts orders by status for the orders gauge, read on every
// scrape: it must be one cheap query, not a listing.
type OrderCounter interface {
	// CountByStatus returns how many orders are in each status; a status
	// with none may be missing from the map.
	CountByStatus(ctx context.Context) (map[domain.OrderStatus]int, error)
	// CountAwaitingRelease returns how many fulfilling orders wait only
	// for pre-orders' release (domain.Order.AwaitingReleaseUntil): every
	// item not sealed awaits its release. They are fulfilling for weeks,
	// and not stuck.
	CountAwaitingRelease(ctx context.Context) (int, error)
}

// OrderQuery filters List; zero fields do not filter.
type OrderQuery struct {
	Status      *domain.OrderStatus
	Email       string    // the customer's address, matched case-insensitively
	CreatedFrom time.Time // created at or after
	CreatedTo   time.Time // created before
	// ItemID keeps only the order holding this item (item ids are global:
	// a supplier knows our purchase by one).
	ItemID string
	After  string
	Limit  int
}

// DeliveryLinkRepository stores delivery links by token hash.
type DeliveryLinkRepository interface {
	// Create stores a link; domain.ErrConflict on a duplicate id or hash.
	Create(ctx context.Context, l *domain.DeliveryLink) error
	// GetByTokenHash returns the link or domain.ErrNotFound.
	GetByTokenHash(ctx context.Context, h domain.TokenHash) (*domain.DeliveryLink, error)
	// Update locks the link, calls fn, saves; see OrderRepository.Update.
	Update(ctx context.Context, id string, fn func(*domain.DeliveryLink) error) (*domain.DeliveryLink, error)
	// ListByOrder returns an order's links, oldest first.
	ListByOrder(ctx context.Context, orderID string) ([]*domain.DeliveryLink, error)
}

// DeliveryLinkWithOrder is a DeliveryLinkRepository that can read a link
// and its order together, in one read; a repository without it is read
// twice (the link, then the order).
type DeliveryLinkWithOrder interface {
	// GetWithOrderByTokenHash returns the link and its order, or
	// domain.ErrNotFound when there is no such link (or order).
	GetWithOrderByTokenHash(ctx context.Context, h domain.TokenHash) (*domain.DeliveryLink, *domain.Order, error)
}

// RevealRead is what a reveal reads before it opens anything, read
// together (DeliveryLinkForReveal).
type RevealRead struct {
	Link  *domain.DeliveryLink
	Order *domain.Order
	// DataKey is the order's wrapped data key, nil when it has none
	// (never fulfilled, or shredded).
	DataKey *WrappedKey
	// Sealed holds, by blob ref, the sealed keys of the order's items
	// stored in the blob store read along; a ref of them missing from it
	// is not stored. Nil when they were not read: read them from the
	// BlobStore.
	Sealed map[string][]byte
}

// DeliveryLinkForReveal is a DeliveryLinkRepository that can read a link,
// its order and the order's wrapped data key in one read (optional); the
// caller uses it only when the DataKeyRepository is stored with it
// (SameStore). A repository without it is read as DeliveryLinkWithOrder,
// then the data key.
type DeliveryLinkForReveal interface {
	// GetForRevealByTokenHash returns the link, its order and the order's
	// data key, or domain.ErrNotFound when there is no such link (or
	// order). With sealed, it reads the order's sealed keys along from
	// the blob store kept with it and sets Sealed; the caller asks only
	// when its BlobStore is that store (SameStore).
	GetForRevealByTokenHash(ctx context.Context, h domain.TokenHash, sealed bool) (RevealRead, error)
}

// Stored is implemented by a store kept in a database that its other
// stores can read along with their own rows (Postgres): StoredIn returns
// that database, equal for every store of it and comparable. A store
// that says so has its rows read by another store's statement, past any
// wrapper: a wrapper forwards it only when its reads are the wrapped
// store's reads (an audit or a metrics wrapper, whose count of reads then
// misses those), never when it changes what a read returns.
type Stored interface {
	StoredIn() any
}

// StoredIn returns where s is stored (Stored), nil when it does not say.
func StoredIn(s any) any {
	if st, ok := s.(Stored); ok {
		return st.StoredIn()
	}
	return nil
}

// SameStore reports whether a and b say they are kept in the same
// database (Stored).
func SameStore(a, b any) bool {
	in := StoredIn(a)
	return in != nil && !isNilPointer(in) && in == StoredIn(b)
}

// isNilPointer reports whether v is a typed nil pointer (a store built on
// no database says nothing of where it is).
func isNilPointer(v any) bool {
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// DeliveryLinkRevealer is a DeliveryLinkRepository that can consume one
// reveal of a link in one write (optional); a repository without it is
// asked Update with DeliveryLink.Reveal, which it must equal.
type DeliveryLinkRevealer interface {
	// Reveal consumes one reveal of the link with id at now, as Update
	// calling DeliveryLink.Reveal would: it returns the link as saved and
	// whether this was its first reveal; DeliveryLink.CanReveal's error
	// when the link may not reveal at now (nothing is consumed), or
	// domain.ErrNotFound. Inside a unit of work it is part of it.
	Reveal(ctx context.Context, id string, now time.Time) (link *domain.DeliveryLink, first bool, err error)
}

// RevelationLog records every reveal of keys.
type RevelationLog interface {
	// Append stores revelations; domain.ErrConflict on a duplicate id.
	Append(ctx context.Context, rs ...domain.KeyRevelation) error
	// ListByOrder returns an order's revelations, oldest first.
	ListByOrder(ctx context.Context, orderID string) ([]domain.KeyRevelation, error)
}

// CatalogRepository stores the sellable products.
type CatalogRepository interface {
	// Upsert inserts or replaces products by sku.
	Upsert(ctx context.Context, ps ...*domain.Product) error
	// Get returns a product or domain.ErrNotFound.
	Get(ctx context.Context, sku string) (*domain.Product, error)
	// List returns up to limit products ordered by sku, after the given sku.
	List(ctx context.Context, afterSKU string, limit int) ([]*domain.Product, error)
	// GetMany returns the products of skus that exist, in no set order.
	GetMany(ctx context.Context, skus []string) ([]*domain.Product, error)
	// Find returns up to q.Limit products ordered by sku after q.After,
	// filtered by what q sets.
	Find(ctx context.Context, q CatalogQuery) ([]*domain.Product, error)
}

// CatalogQuery filters Find; zero fields do not filter.
type CatalogQuery struct {
	// Search keeps products whose name contains it, case-insensitively.
	Search string
	// Platform keeps products of that platform, case-insensitively.
	Platform string
	// InStock keeps products that can (true) or cannot (false) be sold now.
	InStock *bool
	After   string
	Limit   int
}

// SyncRunRepository records catalog sync runs.
type SyncRunRepository interface {
	// Save inserts or replaces a run by id.
	Save(ctx context.Context, r *domain.SyncRun) error
	// List returns up to limit runs, newest start first, after the run
	// with id after ("" for the newest).
	List(ctx context.Context, after string, limit int) ([]*domain.SyncRun, error)
	// LastSucceeded returns the latest-started run of mode that succeeded,
	// or domain.ErrNotFound.
	LastSucceeded(ctx context.Context, mode domain.SyncMode) (*domain.SyncRun, error)
	// LastSucceededOf is LastSucceeded among the runs of one supplier,
	// and, with unnamed, those recorded before runs named their supplier.
	LastSucceededOf(ctx context.Context, supplier string, unnamed bool, mode domain.SyncMode) (*domain.SyncRun, error)
	// ListOf is List among the runs of one supplier.
	ListOf(ctx context.Context, supplier, after string, limit int) ([]*domain.SyncRun, error)
}

// PricingRules stores the margins set per product and per platform.
type PricingRules interface {
	// Set inserts or replaces the rule of its scope and key.
	Set(ctx context.Context, r domain.MarginRule) error
	// Delete removes the rule of scope and key; a missing rule is not an
	// error.
	Delete(ctx context.Context, scope domain.MarginScope, key string) error
	// List returns every rule, by scope then key.
	List(ctx context.Context) ([]domain.MarginRule, error)
}

// PaymentNotification is a verified gateway notification as received.
type PaymentNotification struct {
	Provider   string
	PaymentID  string
	Status     string
	OrderID    string
	BodySHA256 [32]byte
	Body       []byte
	ReceivedAt time.Time
}

// PaymentNotificationLog keeps every distinct notification once.
type PaymentNotificationLog interface {
	// Record stores n unless a notification with the same provider,
	// payment id, status and body hash exists; it reports whether n was new.
	Record(ctx context.Context, n PaymentNotification) (bool, error)
	// ListByOrder returns the order's notifications, oldest first.
	ListByOrder(ctx context.Context, orderID string) ([]PaymentNotification, error)
}

// StoredDataKey is an order's wrapped data key as stored.
type StoredDataKey struct {
	OrderID string
	Wrapped WrappedKey
}

// DataKeyRepository stores each order's wrapped data key. Deleting it is
// crypto-shredding: the order's ciphertext can never be opened again.
type DataKeyRepository interface {
	// Create stores the wrapped key; domain.ErrConflict if the order has one.
	Create(ctx context.Context, orderID string, k WrappedKey) error
	// Get returns the wrapped key or domain.ErrNotFound.
	Get(ctx context.Context, orderID string) (WrappedKey, error)
	// Delete destroys the wrapped key; deleting a missing key is not an error.
	Delete(ctx context.Context, orderID string) error
	// ListOlderThan returns up to limit keys wrapped under a version below
	// version, ordered by order id, after the given order id.
	ListOlderThan(ctx context.Context, version int, afterOrderID string, limit int) ([]StoredDataKey, error)
	// Replace swaps old for new when the stored key still equals old; it
	// reports whether it did (false: changed or deleted meanwhile).
	Replace(ctx context.Context, orderID string, old, new WrappedKey) (bool, error)
	// CountWrappedBy returns how many stored keys a vault of the given kind
	// wraps: those whose ciphertext starts with kind+":".
	CountWrappedBy(ctx context.Context, kind string) (int, error)
}

// BlobStore keeps sealed key ciphertext.
type BlobStore interface {
	// Put stores data under ref, replacing what was there.
	Put(ctx context.Context, ref string, data []byte) error
	// Get returns the data or domain.ErrNotFound.
	Get(ctx context.Context, ref string) ([]byte, error)
	// Delete removes refs; missing refs are not an error.
	Delete(ctx context.Context, refs ...string) error
	// Exists reports whether ref is stored.
	Exists(ctx context.Context, ref string) (bool, error)
}

// UnitOfWorkBlobs is implemented by a BlobStore whose Put joins the unit
// of work of Transactor.Atomically (Postgres' blobs table, in the same
// database): a put inside a unit of work commits or rolls back with it,
// at no transaction of its own. A store without it, or answering false,
// puts at once (S3); callers then put before the unit of work rather
// than hold it open across the upload. Wrappers of a BlobStore forward it.
type UnitOfWorkBlobs interface {
	PutJoinsUnitOfWork() bool
}

// PutJoinsUnitOfWork reports whether b's puts join a unit of work
// (UnitOfWorkBlobs).
func PutJoinsUnitOfWork(b BlobStore) bool {
	u, ok := b.(UnitOfWorkBlobs)
	return ok && u.PutJoinsUnitOfWork()
}
