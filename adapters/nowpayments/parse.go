package nowpayments

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Parsed values: nil (null), bool, jsNumber, jsString, jsArray, jsObject.
type (
	// jsNumber is a JSON number: the double JSON.parse makes of it (what is
	// signed) and its text as it arrived (what a decimal reading sees).
	jsNumber struct {
		f    float64
		text string
	}
	// jsString holds a JS string as big-endian UTF-16 code units, two bytes
	// each. Lone surrogates survive, and comparing two jsStrings bytewise
	// is comparing them in UTF-16 code-unit order, as Array.prototype.sort.
	jsString string
	jsArray  []any
	// jsObject maps keys (encoded like jsString) to values.
	jsObject map[string]any
)

// protoKey is "__proto__" encoded like jsString.
var protoKey = string(utf16be("__proto__"))

func utf16be(s string) []byte {
	b := make([]byte, 0, 2*len(s))
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u>>8), byte(u))
	}
	return b
}

type parser struct {
	data  []byte
	pos   int
	depth int
}

func (p *parser) fail(format string, args ...any) error {
	return fmt.Errorf("%w: %s at offset %d", ErrMalformedBody, fmt.Sprintf(format, args...), p.pos)
}

// peek returns the current byte, or -1 at the end of input.
func (p *parser) peek() int {
	if p.pos >= len(p.data) {
		return -1
	}
	return int(p.data[p.pos])
}

// skipWS skips JSON whitespace (the same four characters JSON.parse skips).
func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) value() (any, error) {
	p.skipWS()
	switch c := p.peek(); {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == 't':
		return true, p.literal("true")
	case c == 'f':
		return false, p.literal("false")
	case c == 'n':
		return nil, p.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c < 0:
		return nil, p.fail("unexpected end of input")
	default:
		return nil, p.fail("unexpected character %q", rune(c))
	}
}

func (p *parser) literal(lit string) error {
	if !strings.HasPrefix(string(p.data[p.pos:min(len(p.data), p.pos+len(lit))]), lit) {
		return p.fail("invalid literal, want %s", lit)
	}
	p.pos += len(lit)
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("nesting deeper than %d levels", maxDepth)
	}
	p.pos++ // '{' or '['
	return nil
}

func (p *parser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	obj := jsObject{}
	p.skipWS()
	if p.peek() == '}' {
		p.pos++
		p.depth--
		return obj, nil
	}
	for {
		p.skipWS()
		if p.peek() != '"' {
			return nil, p.fail("expected a string key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.peek() != ':' {
			return nil, p.fail("expected ':' after object key")
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		obj[string(k)] = v // JSON.parse: the last duplicate wins
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return obj, nil
		default:
			return nil, p.fail("expected ',' or '}' in object")
		}
	}
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	arr := jsArray{}
	p.skipWS()
	if p.peek() == ']' {
		p.pos++
		p.depth--
		return arr, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		p.skipWS()
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return arr, nil
		default:
			return nil, p.fail("expected ',' or ']' in array")
		}
	}
}

func isDigit(c int) bool { return c >= '0' && c <= '9' }

// number scans the JSON number grammar strictly and converts the text to
// the nearest double, as JSON.parse does.
func (p *parser) number() (any, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	switch c := p.peek(); {
	case c == '0':
		p.pos++
	case c >= '1' && c <= '9':
		for isDigit(p.peek()) {
			p.pos++
		}
	default:
		return nil, p.fail("invalid number")
	}
	if p.peek() == '.' {
		p.pos++
		if !isDigit(p.peek()) {
			return nil, p.fail("invalid number: no digit after '.'")
		}
		for isDigit(p.peek()) {
			p.pos++
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if !isDigit(p.peek()) {
			return nil, p.fail("invalid number: no digit in exponent")
		}
		for isDigit(p.peek()) {
			p.pos++
		}
	}
	f, err := strconv.ParseFloat(string(p.data[start:p.pos]), 64)
	if err != nil {
		// Only ErrRange is possible for text matching the grammar; f is
		// then ±Inf (overflow) or ±0 (underflow), exactly JS's value.
		var ne *strconv.NumError
		if !errors.As(err, &ne) || ne.Err != strconv.ErrRange {
			return nil, p.fail("invalid number: %v", err)
		}
	}
	return jsNumber{f: f, text: string(p.data[start:p.pos])}, nil
}

func hexVal(c byte) (uint16, bool) {
	switch {
	case c >= '0' && c <= '9':
		return uint16(c - '0'), true
	case c >= 'a' && c <= 'f':
		return uint16(c-'a') + 10, true
	case c >= 'A' && c <= 'F':
		return uint16(c-'A') + 10, true
	}
	return 0, false
}

// str parses a string literal into UTF-16 code units (see jsString).
func (p *parser) str() (jsString, error) {
	p.pos++ // opening quote
	// Two bytes per UTF-16 unit: sized once from the distance to the next
	// quote (exact unless the string has escapes or non-ASCII text).
	n := bytes.IndexByte(p.data[p.pos:], '"')
	if n < 0 {
		n = len(p.data) - p.pos
	}
	b := make([]byte, 0, 2*n)
	for {
		if p.pos >= len(p.data) {
			return "", p.fail("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return jsString(b), nil
		case c == '\\':
			if p.pos+1 >= len(p.data) {
				p.pos++
				return "", p.fail("unterminated string")
			}
			var u uint16
			switch e := p.data[p.pos+1]; e {
			case '"', '\\', '/':
				u = uint16(e)
			case 'b':
				u = '\b'
			case 'f':
				u = '\f'
			case 'n':
				u = '\n'
			case 'r':
				u = '\r'
			case 't':
				u = '\t'
			case 'u':
				if p.pos+6 > len(p.data) {
					return "", p.fail("invalid \\u escape")
				}
				for _, h := range p.data[p.pos+2 : p.pos+6] {
					d, ok := hexVal(h)
					if !ok {
						return "", p.fail("invalid \\u escape")
					}
					u = u<<4 | d
				}
				p.pos += 4
			default:
				return "", p.fail("invalid escape %q", rune(e))
			}
			p.pos += 2
			b = append(b, byte(u>>8), byte(u))
		case c < 0x20:
			return "", p.fail("control character U+%04X in string", c)
		case c < utf8.RuneSelf:
			p.pos++
			b = append(b, 0, c)
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", p.fail("invalid UTF-8")
			}
			p.pos += size
			if r >= 0x10000 {
				r1, r2 := utf16.EncodeRune(r)
				b = append(b, byte(r1>>8), byte(r1), byte(r2>>8), byte(r2))
			} else {
				b = append(b, byte(r>>8), byte(r))
			}
		}
	}
}
