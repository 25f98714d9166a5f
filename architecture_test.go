package keyward_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/keyward/keyward"

// imports returns every import of the non-test Go files below dir, with the
// file that makes it.
func imports(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			out[p] = path
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no imports found below %s: is the layout right?", dir)
	}
	return out
}

func isStdlib(p string) bool { return !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") }

// TestDependencyRule enforces the hexagon: the domain uses the standard
// library (plus UUID and decimal helpers) only; the application sees the
// domain and ports, never an adapter; ports see only the domain.
func TestDependencyRule(t *testing.T) {
	t.Parallel()
	helpers := map[string]bool{"github.com/google/uuid": true, "github.com/shopspring/decimal": true}
	infra := []string{"net/http", "database/sql"}
	for p, file := range imports(t, "domain") {
		if !isStdlib(p) && !helpers[p] {
			t.Errorf("%s imports %s: the domain may use only the standard library and uuid/decimal", file, p)
		}
		for _, bad := range infra {
			if p == bad {
				t.Errorf("%s imports %s: the domain does no I/O", file, p)
			}
		}
	}
	for _, layer := range []struct {
		dir     string
		allowed []string
	}{
		{"application", []string{module + "/domain", module + "/ports"}},
		{"ports", []string{module + "/domain", module + "/ports"}},
	} {
		for p, file := range imports(t, layer.dir) {
			if isStdlib(p) || helpers[p] {
				continue
			}
			ok := false
			for _, a := range layer.allowed {
				ok = ok || p == a || strings.HasPrefix(p, a+"/")
			}
			if strings.HasPrefix(p, module+"/ports/porttest") {
				ok = true // contract suites live beside the ports
			}
			if !ok {
				t.Errorf("%s imports %s: %s may import only %v", file, p, layer.dir, layer.allowed)
			}
		}
	}
}

// TestAdaptersDoNotImportEachOther keeps adapters swappable.
func TestAdaptersDoNotImportEachOther(t *testing.T) {
	t.Parallel()
	for p, file := range imports(t, "adapters") {
		if !strings.HasPrefix(p, module+"/adapters/") {
			continue
		}
		own := strings.SplitN(filepath.ToSlash(file), "/", 3)[1]
		if !strings.HasPrefix(p, module+"/adapters/"+own) {
			t.Errorf("%s imports %s: adapters depend inward only", file, p)
		}
	}
}
