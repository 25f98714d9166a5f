package bootstrap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/keyward/keyward/bootstrap"
)

// TestBrowserRevealPageAndDocs walks the customer's page and the API docs in
// headless Chromium: the emailed link opens without using a reveal, the
// button reveals the text and the image key the supplier issued, the page
// answers with its security headers, Copy puts the key on the clipboard, a
// second tab sees the used-up page once the reveals run out, and /docs lists
// the operations from assets served by keyward itself. Screenshots are kept
// in .cache/artifacts/browser/ (logged). Without Chromium the test fails:
// scripts/test.sh installs it.
func TestBrowserRevealPageAndDocs(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	artifacts := artifactDir(t, "browser")
	t.Logf("screenshots in %s", artifacts)
	h := start(t, func(c *bootstrap.Config) { c.LinkMaxReveals = 1 })

	image := h.firstSKU(func(p product) bool { return p.InStock && strings.Contains(strings.ToLower(p.Platform), "nintendo") })
	text := h.firstSKU(func(p product) bool { return p.InStock && p.SKU != image.SKU })
	const email = "browser@example.com"
	o := h.deliveredOrder(email, line(text.SKU, 1), line(image.SKU, 1))
	link := h.base + "/deliver/" + h.deliveryToken(email)
	var wantText, wantImage []byte
	for _, it := range h.getOrder(o).Items {
		keys := h.supplier.IssuedKeys(it.ID)
		if len(keys) != 1 {
			t.Fatalf("item %s: the supplier issued %d keys, want 1", it.SKU, len(keys))
		}
		if strings.HasPrefix(keys[0].ContentType, "image/") {
			wantImage = keys[0].Data
		} else {
			wantText = keys[0].Data
		}
	}
	if wantText == nil || wantImage == nil {
		t.Fatal("the order has no text key or no image key")
	}

	ctx := newBrowser(t, chromium)
	console := collectConsole(ctx)
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted, Origin: h.base,
	}); err != nil {
		t.Fatalf("grant clipboard-read: %v", err)
	}

	// Opening the link shows the order and uses nothing.
	resp, err := step(ctx, chromedp.NavigateResponse(link))
	if err != nil {
		t.Fatalf("open the link: %v", err)
	}
	checkPageHeaders(t, "GET /deliver/{token}", resp)
	run(t, ctx, "wait for the reveal button", chromedp.WaitVisible(chromedp.CSS(`[data-testid=reveal]`)))
	if left := h.revealsLeft(link); left != h.cfg.LinkMaxReveals {
		t.Fatalf("opening the link left %d reveals of %d: it must use none", left, h.cfg.LinkMaxReveals)
	}
	if revs, err := h.revs.ListByOrder(context.Background(), o.ID); err != nil || len(revs) != 0 {
		t.Fatalf("opening the link recorded %d revelations (%v): it must record none", len(revs), err)
	}
	screenshot(t, ctx, artifacts, "1-link-opened.png")

	// Reveal: the keys on the page are the supplier's.
	clickCtx, cancelClick := context.WithTimeout(ctx, 30*time.Second)
	resp, err = chromedp.RunResponse(clickCtx, chromedp.Click(chromedp.CSS(`[data-testid=reveal]`)))
	cancelClick()
	if err != nil {
		t.Fatalf("reveal: %v", err)
	}
	checkPageHeaders(t, "POST /deliver/{token}", resp)
	got := value(t, ctx, "text key", chromedp.Text(chromedp.CSS(`[data-testid=key]`)))
	if got != string(wantText) {
		t.Fatalf("the page shows the text key %q, the supplier issued %q", got, wantText)
	}
	src := value(t, ctx, "image key", chromedp.AttributeValue(chromedp.CSS(`[data-testid=key-image]`), "src"))
	b64, ok := strings.CutPrefix(src.Value, "data:image/png;base64,")
	gotImage, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil || !bytes.Equal(gotImage, wantImage) {
		t.Fatalf("the page's image key (%.60q...) is not the PNG the supplier issued (decode: %v)", src.Value, err)
	}
	if w := value(t, ctx, "image width", chromedp.Evaluate[int](`document.querySelector("[data-testid=key-image]").naturalWidth`)); w == 0 {
		t.Fatal("the image key does not render (blocked by the CSP?)")
	}
	if left := h.revealsLeft(link); left != 0 {
		t.Fatalf("%d reveals left after the one allowed", left)
	}

	// Copy: the page's own handler writes the key to the real clipboard,
	// read back through the permission granted above.
	run(t, ctx, "copy", chromedp.Click(chromedp.CSS(`[data-testid=copy]`)))
	value(t, ctx, "the Copy button saying Copied", chromedp.Poll[bool](`document.querySelector("[data-testid=copy]").textContent === "Copied"`))
	if clip := value(t, ctx, "clipboard", chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); clip != string(wantText) {
		t.Fatalf("the clipboard holds %q, want the key %q", clip, wantText)
	}
	screenshot(t, ctx, artifacts, "2-keys-revealed.png")

	// A second tab on the same link: used up.
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	resp, err = chromedp.Run(tab, chromedp.NavigateResponse(link)) // a new tab's first run: no deadline (it would end the tab)
	if err != nil {
		t.Fatalf("open the link in a second tab: %v", err)
	}
	checkPageHeaders(t, "GET /deliver/{token} (used up)", resp)
	if resp.Status != 410 {
		t.Errorf("the used-up link answers %d, want 410", resp.Status)
	}
	if msg := value(t, tab, "used-up message", chromedp.Text(chromedp.CSS(`[role=alert]`))); !strings.Contains(msg, "used as many times as it allows") {
		t.Fatalf("the second tab says %q, want the used-up page", msg)
	}
	if n := value(t, tab, "buttons", chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=reveal],[data-testid=key]").length`)); n != 0 {
		t.Fatalf("the used-up page still has %d reveal buttons or keys", n)
	}
	screenshot(t, tab, artifacts, "3-second-tab-used-up.png")

	// The API docs: Elements from the binary renders the operations.
	docs, cancel := chromedp.NewContext(ctx)
	defer cancel()
	docsConsole := collectConsole(docs)
	var remote []string
	var mu sync.Mutex
	if err := chromedp.Listen(docs, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok && !strings.HasPrefix(r.Request.URL, h.base) && !strings.HasPrefix(r.Request.URL, "data:") {
			mu.Lock()
			remote = append(remote, r.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if resp, err = chromedp.Run(docs, chromedp.NavigateResponse(h.base+"/docs")); err != nil || resp.Status != 200 {
		t.Fatalf("open /docs: %v", err)
	}
	if csp, _ := resp.Headers["Content-Security-Policy"].(string); !strings.Contains(csp, "script-src 'self';") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("/docs CSP %q, want scripts from keyward only", csp)
	}
	// The sidebar lists the tags; a click on one unfolds its operations.
	for _, op := range []struct{ tag, summary string }{{"Orders", "Place an order"}, {"Orders", "Get an order"}, {"Delivery", "Reveal keys"}} {
		if _, err := step(docs, chromedp.Poll[bool](`document.body.innerText.includes(`+strconv.Quote(op.summary)+`)`, chromedp.WithPollingTimeout(time.Second))); err != nil {
			run(t, docs, "unfold "+op.tag, chromedp.Click(chromedp.Search(`//*[text()=`+strconv.Quote(op.tag)+`]`)))
		}
		if _, err := step(docs, chromedp.Poll[bool](`document.body.innerText.includes(`+strconv.Quote(op.summary)+`)`)); err != nil {
			screenshot(t, docs, artifacts, "4-docs-failed.png")
			t.Fatalf("/docs never lists %q: %v\nconsole: %s", op.summary, err, docsConsole())
		}
	}
	screenshot(t, docs, artifacts, "4-api-docs.png")
	mu.Lock()
	defer mu.Unlock()
	if len(remote) > 0 {
		t.Errorf("/docs requested addresses outside keyward: %v", remote)
	}
	for _, msgs := range []string{console(), docsConsole()} {
		if strings.Contains(msgs, "Content Security Policy") {
			t.Errorf("the browser reported CSP violations:\n%s", msgs)
		}
	}
}

// chromiumPath finds Chromium, failing the test without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found (chromium, chromium-browser or google-chrome on PATH): scripts/test.sh installs Debian's chromium; run `make test` or `apt-get install -y chromium`")
	return ""
}

// artifactDir is where a test keeps its screenshots: .cache/artifacts/
// <name>/ at the repository root, emptied first, kept after the run.
func artifactDir(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".cache", "artifacts", name))
	if err == nil {
		err = os.RemoveAll(dir)
	}
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		t.Fatalf("artifact folder: %v", err)
	}
	return dir
}

// newBrowser starts headless Chromium with the flags this network needs
// (no background connections) and a fresh profile; it ends with the test.
func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// collectConsole records the tab's console and browser-log messages; the
// returned func gives them as text.
func collectConsole(ctx context.Context) func() string {
	var mu sync.Mutex
	var b strings.Builder
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			mu.Lock()
			b.WriteString(string(m.Type) + ": " + m.Text + "\n")
			mu.Unlock()
		}
	}()
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return b.String()
	}
}

// checkPageHeaders asserts the security headers of a reveal page response.
func checkPageHeaders(t *testing.T, what string, resp *network.Response) {
	t.Helper()
	hdr := map[string]string{}
	for k, v := range resp.Headers {
		if s, ok := v.(string); ok {
			hdr[strings.ToLower(k)] = s
		}
	}
	csp := hdr["content-security-policy"]
	for _, want := range []string{"default-src 'none'", "script-src 'nonce-", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: CSP %q lacks %q", what, csp, want)
		}
	}
	for k, want := range map[string]string{"cache-control": "no-store", "referrer-policy": "no-referrer", "x-content-type-options": "nosniff", "x-frame-options": "DENY"} {
		if hdr[k] != want {
			t.Errorf("%s: %s is %q, want %q", what, k, hdr[k], want)
		}
	}
}

// revealsLeft reads the link's remaining reveals from the public status.
func (h *harness) revealsLeft(link string) int {
	h.t.Helper()
	var st struct {
		RevealsLeft int `json:"reveals_left"`
	}
	token := link[strings.LastIndex(link, "/")+1:]
	if code, _, raw := h.do("GET", "/v1/deliveries/"+token, nil, nil, &st); code != 200 {
		h.t.Fatalf("delivery status: %d %s", code, raw)
	}
	return st.RevealsLeft
}

// step runs one action with a deadline; the tab has run before, so the
// deadline ends only this step, not the browser (see chromedp.Run).
func step[T any](ctx context.Context, a chromedp.Action[T]) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return chromedp.Run(ctx, a)
}

func run(t *testing.T, ctx context.Context, what string, a chromedp.Action[chromedp.Void]) {
	t.Helper()
	value(t, ctx, what, a)
}

func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := step(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := step(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name), png, 0o644)
	}
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}
