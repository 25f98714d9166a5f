// Package codeswholesaletest is a CodesWholesale API v3 test server built
// from the reference payloads (testdata): an OAuth2 token endpoint that
// takes the client credentials in the body only, products paged by an
// opaque continuationToken and filtered by updatedSince, orders created
// Fulfilling (POST /v3/orders, orderId echoed as clientOrderId, no
// de-duplication, as documented) that complete when read, the order
// history, text, image and pre-order codes, GET /v3/codes/{id}, the
// account, and error bodies of the reference's shape (10002, 20001,
// 310003, 30018). Tests inject faults (statuses, error codes, delays,
// answers lost after the request was handled), expire tokens, hold and
// deliver orders, and release pre-orders.
package codeswholesaletest

import (
	"bytes"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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
		panic("codeswholesaletest: " + err.Error())
	}
	return b
}

// The credentials the server accepts: the reference's test vector
// (ClientID + ClientSignature hash to the authHash of the postbacks in
// testdata).
const (
	ClientID        = "test-client-id-0001"
	ClientSecret    = "test-client-secret-0001"
	ClientSignature = "00000000-0000-0000-0000-00000000519e"
)

// The reference products: a text-key game (codeswholesale-product.json),
// an image-key game and a pre-order (codeswholesale-order.json,
// codeswholesale-products-page.json).
const (
	ProductID         = "00000000-0000-0000-0000-000000000001"
	ImageProductID    = "00000000-0000-0000-0000-000000000002"
	PreOrderProductID = "00000000-0000-0000-0000-000000000003"
)

// Fault replaces one answer of the server.
type Fault struct {
	Status int    // answer status (0: the normal answer)
	Code   int    // error code of the reference's error shape
	Body   string // answer body; "" with Status: the reference's error shape
	// Delay waits before answering (or until the client gives up).
	Delay time.Duration
	// After handles the request first (an order is created), then waits
	// Delay and answers Status/Body (the normal answer when Status is 0):
	// the client sees a timeout or an error for a request that was done.
	After bool
}

// Server is a running fake CodesWholesale.
type Server struct {
	*httptest.Server
	t testing.TB

	mu           sync.Mutex
	products     []*product
	orders       map[string]*order
	ordersSeq    []*order
	codes        map[string]*code
	created      map[string]int // orders by clientOrderId
	balance      float64
	hold         bool
	imageLinks   bool
	released     bool
	tokens       map[string]time.Time
	tokenTTL     int
	tokenCalls   int
	basicRefused int
	faults       map[string][]Fault
	requests     map[string]int
	lastOrder    []byte
	pageSize     int
	pages        map[string]int // continuationToken → page index
}

type product struct {
	id, name, platform string
	regions            []string
	prices             []any
	unit               float64
	qty                int
	kind               string // text, image, preorder
	updatedAt          time.Time
}

type order struct {
	id, clientID, identifier string
	createdOn                time.Time
	status                   string
	total                    float64
	lines                    []line
	polls                    int
}

type line struct {
	product *product
	qty     int
	unit    float64
	codes   []*code
}

type code struct {
	id, typ, label, content, filename string
}

// New starts a server with the three reference products and extra more
// text-key products (to page through), a balance of 250 EUR
// (codeswholesale-account.json), pages of pageSize products (0: 2),
// tokens valid for an hour (codeswholesale-token-response.json) and
// orders that complete when first read. It stops with the test.
func New(t testing.TB, extra, pageSize int) *Server {
	s := &Server{t: t, orders: map[string]*order{}, codes: map[string]*code{}, created: map[string]int{}, tokens: map[string]time.Time{},
		faults: map[string][]Fault{}, requests: map[string]int{}, pageSize: pageSize, pages: map[string]int{}}
	if s.pageSize <= 0 {
		s.pageSize = 2
	}
	var acct struct{ CurrentBalance float64 }
	mustUnmarshal(Fixture("codeswholesale-account.json"), &acct)
	s.balance = acct.CurrentBalance
	var tok struct {
		ExpiresIn int `json:"expires_in"`
	}
	mustUnmarshal(Fixture("codeswholesale-token-response.json"), &tok)
	s.tokenTTL = tok.ExpiresIn

	var ref map[string]any
	mustUnmarshal(Fixture("codeswholesale-product.json"), &ref)
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	text := fromFixture(ref, "text")
	text.updatedAt = base.Add(10 * 24 * time.Hour)
	image := fromFixture(ref, "image")
	image.id, image.name, image.unit, image.qty, image.updatedAt = ImageProductID, "Image Key Game (Test Product)", 4.5, 20, base
	image.prices = []any{map[string]any{"value": 4.5, "from": 1, "to": nil}}
	var page struct{ Items []map[string]any }
	mustUnmarshal(Fixture("codeswholesale-products-page.json"), &page)
	pre := fromFixture(page.Items[1], "preorder")
	pre.updatedAt = base
	s.products = []*product{text, image, pre}
	for i := 1; i <= extra; i++ {
		p := fromFixture(ref, "text")
		p.id = GeneratedProductID(i)
		p.name = fmt.Sprintf("Sample Game %d (Test Product)", i)
		p.unit = 1.25 + float64(i)
		p.prices = []any{map[string]any{"value": p.unit, "from": 1, "to": nil}}
		p.qty = 10 + i
		p.updatedAt = base.Add(time.Duration(i) * time.Hour)
		s.products = append(s.products, p)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// GeneratedProductID is the productId of the i-th generated product
// (1-based).
func GeneratedProductID(i int) string { return fmt.Sprintf("00000000-0000-0000-0000-1%011d", i) }

func fromFixture(m map[string]any, kind string) *product {
	p := &product{id: m["productId"].(string), name: m["name"].(string), platform: m["platform"].(string), kind: kind,
		qty: int(m["quantity"].(float64)), prices: m["prices"].([]any)}
	for _, r := range m["regions"].([]any) {
		p.regions = append(p.regions, r.(string))
	}
	for _, t := range p.prices {
		if tier := t.(map[string]any); tier["from"].(float64) == 1 {
			p.unit = tier["value"].(float64)
		}
	}
	return p
}

// BaseURL is the host keyward is configured with.
func (s *Server) BaseURL() string { return s.URL }

// HoldKeys keeps new orders Fulfilling until Deliver.
func (s *Server) HoldKeys(hold bool) { s.mu.Lock(); s.hold = hold; s.mu.Unlock() }

// ImageCodesByLink leaves the content of image codes out of orders: it is
// read from GET /v3/codes/{id}.
func (s *Server) ImageCodesByLink(on bool) { s.mu.Lock(); s.imageLinks = on; s.mu.Unlock() }

// SetBalance sets the account balance in EUR.
func (s *Server) SetBalance(eur float64) { s.mu.Lock(); s.balance = eur; s.mu.Unlock() }

// SetStock sets a product's quantity.
func (s *Server) SetStock(productID string, qty int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.product(productID); p != nil {
		p.qty = qty
	}
}

// Deliver completes a held order.
func (s *Server) Deliver(orderID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[orderID]
	if !ok {
		s.t.Errorf("codeswholesaletest: deliver unknown order %s", orderID)
		return
	}
	s.complete(o)
}

// ReleasePreOrders turns every pre-order code, issued and to come, into a
// text code with its key.
func (s *Server) ReleasePreOrders() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = true
	for _, c := range s.codes {
		if c.typ == "PRE_ORDER" {
			c.typ, c.label, c.content = "CODE_TEXT", "Text code", "CWKEY-"+c.id
		}
	}
}

// ExpireTokens revokes every token issued: the next API call is answered
// 401 invalid_token, as when a token expires early.
func (s *Server) ExpireTokens() { s.mu.Lock(); clear(s.tokens); s.mu.Unlock() }

// TokenRequests counts the tokens issued.
func (s *Server) TokenRequests() int { s.mu.Lock(); defer s.mu.Unlock(); return s.tokenCalls }

// Purchases counts the orders created with clientOrderId externalID.
func (s *Server) Purchases(externalID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created[externalID]
}

// OrderIDOf returns the id of the last order with clientOrderId
// externalID, "" when there is none.
func (s *Server) OrderIDOf(externalID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := ""
	for _, o := range s.ordersSeq {
		if o.clientID == externalID {
			id = o.id
		}
	}
	return id
}

// Requests counts the requests of a route ("GET /v3/products").
func (s *Server) Requests(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[route]
}

// LastOrderRequest returns the body of the last POST /v3/orders.
func (s *Server) LastOrderRequest() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lastOrder)
}

// IssuedKeys returns the keys issued for the orders of clientOrderId
// externalID, as the client decodes them (text, or the image's bytes).
func (s *Server) IssuedKeys(externalID string) []ports.SupplierKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ports.SupplierKey
	for _, o := range s.ordersSeq {
		if o.clientID != externalID {
			continue
		}
		for _, l := range o.lines {
			for _, c := range l.codes {
				switch c.typ {
				case "CODE_TEXT":
					out = append(out, ports.SupplierKey{ContentType: "text/plain", Data: []byte(c.content)})
				case "CODE_IMAGE":
					data, _ := base64.StdEncoding.DecodeString(c.content)
					out = append(out, ports.SupplierKey{ContentType: "image/png", Data: data})
				}
			}
		}
	}
	return out
}

// Fail queues faults for the next requests whose "METHOD /path" starts
// with route, one fault a request.
func (s *Server) Fail(route string, faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[route] = append(s.faults[route], faults...)
}

func (s *Server) nextFault(route string) (Fault, bool) {
	for prefix, fs := range s.faults {
		if strings.HasPrefix(route, prefix) && len(fs) > 0 {
			s.faults[prefix] = fs[1:]
			return fs[0], true
		}
	}
	return Fault{}, false
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	s.mu.Lock()
	s.requests[route]++
	f, faulty := s.nextFault(route)
	s.mu.Unlock()
	if faulty && !f.After {
		if !wait(r, f.Delay) {
			return
		}
		if f.Status != 0 {
			writeFault(w, f)
			return
		}
	}
	var status int
	var body []byte
	if r.URL.Path == "/oauth/token" {
		status, body = s.token(r)
	} else if !s.authorized(r) {
		status, body = http.StatusUnauthorized, Fixture("codeswholesale-error-oauth.json")
	} else {
		status, body = s.route(r)
	}
	if faulty && f.After {
		if !wait(r, f.Delay) {
			return
		}
		if f.Status != 0 {
			writeFault(w, f)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// wait waits d or until the client gives up; false when it did.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	select {
	case <-time.After(d):
		return true
	case <-r.Context().Done():
		return false
	}
}

func writeFault(w http.ResponseWriter, f Fault) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	if f.Body != "" {
		_, _ = w.Write([]byte(f.Body))
		return
	}
	_, _ = w.Write(errBody(f.Status, f.Code, "injected failure"))
}

// errBody is an error in the reference's shape (codeswholesale-error.json).
func errBody(status, code int, msg string) []byte {
	b := map[string]any{"status": status, "message": msg}
	if code != 0 {
		b["code"] = code
	}
	js, _ := json.Marshal(b)
	return js
}

// token issues a token for the client credentials sent in the body; HTTP
// Basic is refused, as CodesWholesale's token endpoint does.
func (s *Server) token(r *http.Request) (int, []byte) {
	if r.Method != http.MethodPost {
		return http.StatusMethodNotAllowed, errBody(405, 0, "POST only")
	}
	if _, _, basic := r.BasicAuth(); basic {
		s.mu.Lock()
		s.basicRefused++
		s.mu.Unlock()
		return http.StatusUnauthorized, []byte(`{"error":"invalid_client","error_description":"Bad client credentials"}`)
	}
	if err := r.ParseForm(); err != nil {
		return http.StatusBadRequest, []byte(`{"error":"invalid_request"}`)
	}
	if r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != ClientID || r.PostForm.Get("client_secret") != ClientSecret {
		return http.StatusUnauthorized, []byte(`{"error":"invalid_client","error_description":"Bad client credentials"}`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCalls++
	var tok map[string]any
	mustUnmarshal(Fixture("codeswholesale-token-response.json"), &tok)
	tok["access_token"] = fmt.Sprintf("00000000-0000-0000-0000-%012d", s.tokenCalls)
	tok["expires_in"] = s.tokenTTL
	s.tokens[tok["access_token"].(string)] = time.Now().Add(time.Duration(s.tokenTTL) * time.Second)
	js, _ := json.Marshal(tok)
	return http.StatusOK, js
}

// SetTokenLifetime sets expires_in of the tokens issued from now on.
func (s *Server) SetTokenLifetime(seconds int) { s.mu.Lock(); s.tokenTTL = seconds; s.mu.Unlock() }

func (s *Server) authorized(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, known := s.tokens[tok]
	return ok && known && time.Now().Before(exp)
}

func (s *Server) route(r *http.Request) (int, []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := r.URL.Path
	switch {
	case r.Method == http.MethodGet && p == "/v3/products":
		return s.listProducts(r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v3/products/"):
		pr := s.product(strings.TrimPrefix(p, "/v3/products/"))
		if pr == nil {
			return http.StatusNotFound, errBody(404, 20001, "Product not found in price list.")
		}
		return http.StatusOK, mustJSON(pr.json())
	case r.Method == http.MethodPost && p == "/v3/orders":
		return s.createOrder(r)
	case r.Method == http.MethodGet && p == "/v3/orders":
		return s.history(r)
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v3/orders/"):
		o, ok := s.orders[strings.TrimPrefix(p, "/v3/orders/")]
		if !ok {
			return http.StatusNotFound, errBody(404, 30018, "Order not found.")
		}
		o.polls++
		if !s.hold && o.status == "Fulfilling" {
			s.complete(o)
		}
		return http.StatusOK, mustJSON(s.orderJSON(o, true))
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v3/codes/"):
		c, ok := s.codes[strings.TrimPrefix(p, "/v3/codes/")]
		if !ok {
			return http.StatusNotFound, errBody(404, 50002, "Code not found.")
		}
		return http.StatusOK, mustJSON(s.codeJSON(c, true))
	case r.Method == http.MethodGet && p == "/v3/accounts/current":
		var a map[string]any
		mustUnmarshal(Fixture("codeswholesale-account.json"), &a)
		a["currentBalance"], a["totalToUse"] = s.balance, s.balance
		return http.StatusOK, mustJSON(a)
	}
	return http.StatusNotFound, errBody(404, 0, "no route "+r.Method+" "+p)
}

func (s *Server) product(id string) *product {
	for _, p := range s.products {
		if p.id == id {
			return p
		}
	}
	return nil
}

func (p *product) json() map[string]any {
	return map[string]any{"productId": p.id, "identifier": "CW-" + p.id[len(p.id)-4:], "name": p.name, "platform": p.platform,
		"quantity": p.qty, "regions": p.regions, "languages": []string{"Multilanguage"}, "prices": p.prices, "images": []any{},
		"releaseDate": "2020-05-12T00:00:00.000Z", "links": []any{map[string]any{"rel": "self", "href": "/v3/products/" + p.id}}}
}

// listProducts pages by an opaque continuationToken; the last page has
// none. A token the server did not issue is refused (400).
func (s *Server) listProducts(r *http.Request) (int, []byte) {
	q := r.URL.Query()
	var since time.Time
	if v := q.Get("updatedSince"); v != "" {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return http.StatusBadRequest, errBody(400, 0, "updatedSince is not ISO-8601")
		}
		since = t
	}
	start := 0
	if tok := q.Get("continuationToken"); tok != "" {
		n, ok := s.pages[tok]
		if !ok {
			return http.StatusBadRequest, errBody(400, 0, "Invalid continuation token.")
		}
		start = n
	}
	var match []*product
	for _, p := range s.products {
		if since.IsZero() || !p.updatedAt.Before(since) {
			match = append(match, p)
		}
	}
	end := min(start+s.pageSize, len(match))
	items := []any{}
	for _, p := range match[min(start, len(match)):end] {
		items = append(items, p.json())
	}
	out := map[string]any{"items": items}
	if end < len(match) {
		tok := base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "FAKE-CONTINUATION-TOKEN-%d-%d", end, len(s.pages)))
		s.pages[tok] = end
		out["continuationToken"] = tok
	}
	return http.StatusOK, mustJSON(out)
}

func (s *Server) createOrder(r *http.Request) (int, []byte) {
	raw, _ := io.ReadAll(r.Body)
	s.lastOrder = raw
	var req struct {
		AllowPreOrder bool   `json:"allowPreOrder"`
		OrderID       string `json:"orderId"`
		Products      []struct {
			ProductID string   `json:"productId"`
			Quantity  int      `json:"quantity"`
			Price     *float64 `json:"price"`
		} `json:"products"`
	}
	if err := json.Unmarshal(raw, &req); err != nil || len(req.Products) == 0 {
		return http.StatusBadRequest, errBody(400, 0, "Malformed order request.")
	}
	o := &order{id: fmt.Sprintf("00000000-0000-0000-0000-0000000a%04d", len(s.ordersSeq)+1), clientID: req.OrderID,
		identifier: fmt.Sprintf("TOGENERATE-%05d", len(s.ordersSeq)+1), createdOn: time.Now().UTC(), status: "Fulfilling"}
	for _, l := range req.Products {
		p := s.product(l.ProductID)
		switch {
		case p == nil:
			return http.StatusNotFound, errBody(404, 20001, "Product not found in price list.")
		case l.Quantity < 1:
			return http.StatusBadRequest, errBody(400, 40002, "Quantity less than 1.")
		case p.kind != "preorder" && l.Quantity > p.qty:
			return http.StatusBadRequest, Fixture("codeswholesale-error.json")
		}
		o.lines = append(o.lines, line{product: p, qty: l.Quantity, unit: p.unit})
		o.total += p.unit * float64(l.Quantity)
	}
	if o.total > s.balance {
		return http.StatusBadRequest, Fixture("codeswholesale-error-balance.json")
	}
	s.balance -= o.total
	for _, l := range o.lines {
		if l.product.kind != "preorder" {
			l.product.qty -= l.qty
		}
	}
	s.orders[o.id] = o
	s.ordersSeq = append(s.ordersSeq, o)
	s.created[o.clientID]++
	return http.StatusOK, mustJSON(s.orderJSON(o, true))
}

// complete issues the order's codes: one per unit, of its product's kind.
func (s *Server) complete(o *order) {
	if o.status == "Completed" {
		return
	}
	o.status = "Completed"
	png := Fixture("codeswholesale-code-image.json")
	var img struct{ Code string }
	mustUnmarshal(png, &img)
	pngBytes, _ := base64.StdEncoding.DecodeString(img.Code)
	for i := range o.lines {
		l := &o.lines[i]
		for u := range l.qty {
			c := &code{id: fmt.Sprintf("%s-c%d-%d", o.id, i, u)}
			switch {
			case l.product.kind == "image":
				// The reference PNG, made unique by bytes after its end.
				data := append(bytes.Clone(pngBytes), []byte(c.id)...)
				c.typ, c.label, c.content, c.filename = "CODE_IMAGE", "Image code", base64.StdEncoding.EncodeToString(data), c.id+".png"
			case l.product.kind == "preorder" && !s.released:
				c.typ, c.label = "PRE_ORDER", "Pre-ordered code"
			default:
				c.typ, c.label, c.content = "CODE_TEXT", "Text code", "CWKEY-"+c.id
			}
			l.codes = append(l.codes, c)
			s.codes[c.id] = c
		}
	}
}

func (s *Server) orderJSON(o *order, withProducts bool) map[string]any {
	m := map[string]any{"orderId": o.id, "clientOrderId": o.clientID, "identifier": o.identifier, "totalPrice": o.total,
		"createdOn": o.createdOn.Format("2006-01-02T15:04:05.000Z"), "status": o.status,
		// As in the sandbox: the self link ends in the client order id.
		"links": []any{map[string]any{"rel": "self", "href": s.URL + "/v3/orders/" + o.clientID}}}
	if !withProducts {
		return m
	}
	var ps []any
	for _, l := range o.lines {
		codes := []any{}
		for _, c := range l.codes {
			codes = append(codes, s.codeJSON(c, !(s.imageLinks && c.typ == "CODE_IMAGE")))
		}
		ps = append(ps, map[string]any{"productId": l.product.id, "name": l.product.name, "unitPrice": l.unit, "codes": codes, "links": []any{}})
	}
	m["products"] = ps
	return m
}

func (s *Server) codeJSON(c *code, withContent bool) map[string]any {
	m := map[string]any{"codeId": c.id, "codeType": c.typ, "status": c.label, "filename": c.filename, "code": "",
		"links": []any{map[string]any{"rel": "self", "href": s.URL + "/v3/codes/" + c.id}}}
	if withContent {
		m["code"] = c.content
	}
	return m
}

// history lists the orders created between startFrom and endOn (dates,
// or ISO times), without their products.
func (s *Server) history(r *http.Request) (int, []byte) {
	q := r.URL.Query()
	from, err1 := parseDay(q.Get("startFrom"))
	to, err2 := parseDay(q.Get("endOn"))
	if err1 != nil || err2 != nil {
		return http.StatusBadRequest, errBody(400, 0, "startFrom and endOn must be dates")
	}
	items := []any{}
	for _, o := range s.ordersSeq {
		if (from.IsZero() || !o.createdOn.Before(from)) && (to.IsZero() || o.createdOn.Before(to.Add(24*time.Hour))) {
			items = append(items, s.orderJSON(o, false))
		}
	}
	return http.StatusOK, mustJSON(map[string]any{"items": items})
}

func parseDay(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return t, nil
	}
	return time.Parse(time.RFC3339, v)
}

func mustJSON(v any) []byte {
	js, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return js
}

func mustUnmarshal(b []byte, v any) {
	if err := json.Unmarshal(b, v); err != nil {
		panic("codeswholesaletest: " + err.Error())
	}
}

// BasicAuthRefused counts token requests refused for using HTTP Basic.
func (s *Server) BasicAuthRefused() int { s.mu.Lock(); defer s.mu.Unlock(); return s.basicRefused }
