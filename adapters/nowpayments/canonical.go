package nowpayments

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case jsNumber:
		return appendNumber(b, v.f)
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
