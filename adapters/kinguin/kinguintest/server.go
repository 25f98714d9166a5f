// Package kinguintest is a Kinguin ESA test server that speaks the
// documented wire contract with the reference payloads (testdata): API key
// header, products paged by page/limit with item_count and updatedSince,
// /v2/order with orderExternalId, order search, paged keys (text and
// base64 PNG), balance, and error bodies of the documented shape. Tests
// inject faults (status codes, Retry-After, malformed bodies, delays, lost
// answers) and control when keys are delivered.
package kinguintest

import (
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/ports"
)

//go:embed testdata/*.json
var testdata embed.FS

// Fixture returns a reference payload from testdata by file name.
func Fixture(name string) []byte {
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		panic("kinguintest: " + err.Error())
	}
	return b
}

// APIKey is the key the server accepts.
const APIKey = "test-kinguin-api-key"

// Fault replaces one answer of the server.
type Fault struct {
	Status     int               // answer status (0: the normal answer)
	Body       string            // answer body; "" with Status: the documented error shape
	Kind       string            // error kind for the documented shape
	RetryAfter string            // Retry-After header
	Delay      time.Duration     // wait before answering (or until the client gives up)
	Lost       bool              // handle the request, then answer Status/Body instead
	Header     map[string]string // more headers
}

// Server is a running fake Kinguin.
type Server struct {
	*httptest.Server
	t testing.TB

	mu         sync.Mutex
	products   []map[string]any
	orders     map[string]*order
	byExternal map[string]*order
	purchases  map[string]int
	total      int
	balance    float64
	hold       bool
	faults     map[string][]Fault // by "METHOD /path" prefix
	requests   map[string]int
	images     bool
	lastOrder  []byte
	now        func() time.Time
	// preorderErrors: keys of a pre-order not yet released are refused
	// with ProcessingPreorder (422, releaseDate) instead of an empty page.
	preorderErrors bool
}

type order struct {
	id, externalID, productID string
	qty                       int
	price                     float64
	status                    string
	keys                      []ports.SupplierKey
	delivered                 int
	createdAt                 time.Time
	returned                  bool      // its keys were taken back: a second return finds none
	release                   time.Time // a pre-order's release day; zero for any other order
}

// ProductID is the reference product's id (kinguin-product.json).
const ProductID = "5c9b6f1a2539a4e8f1800a11"

// New starts a server with the reference product and extra more products
// (to page through), a balance of 152.37 EUR (kinguin-balance.json), and
// orders that complete at once. It stops with the test.
func New(t testing.TB, extra int) *Server {
	s := &Server{t: t, orders: map[string]*order{}, byExternal: map[string]*order{}, purchases: map[string]int{},
		faults: map[string][]Fault{}, requests: map[string]int{}, now: time.Now}
	var ref map[string]any
	mustUnmarshal(Fixture("kinguin-product.json"), &ref)
	var bal struct{ Balance float64 }
	mustUnmarshal(Fixture("kinguin-balance.json"), &bal)
	s.balance = bal.Balance
	s.products = append(s.products, ref)
	for i := 1; i <= extra; i++ {
		p := maps.Clone(ref)
		p["kinguinId"] = 48211 + i
		p["productId"] = GeneratedProductID(i)
		p["name"] = fmt.Sprintf("Sample Game %d Steam CD Key", i)
		p["price"] = 1.25 + float64(i)
		p["qty"] = 10 + i
		p["updatedAt"] = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour).Format("2006-01-02T15:04:05-07:00")
		s.products = append(s.products, p)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// GeneratedProductID is the productId of the i-th generated product
// (1-based); it never equals ProductID.
func GeneratedProductID(i int) string { return fmt.Sprintf("5c9b6f1a2539a4e8f19%05x", i) }

// BaseURL is the API base keyward is configured with (paths are appended).
func (s *Server) BaseURL() string { return s.URL + "/esa/api" }

// PreorderProductID is the productId of the pre-order AddPreorder lists.
const PreorderProductID = "5c9b6f1a2539a4e8f18ffe01"

// AddPreorder lists a pre-order: the reference product renamed, with
// isPreorder true and releaseDate (Y-m-d) the day of release. An order for
// it stays processing with no keys until that day has come by the
// server's clock (SetClock), then its keys are released when it is read.
func (s *Server) AddPreorder(release time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p map[string]any
	mustUnmarshal(Fixture("kinguin-product.json"), &p)
	p["kinguinId"], p["productId"] = 99001, PreorderProductID
	p["name"], p["originalName"] = "Starfall Odyssey Steam CD Key (Pre-order)", "Starfall Odyssey"
	p["isPreorder"], p["releaseDate"] = true, release.UTC().Format("2006-01-02")
	p["price"], p["qty"] = 39.99, 500
	for _, o := range p["offers"].([]any) {
		o.(map[string]any)["isPreorder"], o.(map[string]any)["releaseDate"] = true, release.UTC().Format("2006-01-02")
	}
	s.products = append(s.products, p)
}

// SetClock sets the server's clock, which says when pre-orders are
// released (time.Now by default).
func (s *Server) SetClock(now func() time.Time) { s.mu.Lock(); s.now = now; s.mu.Unlock() }

// PreorderErrors makes reading the keys of a pre-order not yet released
// answer 422 ProcessingPreorder with its releaseDate (Kinguin's
// "wait until then"), instead of an empty page.
func (s *Server) PreorderErrors(on bool) { s.mu.Lock(); s.preorderErrors = on; s.mu.Unlock() }

// releaseDue releases the keys of a pre-order whose day has come; the
// caller holds s.mu.
func (s *Server) releaseDue(o *order) {
	if o.release.IsZero() || s.now().Before(o.release) || o.delivered == o.qty {
		return
	}
	o.delivered, o.status = o.qty, "completed"
}

// HoldKeys keeps new orders processing with no keys until Deliver.
func (s *Server) HoldKeys(hold bool) { s.mu.Lock(); s.hold = hold; s.mu.Unlock() }

// ImageKeys makes every second key of new orders a PNG image key.
func (s *Server) ImageKeys(on bool) { s.mu.Lock(); s.images = on; s.mu.Unlock() }

// SetBalance sets the account balance in EUR.
func (s *Server) SetBalance(eur float64) { s.mu.Lock(); s.balance = eur; s.mu.Unlock() }

// Deliver delivers n more keys of a held order (all when n <= 0); the
// order completes when every key is out.
func (s *Server) Deliver(orderID string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok {
		s.t.Errorf("kinguintest: deliver unknown order %s", orderID)
		return
	}
	if n <= 0 {
		n = o.qty
	}
	o.delivered = min(o.qty, o.delivered+n)
	if o.delivered == o.qty {
		o.status = "completed"
	}
}

// OrderIDOf returns the Kinguin order id placed for externalID, "" if none.
func (s *Server) OrderIDOf(externalID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.byExternal[externalID]; ok {
		return o.id
	}
	return ""
}

// Purchases returns how many orders were created for externalID.
func (s *Server) Purchases(externalID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.purchases[externalID]
}

// TotalPurchases returns how many orders were created in all.
func (s *Server) TotalPurchases() int { s.mu.Lock(); defer s.mu.Unlock(); return s.total }

// Requests returns how many requests "METHOD /path" (path without the
// base, e.g. "POST /v2/order") received.
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[route]
}

// IssuedKeys returns copies of the keys of the order for externalID.
func (s *Server) IssuedKeys(externalID string) []ports.SupplierKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.byExternal[externalID]
	if !ok {
		return nil
	}
	out := make([]ports.SupplierKey, len(o.keys))
	for i, k := range o.keys {
		out[i] = ports.SupplierKey{ContentType: k.ContentType, Data: slices.Clone(k.Data)}
	}
	return out
}

// SetProduct changes a product's price, stock and updatedAt.
func (s *Server) SetProduct(productID string, price float64, qty int, updatedAt time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.products {
		if p["productId"] == productID {
			p["price"], p["qty"], p["updatedAt"] = price, qty, updatedAt.UTC().Format("2006-01-02T15:04:05-07:00")
			return
		}
	}
	s.t.Errorf("kinguintest: no product %s", productID)
}

// RemoveProduct makes a product unavailable (404 on its page).
func (s *Server) RemoveProduct(productID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.products = slices.DeleteFunc(s.products, func(p map[string]any) bool { return p["productId"] == productID })
}

// Fail queues faults for the next requests whose "METHOD /path" starts
// with route (path without the base), one fault per request.
func (s *Server) Fail(route string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], faults...)
}

func (s *Server) nextFault(route string) (Fault, bool) {
	for prefix, fs := range s.faults {
		if len(fs) > 0 && strings.HasPrefix(route, prefix) {
			s.faults[prefix] = fs[1:]
			return fs[0], true
		}
	}
	return Fault{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	path, ok := strings.CutPrefix(r.URL.Path, "/esa/api")
	if !ok {
		writeError(w, http.StatusNotFound, "Http", "no route "+r.URL.Path)
		return
	}
	route := r.Method + " " + path
	s.mu.Lock()
	s.requests[route]++
	f, faulty := s.nextFault(route)
	s.mu.Unlock()
	if faulty && f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
			return
		}
	}
	if faulty && !f.Lost && f.Status != 0 {
		writeFault(w, f)
		return
	}
	if r.Header.Get("X-Api-Key") != APIKey {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"kind":"Authorization","status":401,"detail":"Invalid authentication data.","type":"Unauthorized"}`))
		return
	}
	status, body := s.route(r, path)
	if faulty && f.Lost {
		writeFault(w, f)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeFault(w http.ResponseWriter, f Fault) {
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	if f.Body != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	kind := f.Kind
	if kind == "" {
		kind = "Error"
	}
	writeError(w, f.Status, kind, "injected failure")
}

// writeError answers in the documented error shape (kinguin-error.json).
func writeError(w http.ResponseWriter, status int, kind, detail string) {
	js, _ := json.Marshal(errAnswer(status, kind, detail).body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(js)
}

type answer struct {
	status int
	body   any
}

func (s *Server) route(r *http.Request, path string) (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a answer
	switch {
	case r.Method == "GET" && path == "/v1/balance":
		a = answer{200, map[string]any{"balance": s.balance}}
	case r.Method == "GET" && path == "/v1/products":
		a = s.listProducts(r)
	case r.Method == "GET" && strings.HasPrefix(path, "/v2/products/"):
		a = s.getProduct(strings.TrimPrefix(path, "/v2/products/"))
	case r.Method == "POST" && path == "/v2/order":
		a = s.placeOrder(r)
	case r.Method == "GET" && path == "/v1/order":
		a = s.searchOrders(r)
	case r.Method == "GET" && strings.HasPrefix(path, "/v1/order/"):
		a = s.getOrder(strings.TrimPrefix(path, "/v1/order/"))
	case r.Method == "POST" && strings.HasPrefix(path, "/v2/order/") && strings.HasSuffix(path, "/keys/return"):
		a = s.returnKeys(strings.TrimSuffix(strings.TrimPrefix(path, "/v2/order/"), "/keys/return"))
	case r.Method == "GET" && strings.HasPrefix(path, "/v2/order/") && strings.HasSuffix(path, "/keys"):
		a = s.keys(r, strings.TrimSuffix(strings.TrimPrefix(path, "/v2/order/"), "/keys"))
	default:
		a = errAnswer(http.StatusNotFound, "Http", "no route "+r.Method+" "+path)
	}
	js, err := json.Marshal(a.body)
	if err != nil {
		s.t.Errorf("kinguintest: %v", err)
	}
	return a.status, js
}

// errAnswer is the documented error shape (kinguin-error.json) with its
// context fields dropped.
func errAnswer(status int, kind, detail string) answer {
	var b map[string]any
	mustUnmarshal(Fixture("kinguin-error.json"), &b)
	delete(b, "propertyPath")
	delete(b, "invalidValue")
	b["kind"], b["status"], b["title"], b["detail"] = kind, status, http.StatusText(status), detail
	return answer{status, b}
}

func pageParams(r *http.Request, def, maxLimit int) (page, limit int, bad string) {
	page, limit = 1, def
	if v := r.URL.Query().Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, "page"
		}
		page = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return 0, 0, "limit"
		}
		limit = n
	}
	return page, limit, ""
}

func (s *Server) listProducts(r *http.Request) answer {
	page, limit, bad := pageParams(r, 25, 100)
	if bad != "" {
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \""+bad+"\" property.")
	}
	var since time.Time
	if v := r.URL.Query().Get("updatedSince"); v != "" {
		t, err := time.Parse("2006-01-02T15:04:05", v)
		if err != nil {
			return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \"updatedSince\" property.")
		}
		since = t
	}
	var match []map[string]any
	for _, p := range s.products {
		at, _ := time.Parse(time.RFC3339, p["updatedAt"].(string))
		if !since.IsZero() && at.Before(since) {
			continue
		}
		match = append(match, p)
	}
	slices.SortFunc(match, func(a, b map[string]any) int { return toInt(a["kinguinId"]) - toInt(b["kinguinId"]) })
	from, to := min((page-1)*limit, len(match)), min(page*limit, len(match))
	return answer{200, map[string]any{"results": match[from:to], "item_count": len(match)}}
}

func (s *Server) getProduct(id string) answer {
	for _, p := range s.products {
		if p["productId"] == id {
			return answer{200, p}
		}
	}
	return errAnswer(http.StatusNotFound, "ProductUnavailable", "Product "+id+" is unavailable.")
}

type orderRequest struct {
	Products []struct {
		ProductID string  `json:"productId"`
		Qty       int     `json:"qty"`
		Price     float64 `json:"price"`
	} `json:"products"`
	OrderExternalID string `json:"orderExternalId"`
}

// LastOrderRequest returns the body of the last POST /v2/order.
func (s *Server) LastOrderRequest() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lastOrder)
}

func (s *Server) placeOrder(r *http.Request) answer {
	var req orderRequest
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.lastOrder = raw
	if err != nil || json.Unmarshal(raw, &req) != nil || len(req.Products) != 1 {
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \"products\" property.")
	}
	line := req.Products[0]
	switch {
	case req.OrderExternalID == "":
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \"orderExternalId\" property.")
	case s.byExternal[req.OrderExternalID] != nil:
		// The answer to a repeated id is undocumented: refuse it.
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \"orderExternalId\" property. Value must be unique.")
	case line.Qty < 1 || line.Qty > 9:
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \"products\" property. Quantity of a single offer must be lower than or equal 9.")
	}
	var p map[string]any
	for _, c := range s.products {
		if c["productId"] == line.ProductID {
			p = c
		}
	}
	if p == nil || toInt(p["qty"]) < line.Qty || line.Price < p["price"].(float64) {
		return errAnswer(http.StatusBadRequest, "ProductUnavailable", "Product "+line.ProductID+" is unavailable at this price.")
	}
	cost := p["price"].(float64) * float64(line.Qty)
	if s.balance < cost {
		return errAnswer(http.StatusBadRequest, "InsufficientBalance", "Insufficient balance.")
	}
	s.balance -= cost
	p["qty"] = toInt(p["qty"]) - line.Qty
	s.total++
	o := &order{id: fmt.Sprintf("PX7Q%07d", s.total), externalID: req.OrderExternalID, productID: line.ProductID, qty: line.Qty,
		price: p["price"].(float64), status: "processing", createdAt: time.Now().UTC()}
	var ref []struct{ Serial, Type string }
	mustUnmarshal(Fixture("kinguin-keys-page.json"), &ref)
	for i := range line.Qty {
		if s.images && i%2 == 1 {
			png, _ := base64.StdEncoding.DecodeString(ref[1].Serial)
			o.keys = append(o.keys, ports.SupplierKey{ContentType: ref[1].Type, Data: png})
			continue
		}
		o.keys = append(o.keys, ports.SupplierKey{ContentType: ref[0].Type, Data: fmt.Appendf(nil, "%s-%04d-%d", ref[0].Serial[:11], s.total, i)})
	}
	if pre, _ := p["isPreorder"].(bool); pre {
		o.release, _ = time.Parse("2006-01-02", p["releaseDate"].(string))
		s.releaseDue(o)
	} else if !s.hold {
		o.delivered, o.status = o.qty, "completed"
	}
	s.orders[o.id] = o
	s.byExternal[o.externalID] = o
	s.purchases[o.externalID]++
	return answer{http.StatusCreated, s.orderBody(o)}
}

// orderBody is the reference order (kinguin-order.json) with o's values.
func (s *Server) orderBody(o *order) map[string]any {
	var b map[string]any
	mustUnmarshal(Fixture("kinguin-order.json"), &b)
	total := o.price * float64(o.qty)
	b["orderId"], b["orderExternalId"], b["status"], b["totalQty"] = o.id, o.externalID, o.status, o.qty
	b["totalPrice"], b["requestTotalPrice"], b["paymentPrice"] = total, total, total
	b["createdAt"] = o.createdAt.Format("2006-01-02T15:04:05-07:00")
	line := b["products"].([]any)[0].(map[string]any)
	line["productId"], line["qty"], line["price"], line["totalPrice"], line["requestPrice"] = o.productID, o.qty, o.price, total, o.price
	keys := make([]any, o.qty)
	for i := range o.qty {
		st := "PROCESSING"
		if i < o.delivered {
			st = "DELIVERED"
		}
		keys[i] = map[string]any{"id": fmt.Sprintf("%s-k%d", o.id, i), "status": st}
	}
	line["keys"] = keys
	if !o.release.IsZero() {
		day := o.release.Format("2006-01-02")
		b["isPreorder"], b["preorderReleaseDate"] = true, day
		line["isPreorder"], line["releaseDate"] = true, day
	}
	return b
}

func (s *Server) searchOrders(r *http.Request) answer {
	page, limit, bad := pageParams(r, 25, 100)
	if bad != "" {
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \""+bad+"\" property.")
	}
	var match []any
	ext := r.URL.Query().Get("orderExternalId")
	ids := slices.Sorted(maps.Keys(s.orders))
	for _, id := range ids {
		if o := s.orders[id]; ext == "" || o.externalID == ext {
			s.releaseDue(o)
			match = append(match, s.orderBody(o))
		}
	}
	from, to := min((page-1)*limit, len(match)), min(page*limit, len(match))
	return answer{200, map[string]any{"results": append([]any{}, match[from:to]...), "item_count": len(match)}}
}

func (s *Server) getOrder(id string) answer {
	o, ok := s.orders[id]
	if !ok {
		return errAnswer(http.StatusNotFound, "OrderNotFound", "Order "+id+" not found.")
	}
	s.releaseDue(o)
	return answer{200, s.orderBody(o)}
}

func (s *Server) keys(r *http.Request, id string) answer {
	o, ok := s.orders[id]
	if !ok {
		return errAnswer(http.StatusNotFound, "OrderNotFound", "Order "+id+" not found.")
	}
	page, limit, bad := pageParams(r, 25, 100)
	if bad != "" {
		return errAnswer(http.StatusBadRequest, "ConstraintViolation", "Invalid \""+bad+"\" property.")
	}
	s.releaseDue(o)
	if s.preorderErrors && !o.release.IsZero() && o.delivered < o.qty {
		a := errAnswer(http.StatusUnprocessableEntity, "ProcessingPreorder", "Order "+id+" is a pre-order: its keys come after the release.")
		a.body.(map[string]any)["releaseDate"] = o.release.Format("2006-01-02")
		return a
	}
	var ref []map[string]any
	mustUnmarshal(Fixture("kinguin-keys-page.json"), &ref)
	out := []any{}
	from, to := min((page-1)*limit, o.delivered), min(page*limit, o.delivered)
	for i := from; i < to; i++ {
		k := o.keys[i]
		b := maps.Clone(ref[0])
		b["id"], b["type"], b["productId"] = fmt.Sprintf("%s-k%d", o.id, i), k.ContentType, o.productID
		if strings.HasPrefix(k.ContentType, "image/") {
			b["serial"] = base64.StdEncoding.EncodeToString(k.Data)
		} else {
			b["serial"] = string(k.Data)
		}
		out = append(out, b)
	}
	return answer{200, out}
}

// returnKeys takes back every delivered key of an order, once: a second
// return, or one of an order with no keys, is refused NoKeysToReturn.
// Kinguin does not document that refusal's status; 400 stands for it.
func (s *Server) returnKeys(id string) answer {
	o, ok := s.orders[id]
	if !ok {
		return errAnswer(http.StatusNotFound, "OrderNotFound", "Order "+id+" not found.")
	}
	if o.returned || o.delivered == 0 {
		return errAnswer(http.StatusBadRequest, "NoKeysToReturn", "There are no keys to return for order "+id+".")
	}
	o.returned = true
	var ref []map[string]any
	mustUnmarshal(Fixture("kinguin-return-keys-response.json"), &ref)
	out := []any{}
	for i := range o.delivered {
		b := maps.Clone(ref[0])
		b["id"], b["status"] = fmt.Sprintf("%s-k%d", o.id, i), "RETURNED"
		out = append(out, b)
	}
	return answer{200, out}
}

// Returns reports how many return requests the order with the given
// Kinguin id received.
func (s *Server) Returns(orderID string) int {
	return s.Requests("POST /v2/order/" + orderID + "/keys/return")
}

func toInt(v any) int {
	switch n := v.(type) {
	case int:
		return n
	case float64:
		return int(n)
	}
	return 0
}

func mustUnmarshal(b []byte, v any) {
	if err := json.Unmarshal(b, v); err != nil {
		panic("kinguintest: " + err.Error())
	}
}
