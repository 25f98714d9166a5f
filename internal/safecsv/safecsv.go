// Package safecsv writes CSV that a spreadsheet opens as text: every CSV
// keyward writes goes through it (a test keeps it so), because its cells
// hold what customers and unauthenticated callers typed (an email, a
// requested path), and a cell such as =HYPERLINK(...) or =cmd|'/C calc'!A0
// is run as a formula by Excel and LibreOffice.
package safecsv

import (
	"encoding/csv"
	"io"
	"strings"
	"unicode/utf8"
)

// Writer is a csv.Writer whose cells are neutralised (Cell).
type Writer struct{ w *csv.Writer }

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// Write writes one record, each cell neutralised; it returns the
// underlying writer's error.
func (w *Writer) Write(record []string) error {
	safe := make([]string, len(record))
	for i, c := range record {
		safe[i] = Cell(c)
	}
	return w.w.Write(safe)
}

// Flush writes any buffered data; Error reports its failure.
func (w *Writer) Flush() { w.w.Flush() }

// Error is the first error of a Write or Flush.
func (w *Writer) Error() error { return w.w.Error() }

// formulaStarts are the characters a formula may start with: the OWASP
// list (=, +, -, @, tab, carriage return), a line feed, and the full-width
// signs some locales read as the signs.
const formulaStarts = "=+-@\t\r\n\uff1d\uff0b\uff0d\uff20"

// Cell is c as a spreadsheet shows it without evaluating it: the OWASP
// rule, a single quote before a cell that starts with one of
// formulaStarts. Spreadsheets skip leading spaces before a formula
// (" =1+1" is one in some of them), so the first character after them
// decides. Other cells are unchanged.
func Cell(c string) string {
	rest := strings.TrimLeft(c, " \u00a0\u3000")
	if r, _ := utf8.DecodeRuneInString(rest); rest != "" && strings.ContainsRune(formulaStarts, r) {
		return "'" + c
	}
	return c
}
