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
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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
	_, canonical, err := parseBody(body)
	return canonical, err
}

// parseBody parses body as JSON.parse would and returns the object and its
// canonical form: the one parse that both the signature and the values
// keyward acts on come from.
func parseBody(body []byte) (jsObject, []byte, error) {
	p := parser{data: body}
	p.skipWS()
	if p.peek() != '{' {
		return nil, nil, p.fail("top-level value must be a JSON object")
	}
	v, err := p.value()
	if err != nil {
		return nil, nil, err
	}
	p.skipWS()
	if p.pos != len(p.data) {
		return nil, nil, p.fail("unexpected data after the JSON value")
	}
	out := make([]byte, 0, len(body))
	return v.(jsObject), appendValue(out, v), nil
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
	_, _, err := verify(secret, body, signature)
	return err
}

// verify is Verify returning, on success, the parsed body and the canonical
// bytes the signature covers. The signature's form is checked before the
// body is parsed, so a caller without a signature pays for no parse.
func verify(secret string, body []byte, signature string) (jsObject, []byte, error) {
	signature = strings.TrimSpace(signature)
	if signature == "" {
		return nil, nil, ErrSignatureMissing
	}
	key := strings.TrimSpace(secret)
	if key == "" {
		return nil, nil, ErrSecretMissing
	}
	if len(signature) != 2*sha512.Size {
		return nil, nil, fmt.Errorf("%w: %d hex digits, want %d", ErrSignatureInvalid, len(signature), 2*sha512.Size)
	}
	got, err := hex.DecodeString(signature)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: not hex", ErrSignatureInvalid)
	}
	obj, canonical, err := parseBody(body)
	if err != nil {
		return nil, nil, err
	}
	if !hmac.Equal(got, mac(key, canonical)) {
		return nil, nil, ErrSignatureInvalid
	}
	return obj, canonical, nil
}

func mac(key string, msg []byte) []byte {
	h := hmac.New(sha512.New, []byte(key))
	h.Write(msg)
	return h.Sum(nil)
}
