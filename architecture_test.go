package keyward_test

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/keyward/keyward"

// tree maps each package directory (slash-separated, relative to the module
// root) to its non-test Go files and the imports of each file. Every file
// keeps its own imports, so two files importing the same package are both
// seen.
type tree map[string]map[string][]string

// loadTree reads the imports of the non-test Go files below root, skipping
// what the go tool skips (testdata, hidden and underscore directories).
func loadTree(root string) (tree, error) {
	out := tree{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		file := filepath.ToSlash(rel)
		dir := path.Dir(file)
		if out[dir] == nil {
			out[dir] = map[string][]string{}
		}
		imps := []string{}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return fmt.Errorf("%s: import %s: %w", file, imp.Path.Value, err)
			}
			imps = append(imps, ip)
		}
		out[dir][file] = imps
		return nil
	})
	return out, err
}

// rule is one dependency rule: the packages it governs and what they may
// import.
type rule struct {
	name   string
	why    string
	scope  func(dir string) bool
	allows func(dir, imp string) bool
}

// violation is one import, in one file, that breaks a rule.
type violation struct{ rule, file, imp string }

func (v violation) String() string { return fmt.Sprintf("[%s] %s imports %s", v.rule, v.file, v.imp) }

// check returns every import in tr that breaks one of rules, sorted.
func check(tr tree, rules []rule) []violation {
	var out []violation
	for dir, files := range tr {
		for _, r := range rules {
			if !r.scope(dir) {
				continue
			}
			for file, imps := range files {
				for _, imp := range imps {
					if !r.allows(dir, imp) {
						out = append(out, violation{r.name, file, imp})
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b violation) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// under reports whether p is pkg or below it (dirs and import paths alike).
func under(p, pkg string) bool { return p == pkg || strings.HasPrefix(p, pkg+"/") }

func isStdlib(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }

// helpers are the value libraries the domain's types are made of (x/text:
// the canonical form of a stock key's text is Unicode normalisation and
// case folding, pure functions of their input).
var helpers = map[string]bool{"github.com/google/uuid": true, "github.com/shopspring/decimal": true,
	"golang.org/x/text/cases": true, "golang.org/x/text/unicode/norm": true}

// cliLibraries build the command line: the command tree, shell completion
// and the terminal check that turns progress on.
var cliLibraries = map[string]bool{"github.com/alecthomas/kong": true, "github.com/willabides/kongplete": true, "golang.org/x/term": true}

// benchLibraries are what keyward bench uses besides HTTP: amounts, and
// its own Postgres connection for the commit counter and ceiling.
var benchLibraries = map[string]bool{"github.com/shopspring/decimal": true, "github.com/lib/pq": true}

// doesIO are standard packages the domain must not use.
var doesIO = map[string]bool{"net/http": true, "database/sql": true}

// rules are keyward's dependency rules: the hexagon points inward, adapters
// are swappable, and only bootstrap knows the adapters.
//
// ports/porttest holds the contract suites every adapter of a port runs
// from its tests: it may import what a port's callers may (domain, ports,
// uuid/decimal to build valid values, testing), but never an adapter or the
// application, so the suite stays the same for every implementation.
//
// internal/testkit (the shared poll-until helper and test clock) is for
// tests: only _test.go files, which loadTree does not read, and porttest may
// import it.
var rules = []rule{
	{
		name: "domain", why: "the domain uses only the standard library (no I/O), uuid/decimal and x/text",
		scope:  func(dir string) bool { return under(dir, "domain") },
		allows: func(_, imp string) bool { return (isStdlib(imp) && !doesIO[imp]) || helpers[imp] },
	},
	{
		name: "application", why: "the application sees the domain and the ports, never an adapter",
		scope: func(dir string) bool { return under(dir, "application") },
		allows: func(_, imp string) bool {
			return isStdlib(imp) || helpers[imp] || under(imp, module+"/domain") ||
				(under(imp, module+"/ports") && !under(imp, module+"/ports/porttest"))
		},
	},
	{
		name: "ports", why: "ports see only the domain and the standard library",
		scope:  func(dir string) bool { return under(dir, "ports") && !under(dir, "ports/porttest") },
		allows: func(_, imp string) bool { return isStdlib(imp) || under(imp, module+"/domain") },
	},
	{
		name: "porttest", why: "contract suites see the domain, the ports and uuid/decimal, never an adapter",
		scope: func(dir string) bool { return under(dir, "ports/porttest") },
		allows: func(_, imp string) bool {
			return isStdlib(imp) || helpers[imp] || under(imp, module+"/domain") || under(imp, module+"/ports") ||
				imp == "github.com/ThreeDotsLabs/watermill/message" || // the messaging port is Watermill's interface
				under(imp, module+"/internal/testkit")
		},
	},
	{
		name: "adapters", why: "an adapter does not import another adapter",
		scope: func(dir string) bool { return under(dir, "adapters") && dir != "adapters" },
		allows: func(dir, imp string) bool {
			own := strings.SplitN(dir, "/", 3)[1]
			return !under(imp, module+"/adapters") || under(imp, module+"/adapters/"+own)
		},
	},
	{
		name: "cmd", why: "commands import only bootstrap (and the standard library and the CLI's own libraries): every process is composed there",
		scope: func(dir string) bool { return under(dir, "cmd") },
		allows: func(_, imp string) bool {
			return isStdlib(imp) || under(imp, module+"/bootstrap") || cliLibraries[imp]
		},
	},
	{
		name: "bench", why: "keyward bench drives keyward only as its clients do: over HTTP, paying through internal/sandboxpay (NOWPayments' IPN wire format) and reading the customers' maildir; never its application, ports or storage",
		scope: func(dir string) bool { return under(dir, "internal/bench") || under(dir, "internal/sandboxpay") },
		allows: func(_, imp string) bool {
			return isStdlib(imp) || benchLibraries[imp] || under(imp, module+"/internal/sandboxpay") ||
				under(imp, module+"/adapters/maildir") || under(imp, module+"/adapters/nowpayments") || under(imp, module+"/adapters/sandbox")
		},
	},
	{
		name: "testkit", why: "only tests (and the contract suites they run) import the test helpers",
		scope:  func(dir string) bool { return !under(dir, "ports/porttest") && !under(dir, "internal/testkit") },
		allows: func(_, imp string) bool { return !under(imp, module+"/internal/testkit") },
	},
}

func ruleWhy(name string) string {
	for _, r := range rules {
		if r.name == name {
			return r.why
		}
	}
	return ""
}

// TestDependencyRules enforces the rules on keyward's own tree.
func TestDependencyRules(t *testing.T) {
	t.Parallel()
	tr, err := loadTree(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		governs := false
		for dir := range tr {
			governs = governs || r.scope(dir)
		}
		if !governs {
			t.Errorf("rule %q governs no package: is the layout right?", r.name)
		}
	}
	for _, v := range check(tr, rules) {
		t.Errorf("%s: %s", v, ruleWhy(v.rule))
	}
}

// TestDependencyRulesCatchPlantedViolations runs the rules on a small tree
// with one planted breach per rule (and legal imports around them): each
// rule must report its breach, in every file that makes it, and nothing
// else.
func TestDependencyRulesCatchPlantedViolations(t *testing.T) {
	t.Parallel()
	files := map[string][]string{
		"domain/order.go":                {"fmt", "time", "github.com/shopspring/decimal"},
		"domain/store.go":                {"context", "database/sql"},
		"application/place_order.go":     {"context", module + "/domain", module + "/ports"},
		"application/shortcut.go":        {module + "/adapters/memory"},
		"ports/storage.go":               {"context", module + "/domain"},
		"ports/money.go":                 {"github.com/shopspring/decimal"},
		"ports/porttest/orders.go":       {"testing", module + "/domain", module + "/ports", "github.com/google/uuid"},
		"ports/porttest/fixture.go":      {module + "/adapters/memory"},
		"ports/porttest/clock.go":        {module + "/internal/testkit"},
		"adapters/postgres/db.go":        {"database/sql", module + "/domain", module + "/ports"},
		"adapters/postgres/pgtest/db.go": {module + "/adapters/postgres"},
		// The same import as the legal one above: both files must be seen.
		"adapters/memory/orders.go":    {module + "/ports", module + "/adapters/postgres"},
		"adapters/sandbox/supplier.go": {module + "/adapters/postgres"},
		// A name that only starts like the adapter's own.
		"adapters/memory/cache.go":    {module + "/adapters/memorycache"},
		"cmd/keyward/main.go":         {"os", module + "/bootstrap", "github.com/alecthomas/kong", "github.com/willabides/kongplete", "golang.org/x/term"},
		"cmd/keyward/pay.go":          {module + "/adapters/sandbox"},
		"cmd/keyward/stock.go":        {module + "/application"},
		"cmd/keyward/serve.go":        {"go.uber.org/fx"},
		"cmd/keyward/help.go":         {module + "/bootstrapx"}, // only starts like bootstrap
		"cmd/keyward/main_test.go":    {module + "/adapters/postgres/pgtest"},
		"bootstrap/storage.go":        {module + "/adapters/postgres", module + "/adapters/memory"},
		"bootstrap/clock.go":          {module + "/internal/testkit"},
		"internal/testkit/clock.go":   {"sync", "time"},
		"internal/bench/load.go":      {"net/http", module + "/internal/sandboxpay", module + "/adapters/maildir", "github.com/lib/pq"},
		"internal/bench/shortcut.go":  {module + "/application"},
		"adapters/http/testdata/x.go": {module + "/adapters/postgres"},
	}
	root := t.TempDir()
	for name, imps := range files {
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\nimport (\n", path.Base(path.Dir(name)))
		for _, imp := range imps {
			fmt.Fprintf(&b, "\t_ %q\n", imp)
		}
		b.WriteString(")\n")
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := loadTree(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []violation{
		{"adapters", "adapters/memory/cache.go", module + "/adapters/memorycache"},
		{"adapters", "adapters/memory/orders.go", module + "/adapters/postgres"},
		{"adapters", "adapters/sandbox/supplier.go", module + "/adapters/postgres"},
		{"application", "application/shortcut.go", module + "/adapters/memory"},
		{"bench", "internal/bench/shortcut.go", module + "/application"},
		{"cmd", "cmd/keyward/help.go", module + "/bootstrapx"},
		{"cmd", "cmd/keyward/pay.go", module + "/adapters/sandbox"},
		{"cmd", "cmd/keyward/serve.go", "go.uber.org/fx"},
		{"cmd", "cmd/keyward/stock.go", module + "/application"},
		{"domain", "domain/store.go", "database/sql"},
		{"porttest", "ports/porttest/fixture.go", module + "/adapters/memory"},
		{"ports", "ports/money.go", "github.com/shopspring/decimal"},
		{"testkit", "bootstrap/clock.go", module + "/internal/testkit"},
	}
	got := check(tr, rules)
	for _, v := range want {
		if !slices.Contains(got, v) {
			t.Errorf("planted violation not reported: %s", v)
		}
	}
	for _, v := range got {
		if !slices.Contains(want, v) {
			t.Errorf("legal import reported: %s", v)
		}
	}
	for _, r := range rules {
		if !slices.ContainsFunc(want, func(v violation) bool { return v.rule == r.name }) {
			t.Errorf("rule %q has no planted violation: plant one", r.name)
		}
	}
}
