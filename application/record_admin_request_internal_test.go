package application

import (
	"strings"
	"testing"
)

// TestRequestTextIsBoundedAndPrintable: what a caller puts in a path
// reaches the audit trail as printable ASCII of bounded length; plain ids
// are kept as they are.
func TestRequestTextIsBoundedAndPrintable(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 5000)
	for _, c := range []struct{ name, in, want string }{
		{"plain id", "ord_01HZY3", "ord_01HZY3"},
		{"empty", "", ""},
		{"exactly the bound", strings.Repeat("b", maxRequestText), strings.Repeat("b", maxRequestText)},
		{"past the bound", long, strings.Repeat("a", maxRequestText-3) + "..."},
		{"control characters", "a\x00b\r\n\tc", `a\x00b\r\n\tc`},
		{"invisible and non-ASCII", "a\u200bb\u00e9", `a\u200bb\u00e9`},
		{"invalid UTF-8", "a\xffb", `a\xffb`},
		{"backslash is escaped so escapes stay unambiguous", `a\x00`, `a\\x00`},
		{"formula text stays text (the CSV writer neutralises it)", "=HYPERLINK(\"http://x\")", "=HYPERLINK(\"http://x\")"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := requestText(c.in)
			if got != c.want {
				t.Fatalf("requestText(%q) = %q, want %q", c.in, got, c.want)
			}
			if len(got) > maxRequestText {
				t.Fatalf("%d bytes, over the bound of %d", len(got), maxRequestText)
			}
		})
	}
	if got := requestText(strings.Repeat("\x01", 100)); len(got) > maxRequestText || !strings.HasSuffix(got, "...") {
		t.Fatalf("escapes past the bound: %q", got)
	}
}
