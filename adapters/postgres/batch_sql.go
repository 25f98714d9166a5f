package postgres

import (
	"strconv"
	"strings"
	"sync"

	"github.com/keyward/keyward/internal/sqlmark"
)

// This file reads keyward's own SQL just enough for the write batch
// (batch.go): where its parameters are, which tables a statement writes
// and names, and how a WITH statement splits into its queries and its
// main statement. A statement it cannot read with certainty (dollar
// quoting, E'' strings, several statements) is never batched.

// sqlToken is one lexical token of a statement: a word (lower-cased), a
// quoted identifier (unquoted), a parameter ($n), a string or number
// literal, or a punctuation character; depth is the parenthesis depth it
// is at (an opening parenthesis has the depth outside it).
type sqlToken struct {
	kind       byte // 'w' word, 'q' quoted identifier, 'p' parameter, 's' string, 'n' number, '.' punctuation
	text       string
	pos, end   int
	depth, num int // num: a parameter's number
}

// lexSQL splits q into tokens; ok is false when q holds what the batch
// does not read (dollar quoting, escape strings, a semicolon, an
// unterminated literal).
func lexSQL(q string) (toks []sqlToken, ok bool) {
	depth := 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(q) && q[i+1] == '*':
			j := strings.Index(q[i+2:], "*/")
			if j < 0 || strings.Contains(q[i+2:i+2+j], "/*") {
				return nil, false // unterminated, or nested
			}
			i += j + 4
		case c == '\'':
			j := i + 1
			for {
				k := strings.IndexByte(q[j:], '\'')
				if k < 0 {
					return nil, false
				}
				j += k + 1
				if j < len(q) && q[j] == '\'' {
					j++
					continue
				}
				break
			}
			toks = append(toks, sqlToken{kind: 's', text: q[i:j], pos: i, end: j, depth: depth})
			i = j
		case c == '"':
			j := i + 1
			var name strings.Builder
			for {
				k := strings.IndexByte(q[j:], '"')
				if k < 0 {
					return nil, false
				}
				name.WriteString(q[j : j+k])
				j += k + 1
				if j < len(q) && q[j] == '"' {
					name.WriteByte('"')
					j++
					continue
				}
				break
			}
			toks = append(toks, sqlToken{kind: 'q', text: name.String(), pos: i, end: j, depth: depth})
			i = j
		case c == '$':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j == i+1 {
				return nil, false // dollar quoting
			}
			n, err := strconv.Atoi(q[i+1 : j])
			if err != nil {
				return nil, false
			}
			toks = append(toks, sqlToken{kind: 'p', text: q[i:j], pos: i, end: j, depth: depth, num: n})
			i = j
		case isWordByte(c) && !(c >= '0' && c <= '9'):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			if j < len(q) && q[j] == '&' && j-i == 1 && (c == 'u' || c == 'U') {
				return nil, false // U&'' and U&"" escapes
			}
			if j < len(q) && q[j] == '\'' && (j-i == 1 && (c == 'e' || c == 'E' || c == 'b' || c == 'B' || c == 'x' || c == 'X' || c == 'u' || c == 'U')) {
				return nil, false // E'', B'', X'', U&'' literals
			}
			toks = append(toks, sqlToken{kind: 'w', text: strings.ToLower(q[i:j]), pos: i, end: j, depth: depth})
			i = j
		case c >= '0' && c <= '9':
			j := i
			for j < len(q) && (isWordByte(q[j]) || q[j] == '.') {
				j++
			}
			toks = append(toks, sqlToken{kind: 'n', text: q[i:j], pos: i, end: j, depth: depth})
			i = j
		case c == ';':
			return nil, false
		default:
			if c == ')' {
				depth--
				if depth < 0 {
					return nil, false
				}
			}
			toks = append(toks, sqlToken{kind: '.', text: q[i : i+1], pos: i, end: i + 1, depth: depth})
			if c == '(' {
				depth++
			}
			i++
		}
	}
	return toks, depth == 0
}

func isWordByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// sqlPart is a piece of a statement with its parameters' places, so that
// it can be written again with its parameters renumbered.
type sqlPart struct {
	text   string
	params []sqlToken // positions relative to text
}

func newSQLPart(q string, toks []sqlToken, from, to int) sqlPart {
	p := sqlPart{text: q[from:to]}
	for _, t := range toks {
		if t.kind == 'p' && t.pos >= from && t.end <= to {
			t.pos -= from
			t.end -= from
			p.params = append(p.params, t)
		}
	}
	return p
}

// write appends the part to b with each $n written as $(n+offset).
func (p sqlPart) write(b *strings.Builder, offset int) {
	last := 0
	for _, t := range p.params {
		b.WriteString(p.text[last:t.pos])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(t.num + offset))
		last = t.end
	}
	b.WriteString(p.text[last:])
}

// Kinds of statement the batch tells apart.
const (
	stmtOther      = iota // sent as it is, after the batch
	stmtWrite             // INSERT, UPDATE or DELETE without RETURNING: batched
	stmtSavepoint         // SAVEPOINT name
	stmtRollbackTo        // ROLLBACK TO [SAVEPOINT] name
	stmtRelease           // RELEASE [SAVEPOINT] name
	stmtFlush             // sqlmark.Flush: send the kept writes
	stmtSync              // sqlmark.Sync: send the kept savepoints and writes
)

// stmtInfo is what the batch knows of one statement's text.
type stmtInfo struct {
	kind   int
	expect int64 // rows the statement must change, or -1
	retry  bool  // another count means a row changed since read (run again), not a final conflict
	// Of a write: its WITH queries (nil when none) and main statement,
	// with their parameters; the names of its WITH queries; whether its
	// main statement is a SELECT (pg_notify) rather than a write; the
	// tables it writes; every name it mentions; whether it is a plain
	// INSERT ... VALUES (no SELECT, no ON CONFLICT), which may share a
	// batch with other plain inserts into its table.
	with        *sqlPart
	main        sqlPart
	cteNames    []string
	mainSelect  bool
	writes      []string
	mentions    map[string]bool
	plainInsert bool
	// Of a read: whether it takes an advisory lock, which the batch's
	// writes must not move ahead of; whether it locks rows (FOR UPDATE,
	// FOR SHARE), which a rollback to a savepoint kept before it must
	// free: the savepoint is sent first. (The batch's writes, which name
	// none of its tables, wait with it.)
	locking, rowLock bool
	// savepoint name, for the savepoint kinds
	savepoint string
}

var (
	stmtInfoCache sync.Map // query text → *stmtInfo
	stmtInfoCount int64
	stmtInfoMu    sync.Mutex
)

// maxStmtInfoCache bounds the cache: statement texts vary with their row
// counts (a multi-row VALUES), not with their values.
const maxStmtInfoCache = 4096

// classify reads query, once per text.
func classify(query string) *stmtInfo {
	if v, ok := stmtInfoCache.Load(query); ok {
		return v.(*stmtInfo)
	}
	info := readStmt(query)
	stmtInfoMu.Lock()
	if stmtInfoCount < maxStmtInfoCache {
		if _, loaded := stmtInfoCache.LoadOrStore(query, info); !loaded {
			stmtInfoCount++
		}
	}
	stmtInfoMu.Unlock()
	return info
}

func readStmt(query string) *stmtInfo {
	info := &stmtInfo{kind: stmtOther, expect: -1}
	q := strings.TrimSpace(query)
	if q == sqlmark.Flush {
		info.kind = stmtFlush
		return info
	}
	if q == sqlmark.Sync {
		info.kind = stmtSync
		return info
	}
	if strings.HasPrefix(q, sqlmark.SendNowPrefix) {
		return info
	}
	if strings.HasPrefix(q, sqlmark.ExpectRowsPrefix) {
		rest := q[len(sqlmark.ExpectRowsPrefix):]
		end := strings.Index(rest, "*/")
		if end < 0 {
			return info
		}
		count, final := strings.CutSuffix(rest[:end], sqlmark.ExpectRowsFinalSuffix)
		n, err := strconv.Atoi(count)
		if err != nil || n < 0 {
			return info
		}
		info.expect, info.retry = int64(n), !final
		q = strings.TrimSpace(rest[end+2:])
	}
	toks, ok := lexSQL(q)
	if !ok || len(toks) == 0 || toks[0].kind != 'w' {
		return info
	}
	words := func(ws ...string) bool {
		if len(toks) != len(ws)+1 {
			return false
		}
		for i, w := range ws {
			if toks[i].kind != 'w' || toks[i].text != w {
				return false
			}
		}
		return toks[len(ws)].kind == 'w' || toks[len(ws)].kind == 'q'
	}
	switch {
	case words("savepoint"):
		info.kind, info.savepoint = stmtSavepoint, toks[1].text
		return info
	case words("rollback", "to", "savepoint"), words("rollback", "to"):
		info.kind, info.savepoint = stmtRollbackTo, toks[len(toks)-1].text
		return info
	case words("release", "savepoint"), words("release"):
		info.kind, info.savepoint = stmtRelease, toks[len(toks)-1].text
		return info
	}
	info.mentions = map[string]bool{}
	for i, t := range toks {
		if t.kind == 'w' || t.kind == 'q' {
			info.mentions[t.text] = true
		}
		if t.kind == 'w' && t.text == "for" && i+1 < len(toks) && toks[i+1].kind == 'w' {
			switch toks[i+1].text {
			case "update", "share", "no", "key":
				info.rowLock = true
			}
		}
		if t.kind == 'w' && t.text == "returning" {
			info.mentions = nil // read as a statement of its own, after the batch
			return info
		}
		if t.kind == 'w' && strings.Contains(t.text, "advisory") {
			info.locking = true
		}
	}
	info.writes = writtenTables(toks)
	mainAt := 0
	if toks[0].text == "with" {
		var names []string
		var cteEnd int
		mainAt, cteEnd, names = splitWith(toks)
		if mainAt < 0 {
			return info
		}
		w := newSQLPart(q, toks, toks[1].pos, cteEnd)
		info.with, info.cteNames = &w, names
	}
	m := toks[mainAt]
	switch {
	case m.kind == 'w' && (m.text == "insert" || m.text == "update" || m.text == "delete"):
	case m.kind == 'w' && m.text == "select" && mainAt+1 < len(toks) && toks[mainAt+1].text == "pg_notify" && info.with != nil:
		// The outbox's notification of its topics, which carries a write
		// as its WITH query: pg_notify's effect waits for the commit.
		info.mainSelect = true
	default:
		return info
	}
	if len(info.writes) == 0 {
		return info
	}
	info.kind = stmtWrite
	info.main = newSQLPart(q, toks, m.pos, len(q))
	if mainAt == 0 && m.text == "insert" && len(info.writes) == 1 && !info.mentions["select"] && !info.mentions["conflict"] {
		info.plainInsert = true
	}
	return info
}

// writtenTables lists the tables the statement inserts into, updates or
// deletes from (FOR UPDATE and ON CONFLICT DO UPDATE are no writes of a
// table).
func writtenTables(toks []sqlToken) []string {
	var out []string
	name := func(i int) {
		// schema.table names the table
		for i+2 < len(toks) && toks[i+1].text == "." && (toks[i+2].kind == 'w' || toks[i+2].kind == 'q') {
			i += 2
		}
		if i < len(toks) && (toks[i].kind == 'w' || toks[i].kind == 'q') {
			out = append(out, toks[i].text)
		}
	}
	for i, t := range toks {
		if t.kind != 'w' || i+1 >= len(toks) {
			continue
		}
		switch t.text {
		case "insert":
			if toks[i+1].text == "into" {
				name(i + 2)
			}
		case "delete":
			if toks[i+1].text == "from" {
				name(i + 1 + 1)
			}
		case "update":
			if i > 0 && toks[i-1].kind == 'w' && (toks[i-1].text == "for" || toks[i-1].text == "do" || toks[i-1].text == "key") {
				continue
			}
			name(i + 1)
		}
	}
	return out
}

// splitWith finds where a WITH statement's main statement starts (its
// token index), where its list of queries ends (a byte offset) and the
// queries' names; mainAt is -1 for WITH RECURSIVE or a list it cannot
// read.
func splitWith(toks []sqlToken) (mainAt, cteEnd int, names []string) {
	i := 1
	if i < len(toks) && toks[i].kind == 'w' && toks[i].text == "recursive" {
		return -1, 0, nil
	}
	for {
		if i >= len(toks) || (toks[i].kind != 'w' && toks[i].kind != 'q') {
			return -1, 0, nil
		}
		names = append(names, toks[i].text)
		i++
		if i < len(toks) && toks[i].text == "(" { // column names
			for i < len(toks) && !(toks[i].text == ")" && toks[i].depth == 0) {
				i++
			}
			i++
		}
		if i >= len(toks) || toks[i].text != "as" {
			return -1, 0, nil
		}
		i++
		for i < len(toks) && toks[i].kind == 'w' && (toks[i].text == "not" || toks[i].text == "materialized") {
			i++
		}
		if i >= len(toks) || toks[i].text != "(" || toks[i].depth != 0 {
			return -1, 0, nil
		}
		for i < len(toks) && !(toks[i].text == ")" && toks[i].depth == 0) {
			i++
		}
		if i >= len(toks) {
			return -1, 0, nil
		}
		cteEnd = toks[i].end
		i++
		if i < len(toks) && toks[i].text == "," {
			i++
			continue
		}
		if i >= len(toks) {
			return -1, 0, nil
		}
		return i, cteEnd, names
	}
}
