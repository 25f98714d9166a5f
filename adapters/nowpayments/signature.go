// Package nowpayments holds the NOWPayments adapter.
//
// This file implements the IPN (webhook) signature scheme: NOWPayments sends
// the header x-nowpayments-sig, the lower-case hex HMAC-SHA512 (keyed with
// the IPN secret) of a canonical string derived from the JSON body. The
// normative definition is the Node.js example of NOWPayments' documentation:
//
//	function sortObject(obj) {
//	  return Object.keys(obj).sort().reduce((result, key) => {
//	    result[key] = (obj[key] && typeof obj[key] === 'object') ? sortObject(obj[key]) : obj[key]
//	    return result
//	  }, {})
//	}
//	hmac.update(JSON.stringify(sortObject(JSON.parse(body))))
//
// Canonicalize reproduces, byte for byte, what Node prints for that
// expression, including its quirks:
//
//   - numbers are IEEE-754 doubles printed as ECMAScript Number::toString
//     does (shortest round trip; 10.0 → 10, 0.0000005 → 5e-7, 1e21 → 1e+21,
//     -0 → 0; integers beyond 2^53 lose precision; an out-of-range literal
//     such as 1e400 is Infinity, which JSON.stringify prints as null);
//   - arrays become objects keyed "0", "1", … (Object.keys of an array);
//   - keys are printed in JS property order: array-index keys ("0" …
//     "4294967294", no leading zeros) first in ascending numeric order, then
//     the other keys in UTF-16 code-unit order;
//   - a key named "__proto__" is dropped at every level (the helper's
//     assignment result["__proto__"] = … hits the prototype setter and
//     creates no own property);
//   - for duplicate keys the last value wins, as in JSON.parse;
//   - strings escape only '"', '\\' and U+0000–U+001F (\b \t \n \f \r, else
//     \u00xx in lower-case hex); '/', HTML characters, U+2028/U+2029 and all
//     other non-ASCII characters are written as raw UTF-8; a lone surrogate
//     (only possible through a \uXXXX escape) is written as \udxxx.
//
// Bodies that JSON.parse would reject are rejected with ErrMalformedBody, and
// so is a body that is not valid UTF-8: RFC 8259 requires UTF-8, a genuine
// NOWPayments body always is, and the replacement characters a Node server
// would substitute cannot be reproduced reliably. A leading byte-order mark is
// rejected too (JSON.parse does not skip it). The top-level value must be an
// object, and nesting deeper than 10000 levels is rejected (Node's recursive
// helper would overflow its stack long before). Callers should bound the body
// size before calling (for example with http.MaxBytesReader).
package nowpayments

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// SignatureHeader is the HTTP header carrying the IPN signature.
const SignatureHeader = "x-nowpayments-sig"

var (
	// ErrSignatureMissing is returned by Verify when the signature is empty
	// (or only whitespace), i.e. the header was absent.
	ErrSignatureMissing = errors.New("nowpayments: IPN signature missing")
	// ErrSignatureInvalid is returned by Verify when the signature is not
	// hex, has the wrong length, or does not match the body.
	ErrSignatureInvalid = errors.New("nowpayments: IPN signature invalid")
	// ErrMalformedBody is returned (wrapped, with the reason and byte offset)
	// when the body is not a JSON object that JSON.parse would accept, is not
	// valid UTF-8, or nests too deeply. Test with errors.Is.
	ErrMalformedBody = errors.New("nowpayments: malformed IPN body")
	// ErrSecretMissing is returned by Sign and Verify when the IPN secret is
	// empty after trimming whitespace: an empty HMAC key would let anyone
	// forge signatures, so both fail closed.
	ErrSecretMissing = errors.New("nowpayments: IPN secret not configured")
)

// maxDepth bounds object/array nesting, as encoding/json does.
const maxDepth = 10000

// Canonicalize returns the exact bytes NOWPayments signs for body: the
// compact JSON.stringify of the recursively key-sorted object, as described
// in the package documentation. The result is valid UTF-8 and valid JSON.
//
// It returns an error wrapping ErrMalformedBody when body is not valid JSON,
// has anything but whitespace after the value, is not valid UTF-8, nests
// deeper than 10000 levels, or its top-level value is not an object.
func Canonicalize(body []byte) ([]byte, error) {
	p := parser{data: body}
	p.skipWS()
	if p.peek() != '{' {
		return nil, p.fail("top-level value must be a JSON object")
	}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return nil, p.fail("unexpected data after the JSON value")
	}
	out := make([]byte, 0, len(body))
	return appendValue(out, v), nil
}

// Sign returns the signature NOWPayments would send for body: the lower-case
// hex HMAC-SHA512 of Canonicalize(body), keyed with strings.TrimSpace(secret).
//
// It returns ErrSecretMissing when the trimmed secret is empty, and the
// Canonicalize error (wrapping ErrMalformedBody) when body is malformed.
func Sign(secret string, body []byte) (string, error) {
	key := strings.TrimSpace(secret)
	if key == "" {
		return "", ErrSecretMissing
	}
	canonical, err := Canonicalize(body)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(mac(key, canonical)), nil
}

// Verify checks signature (the value of the x-nowpayments-sig header) against
// body, comparing the decoded HMAC in constant time. Hex digits of either
// case are accepted and surrounding whitespace is ignored. It returns nil on
// success and otherwise, checked in this order:
//
//   - ErrSignatureMissing when signature is empty or only whitespace;
//   - ErrSecretMissing when the trimmed secret is empty;
//   - an error wrapping ErrSignatureInvalid when signature is not hex or not
//     64 bytes long;
//   - an error wrapping ErrMalformedBody when body is malformed (see
//     Canonicalize);
//   - ErrSignatureInvalid when the signature does not match (tampered body,
//     wrong secret, …).
func Verify(secret string, body []byte, signature string) error {
	signature = strings.TrimSpace(signature)
	if signature == "" {
		return ErrSignatureMissing
	}
	key := strings.TrimSpace(secret)
	if key == "" {
		return ErrSecretMissing
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("%w: not hex", ErrSignatureInvalid)
	}
	if len(got) != sha512.Size {
		return fmt.Errorf("%w: %d bytes, want %d", ErrSignatureInvalid, len(got), sha512.Size)
	}
	canonical, err := Canonicalize(body)
	if err != nil {
		return err
	}
	if !hmac.Equal(got, mac(key, canonical)) {
		return ErrSignatureInvalid
	}
	return nil
}

func mac(key string, msg []byte) []byte {
	h := hmac.New(sha512.New, []byte(key))
	h.Write(msg)
	return h.Sum(nil)
}

// Parsed values: nil (null), bool, float64, jsString, jsArray, jsObject.
type (
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
	return f, nil
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
	var b []byte
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

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case float64:
		return appendNumber(b, v)
	case jsString:
		return appendString(b, string(v))
	case jsArray:
		// Object.keys of an array: "0", "1", … already in numeric order.
		b = append(b, '{')
		for i, x := range v {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '"')
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, '"', ':')
			b = appendValue(b, x)
		}
		return append(b, '}')
	case jsObject:
		return appendObject(b, v)
	}
	panic(fmt.Sprintf("nowpayments: unexpected value type %T", v))
}

type indexKey struct {
	n uint32
	k string
}

func appendObject(b []byte, obj jsObject) []byte {
	var idx []indexKey
	var other []string
	for k := range obj {
		if k == protoKey {
			continue
		}
		if n, ok := arrayIndex(k); ok {
			idx = append(idx, indexKey{n, k})
		} else {
			other = append(other, k)
		}
	}
	slices.SortFunc(idx, func(a, b indexKey) int { return cmp.Compare(a.n, b.n) })
	slices.Sort(other) // bytewise on UTF-16BE = UTF-16 code-unit order
	b = append(b, '{')
	first := true
	write := func(k string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, obj[k])
	}
	for _, ik := range idx {
		write(ik.k)
	}
	for _, k := range other {
		write(k)
	}
	return append(b, '}')
}

// arrayIndex reports whether the UTF-16BE key k is an ECMAScript array
// index (a canonical decimal string of 0 … 2^32-2), which JS property order
// lists first, in numeric order.
func arrayIndex(k string) (uint32, bool) {
	nd := len(k) / 2
	if nd == 0 || nd > 10 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(k); i += 2 {
		if k[i] != 0 || k[i+1] < '0' || k[i+1] > '9' {
			return 0, false
		}
		n = n*10 + uint64(k[i+1]-'0')
	}
	if nd > 1 && k[1] == '0' { // leading zero: not canonical
		return 0, false
	}
	if n > math.MaxUint32-1 {
		return 0, false
	}
	return uint32(n), true
}

const hexDigits = "0123456789abcdef"

// appendString writes the UTF-16BE string s as JSON.stringify's
// QuoteJSONString does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i += 2 {
		u := uint16(s[i])<<8 | uint16(s[i+1])
		switch {
		case u == '"':
			b = append(b, '\\', '"')
		case u == '\\':
			b = append(b, '\\', '\\')
		case u < 0x20:
			switch u {
			case '\b':
				b = append(b, '\\', 'b')
			case '\t':
				b = append(b, '\\', 't')
			case '\n':
				b = append(b, '\\', 'n')
			case '\f':
				b = append(b, '\\', 'f')
			case '\r':
				b = append(b, '\\', 'r')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[u>>4], hexDigits[u&0xf])
			}
		case u < utf8.RuneSelf:
			b = append(b, byte(u))
		case utf16.IsSurrogate(rune(u)):
			if u < 0xdc00 && i+3 < len(s) {
				if lo := uint16(s[i+2])<<8 | uint16(s[i+3]); lo >= 0xdc00 && lo <= 0xdfff {
					b = utf8.AppendRune(b, utf16.DecodeRune(rune(u), rune(lo)))
					i += 2
					continue
				}
			}
			b = append(b, '\\', 'u',
				hexDigits[u>>12], hexDigits[u>>8&0xf], hexDigits[u>>4&0xf], hexDigits[u&0xf])
		default:
			b = utf8.AppendRune(b, rune(u))
		}
	}
	return append(b, '"')
}

// appendNumber writes f as ECMAScript Number::toString(10) does, with
// JSON.stringify's mapping of non-finite values to null.
func appendNumber(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	if f == 0 { // +0 and -0
		return append(b, '0')
	}
	if f < 0 {
		b = append(b, '-')
		f = -f
	}
	// Shortest round-trip digits, closest to f when there is a choice (the
	// same choice ECMAScript requires): "d[.ddd]e±XX".
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, 64)
	ePos := slices.Index(e, 'e')
	exp, err := strconv.Atoi(string(e[ePos+1:]))
	if err != nil {
		panic("nowpayments: unexpected float format " + string(e))
	}
	digits := make([]byte, 0, ePos)
	digits = append(digits, e[0])
	if ePos > 1 {
		digits = append(digits, e[2:ePos]...)
	}
	k, n := len(digits), exp+1 // value = 0.digits × 10^n
	switch {
	case k <= n && n <= 21:
		b = append(b, digits...)
		for range n - k {
			b = append(b, '0')
		}
	case 0 < n && n <= 21:
		b = append(b, digits[:n]...)
		b = append(b, '.')
		b = append(b, digits[n:]...)
	case -6 < n && n <= 0:
		b = append(b, '0', '.')
		for range -n {
			b = append(b, '0')
		}
		b = append(b, digits...)
	default:
		b = append(b, digits[0])
		if k > 1 {
			b = append(b, '.')
			b = append(b, digits[1:]...)
		}
		b = append(b, 'e')
		if n-1 >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(n-1), 10)
	}
	return b
}
