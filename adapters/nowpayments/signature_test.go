package nowpayments

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

const vectorsFile = "testdata/nowpayments-ipn-vectors.json"

type vector struct {
	Name                    string `json:"name"`
	Secret                  string `json:"secret"`
	Body                    string `json:"body"`
	Signature               string `json:"signature"`
	Canonical               string `json:"canonical"`
	LegacyReplacerSignature string `json:"legacy_replacer_signature"`
}

func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		tb.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(raw, &vs); err != nil {
		tb.Fatal(err)
	}
	if len(vs) != 4 {
		tb.Fatalf("want 4 vectors in %s, got %d", vectorsFile, len(vs))
	}
	return vs
}

func hmacHex(secret string, msg []byte) string {
	h := hmac.New(sha512.New, []byte(secret))
	h.Write(msg)
	return hex.EncodeToString(h.Sum(nil))
}

func TestVectors(t *testing.T) {
	t.Parallel()
	legacyDiffers := 0
	for _, v := range loadVectors(t) {
		if v.LegacyReplacerSignature != v.Signature {
			legacyDiffers++
		}
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			// The vector file is self-consistent.
			if got := hmacHex(v.Secret, []byte(v.Canonical)); got != v.Signature {
				t.Fatalf("vector: HMAC(canonical) = %s, signature field %s", got, v.Signature)
			}
			c, err := Canonicalize([]byte(v.Body))
			if err != nil {
				t.Fatalf("Canonicalize: %v", err)
			}
			if string(c) != v.Canonical {
				t.Fatalf("Canonicalize:\n got %s\nwant %s", c, v.Canonical)
			}
			sig, err := Sign(v.Secret, []byte(v.Body))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if sig != v.Signature {
				t.Fatalf("Sign = %s, want %s", sig, v.Signature)
			}
			if err := Verify(v.Secret, []byte(v.Body), v.Signature); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if err := Verify(v.Secret, []byte(v.Body), strings.ToUpper(v.Signature)); err != nil {
				t.Fatalf("Verify(upper-case hex): %v", err)
			}
			// The secret is trimmed, as the PHP example does.
			if err := Verify("  "+v.Secret+"\n", []byte(v.Body), v.Signature); err != nil {
				t.Fatalf("Verify(untrimmed secret): %v", err)
			}
			// The old replacer-array form must not be accepted where it differs.
			if v.LegacyReplacerSignature != v.Signature {
				if err := Verify(v.Secret, []byte(v.Body), v.LegacyReplacerSignature); !errors.Is(err, ErrSignatureInvalid) {
					t.Fatalf("Verify(legacy signature) = %v, want ErrSignatureInvalid", err)
				}
			}
		})
	}
	if legacyDiffers != 2 {
		t.Fatalf("want 2 vectors whose legacy signature differs, got %d", legacyDiffers)
	}
}

// flipAfter returns body with one byte of the value of key changed: the first
// digit or letter after `"key":`, so the body stays valid JSON.
func flipAfter(t *testing.T, body, key string) []byte {
	t.Helper()
	i := strings.Index(body, `"`+key+`":`)
	if i < 0 {
		t.Fatalf("key %q not in body", key)
	}
	b := []byte(body)
	for j := i + len(key) + 3; j < len(b); j++ {
		switch c := b[j]; {
		case c >= '0' && c <= '8', c >= 'a' && c <= 'y', c >= 'A' && c <= 'Y':
			b[j]++
			return b
		case c == '9', c == 'z', c == 'Z':
			b[j]--
			return b
		}
	}
	t.Fatalf("nothing to flip after %q", key)
	return nil
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	vs := loadVectors(t)
	flat, pretty, nested, array := vs[0], vs[1], vs[2], vs[3]

	type tc struct {
		name, secret, body, sig string
		want                    error
	}
	cases := []tc{
		{"missing signature", flat.Secret, flat.Body, "", ErrSignatureMissing},
		{"blank signature", flat.Secret, flat.Body, "  \t", ErrSignatureMissing},
		{"missing signature wins over bad body", flat.Secret, "{", "", ErrSignatureMissing},
		{"non-hex signature", flat.Secret, flat.Body, strings.Repeat("zz", 64), ErrSignatureInvalid},
		{"odd-length signature", flat.Secret, flat.Body, flat.Signature[:127], ErrSignatureInvalid},
		{"truncated signature", flat.Secret, flat.Body, flat.Signature[:64], ErrSignatureInvalid},
		{"signature with extra byte", flat.Secret, flat.Body, flat.Signature + "00", ErrSignatureInvalid},
		{"one hex digit changed", flat.Secret, flat.Body, "0" + flat.Signature[1:], ErrSignatureInvalid},
		{"wrong secret", "test-ipn-secret-2", flat.Body, flat.Signature, ErrSignatureInvalid},
		{"empty secret", "", flat.Body, flat.Signature, ErrSecretMissing},
		{"blank secret", " \n", flat.Body, flat.Signature, ErrSecretMissing},
		{"signature of another body", flat.Secret, pretty.Body, flat.Signature, ErrSignatureInvalid},
		{"malformed JSON", flat.Secret, flat.Body[:len(flat.Body)-1], flat.Signature, ErrMalformedBody},
		{"empty body", flat.Secret, "", flat.Signature, ErrMalformedBody},
		{"array top level", flat.Secret, "[" + flat.Body + "]", flat.Signature, ErrMalformedBody},
		{"string top level", flat.Secret, `"x"`, flat.Signature, ErrMalformedBody},
		{"null top level", flat.Secret, "null", flat.Signature, ErrMalformedBody},
		{"trailing garbage", flat.Secret, flat.Body + "x", flat.Signature, ErrMalformedBody},
		{"second value", flat.Secret, flat.Body + "{}", flat.Signature, ErrMalformedBody},
	}
	for _, v := range []vector{flat, pretty, nested, array} {
		for _, key := range []string{"payment_id", "pay_address", "actually_paid", "updated_at"} {
			cases = append(cases, tc{
				name: "tampered " + key + " in " + v.Name, secret: v.Secret,
				body: string(flipAfter(t, v.Body, key)), sig: v.Signature, want: ErrSignatureInvalid,
			})
		}
	}
	cases = append(cases,
		tc{"tampered fee", nested.Secret, string(flipAfter(t, nested.Body, "depositFee")), nested.Signature, ErrSignatureInvalid},
		tc{"tampered array element", array.Secret, strings.Replace(array.Body, "5513339154", "5513339155", 1), array.Signature, ErrSignatureInvalid},
		tc{"array reordered", array.Secret, strings.Replace(array.Body, "[5513339153,5513339154]", "[5513339154,5513339153]", 1), array.Signature, ErrSignatureInvalid},
		tc{"non-ASCII changed", nested.Secret, strings.Replace(nested.Body, "é", "e", 1), nested.Signature, ErrSignatureInvalid},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := Verify(c.secret, []byte(c.body), c.sig)
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify = %v, want %v", err, c.want)
			}
			if c.want == ErrMalformedBody {
				if _, err := Sign(c.secret, []byte(c.body)); !errors.Is(err, ErrMalformedBody) {
					t.Fatalf("Sign = %v, want ErrMalformedBody", err)
				}
			}
		})
	}
}

func TestSignEmptySecret(t *testing.T) {
	t.Parallel()
	if _, err := Sign(" ", []byte(`{}`)); !errors.Is(err, ErrSecretMissing) {
		t.Fatalf("Sign(blank secret) = %v, want ErrSecretMissing", err)
	}
}

type canonCase struct{ name, body, want string }

// numberCases: the body is {"n":<in>}, the canonical form {"n":<want>}.
var numberCases = []struct{ in, want string }{
	{"1e21", "1e+21"},
	{"-1e21", "-1e+21"},
	{"1e20", "100000000000000000000"},
	{"999999999999999900000", "999999999999999900000"},
	{"1e-7", "1e-7"},
	{"0.0000005", "5e-7"},
	{"2E-7", "2e-7"},
	{"1.2345e-7", "1.2345e-7"},
	{"0.000001", "0.000001"},
	{"1e-6", "0.000001"},
	{"0.00001", "0.00001"},
	{"0.00012345", "0.00012345"},
	{"123456789012345680000", "123456789012345680000"},
	{"123456789012345678901", "123456789012345680000"},
	{"9007199254740993", "9007199254740992"},
	{"-0", "0"},
	{"-0.0", "0"},
	{"-0e10", "0"},
	{"0", "0"},
	{"10.0", "10"},
	{"7.4120", "7.412"},
	{"1E2", "100"},
	{"1e+2", "100"},
	{"100", "100"},
	{"-1.5", "-1.5"},
	{"0.1", "0.1"},
	{"12345678.9", "12345678.9"},
	{"123e-20", "1.23e-18"},
	{"1.5e300", "1.5e+300"},
	{"5e-324", "5e-324"},
	{"1.7976931348623157e308", "1.7976931348623157e+308"},
	{"1e400", "null"},
	{"-1e400", "null"},
	{"1e-400", "0"},
	{"-1e-400", "0"},
	{"5745459419", "5745459419"},
	{"0.30000000000000004", "0.30000000000000004"},
}

func numberCanonCases() []canonCase {
	var cs []canonCase
	for _, c := range numberCases {
		cs = append(cs, canonCase{"number " + c.in, `{"n":` + c.in + `}`, `{"n":` + c.want + `}`})
	}
	return cs
}

var stringCases = []canonCase{
	{"U+2028 escaped in input stays raw", `{"s":"\u2028"}`, "{\"s\":\"\u2028\"}"},
	{"U+2029 raw stays raw", "{\"s\":\"\u2029\"}", "{\"s\":\"\u2029\"}"},
	{"unit separator", `{"s":"\u001F"}`, `{"s":"\u001f"}`},
	{"NUL", `{"s":"\u0000"}`, `{"s":"\u0000"}`},
	{"short escapes", `{"s":"\b\t\n\f\r"}`, `{"s":"\b\t\n\f\r"}`},
	{"short escapes from \\u", `{"s":"\u0008\u0009\u000a\u000C\u000d"}`, `{"s":"\b\t\n\f\r"}`},
	{"quote and backslash", `{"s":"\"\\"}`, `{"s":"\"\\"}`},
	{"solidus unescaped", `{"s":"\/a/b"}`, `{"s":"/a/b"}`},
	{"HTML characters raw", `{"s":"</script>&'<>"}`, `{"s":"</script>&'<>"}`},
	{"HTML escapes decoded", `{"s":"\u003c\u0026\u003e"}`, `{"s":"<&>"}`},
	{"DEL raw", `{"s":"\u007f"}`, "{\"s\":\"\x7f\"}"},
	{"non-ASCII raw", `{"s":"Caf\u00e9 «Déjà vu» — 🎮"}`, `{"s":"Café «Déjà vu» — 🎮"}`},
	{"surrogate pair escape", `{"s":"\ud83c\uDFAE"}`, `{"s":"🎮"}`},
	{"lone high surrogate", `{"s":"\uD800x"}`, `{"s":"\ud800x"}`},
	{"lone low surrogate", `{"s":"\udc00"}`, `{"s":"\udc00"}`},
	{"reversed pair", `{"s":"\udc00\ud800"}`, `{"s":"\udc00\ud800"}`},
	{"high surrogate at end", `{"s":"a\udbff"}`, `{"s":"a\udbff"}`},
	{"U+FFFD raw", "{\"s\":\"\uFFFD\"}", "{\"s\":\"\uFFFD\"}"},
	{"escaped key", `{"\u0041\n":1}`, `{"A\n":1}`},
}

var orderCases = []canonCase{
	{"integer-like keys first", `{"b":1,"10":2,"2":3,"a":4}`, `{"2":3,"10":2,"a":4,"b":1}`},
	{"array-index bounds and non-canonical numbers",
		`{"4294967295":1,"4294967294":2,"01":3,"-1":4,"1.0":5,"0":6," 1":7,"00":8}`,
		`{"0":6,"4294967294":2," 1":7,"-1":4,"00":8,"01":3,"1.0":5,"4294967295":1}`},
	{"UTF-16 code-unit order, not UTF-8 byte order",
		"{\"\uffff\":1,\"🎮\":2,\"é\":3,\"B\":4,\"a\":5,\"_\":6}",
		"{\"B\":4,\"_\":6,\"a\":5,\"é\":3,\"🎮\":2,\"\uffff\":1}"},
	{"prefix sorts first", `{"ab":1,"a":2,"":3}`, `{"":3,"a":2,"ab":1}`},
	{"nested objects sorted", `{"z":{"y":1,"x":{"d":1,"c":2}},"a":null}`, `{"a":null,"z":{"x":{"c":2,"d":1},"y":1}}`},
	{"duplicate key: last wins", `{"a":1,"b":2,"a":3}`, `{"a":3,"b":2}`},
	{"duplicate key: object replaced by null", `{"a":{"x":1},"a":null}`, `{"a":null}`},
	{"__proto__ dropped", `{"__proto__":{"a":1},"b":2}`, `{"b":2}`},
	{"__proto__ primitive dropped, nested", `{"x":{"__proto__":5,"y":1},"__proto__":null}`, `{"x":{"y":1}}`},
	{"escaped __proto__ dropped", `{"\u005f_proto__":1,"a":1}`, `{"a":1}`},
	{"empty array", `{"a":[]}`, `{"a":{}}`},
	{"empty object", `{}`, `{}`},
	{"nested arrays become objects", `{"a":[[1],{"b":2,"a":1},[]]}`, `{"a":{"0":{"0":1},"1":{"a":1,"b":2},"2":{}}}`},
	{"array index order past 9", `{"a":[0,1,2,3,4,5,6,7,8,9,10,11]}`,
		`{"a":{"0":0,"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":10,"11":11}}`},
	{"scalars", `{"t":true,"f":false,"n":null}`, `{"f":false,"n":null,"t":true}`},
	{"whitespace everywhere", " \t\r\n{ \"b\" :\n[ 1 , 2 ] ,\"a\"\t: { } }\n\n", `{"a":{},"b":{"0":1,"1":2}}`},
}

func TestCanonicalize(t *testing.T) {
	t.Parallel()
	groups := map[string][]canonCase{
		"numbers": numberCanonCases(),
		"strings": stringCases,
		"order":   orderCases,
	}
	for g, cs := range groups {
		for _, c := range cs {
			t.Run(g+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				got, err := Canonicalize([]byte(c.body))
				if err != nil {
					t.Fatalf("Canonicalize(%q): %v", c.body, err)
				}
				if string(got) != c.want {
					t.Fatalf("Canonicalize(%q)\n got %q\nwant %q", c.body, got, c.want)
				}
				again, err := Canonicalize(got)
				if err != nil || !bytes.Equal(again, got) {
					t.Fatalf("not idempotent: %q → %q, %v", got, again, err)
				}
			})
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, maxDepth+1) + "1" + strings.Repeat("}", maxDepth+1)
	deepArr := `{"a":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + "}"
	cases := map[string]string{
		"empty":                 "",
		"whitespace only":       " \n",
		"null":                  "null",
		"number":                "1",
		"string":                `"a"`,
		"true":                  "true",
		"empty array":           "[]",
		"array of object":       `[{"a":1}]`,
		"trailing garbage":      `{"a":1} x`,
		"two objects":           `{"a":1}{}`,
		"trailing comma":        `{"a":1,}`,
		"trailing comma array":  `{"a":[1,]}`,
		"missing colon":         `{"a" 1}`,
		"missing value":         `{"a":}`,
		"unquoted key":          `{a:1}`,
		"single quotes":         `{'a':1}`,
		"unterminated object":   `{"a":1`,
		"unterminated string":   `{"a":"x}`,
		"unterminated escape":   `{"a":"\`,
		"leading zero":          `{"a":01}`,
		"leading dot":           `{"a":.5}`,
		"trailing dot":          `{"a":1.}`,
		"plus sign":             `{"a":+1}`,
		"bare minus":            `{"a":-}`,
		"empty exponent":        `{"a":1e}`,
		"signed empty exponent": `{"a":1e+}`,
		"hex number":            `{"a":0x10}`,
		"NaN":                   `{"a":NaN}`,
		"Infinity":              `{"a":Infinity}`,
		"bad literal":           `{"a":tru}`,
		"literal suffix":        `{"a":nulls}`,
		"capital literal":       `{"a":True}`,
		"bad escape":            `{"a":"\x"}`,
		"short unicode escape":  `{"a":"\u12"}`,
		"non-hex unicode":       `{"a":"\u12g4"}`,
		"raw tab in string":     "{\"a\":\"\t\"}",
		"raw newline in string": "{\"a\":\"\n\"}",
		"invalid UTF-8 byte":    "{\"a\":\"\xff\"}",
		"invalid UTF-8 in key":  "{\"\xc3\":1}",
		"overlong UTF-8":        "{\"a\":\"\xc0\xaf\"}",
		"UTF-8 surrogate":       "{\"a\":\"\xed\xa0\x80\"}",
		"byte-order mark":       "\xef\xbb\xbf{}",
		"comment":               `{"a":1/*c*/}`,
		"vertical tab space":    "{\v}",
		"NBSP space":            "{\u00a0}",
		"too deep objects":      deep,
		"too deep arrays":       deepArr,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := Canonicalize([]byte(body))
			if !errors.Is(err, ErrMalformedBody) {
				t.Fatalf("Canonicalize(%.40q) = %q, %v; want ErrMalformedBody", body, got, err)
			}
		})
	}
	// Just inside the depth limit is fine.
	ok := `{"a":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + "}"
	if _, err := Canonicalize([]byte(ok)); err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
}

func TestLayoutAndOrderDoNotMatter(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			var compact, pretty bytes.Buffer
			if err := json.Compact(&compact, []byte(v.Body)); err != nil {
				t.Fatal(err)
			}
			if err := json.Indent(&pretty, []byte(v.Body), "", "\t"); err != nil {
				t.Fatal(err)
			}
			// Reverse the top-level key order by hand.
			var m map[string]json.RawMessage
			if err := json.Unmarshal([]byte(v.Body), &m); err != nil {
				t.Fatal(err)
			}
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			var reversed bytes.Buffer
			reversed.WriteString("{")
			for i := range keys {
				k := keys[len(keys)-1-i]
				if i > 0 {
					reversed.WriteString(" ,\n")
				}
				fmt.Fprintf(&reversed, "%q : %s", k, m[k])
			}
			reversed.WriteString("}")
			if !utf8.ValidString(v.Body) {
				t.Fatal("vector body is not UTF-8")
			}
			for name, body := range map[string][]byte{
				"compact": compact.Bytes(), "pretty": pretty.Bytes(), "reversed": reversed.Bytes(),
			} {
				sig, err := Sign(v.Secret, body)
				if err != nil {
					t.Fatalf("%s: Sign: %v", name, err)
				}
				if sig != v.Signature {
					t.Fatalf("%s: Sign = %s, want %s", name, sig, v.Signature)
				}
				if err := Verify(v.Secret, body, v.Signature); err != nil {
					t.Fatalf("%s: Verify: %v", name, err)
				}
			}
		})
	}
}

// TestMatchesNode compares Canonicalize and Sign with Node's own
// JSON.stringify(sortObject(JSON.parse(body))) on the table cases and on
// generated bodies. Node is the reference implementation, so it must be
// installed (it is on keyward's build machines).
func TestMatchesNode(t *testing.T) {
	nodePath, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is needed to check the canonical form against JavaScript: install Node.js")
	}
	t.Parallel()
	var bodies []string
	for _, v := range loadVectors(t) {
		bodies = append(bodies, v.Body)
	}
	for _, cs := range [][]canonCase{numberCanonCases(), stringCases, orderCases} {
		for _, c := range cs {
			bodies = append(bodies, c.body)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		bodies = append(bodies, genObject(r, 0))
	}
	// One body per line: JSON-encode each so newlines in bodies survive.
	var in bytes.Buffer
	for _, b := range bodies {
		line, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		in.Write(line)
		in.WriteByte('\n')
	}
	const script = `
const crypto = require('crypto');
function sortObject(obj) {
  return Object.keys(obj).sort().reduce(
    (result, key) => {
      result[key] = (obj[key] && typeof obj[key] === 'object') ? sortObject(obj[key]) : obj[key]
      return result
    },
    {}
  )
}
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
const out = [];
for (const line of lines) {
  const body = JSON.parse(line);
  const c = JSON.stringify(sortObject(JSON.parse(body)));
  const sig = crypto.createHmac('sha512', 'node-secret').update(c).digest('hex');
  out.push(JSON.stringify([c, sig]));
}
process.stdout.write(out.join('\n') + '\n');
`
	cmd := exec.Command(nodePath, "-e", script)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	i := 0
	for ; sc.Scan(); i++ {
		if i >= len(bodies) {
			t.Fatalf("node printed more lines than bodies")
		}
		var res [2]string
		if err := json.Unmarshal(sc.Bytes(), &res); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		// JSON.stringify escaped the canonical string once more, so its
		// \udxxx escapes for lone surrogates decode back to plain text.
		wantCanon, wantSig := res[0], res[1]
		got, err := Canonicalize([]byte(bodies[i]))
		if err != nil {
			t.Errorf("body %q: Canonicalize: %v", bodies[i], err)
			continue
		}
		if string(got) != wantCanon {
			t.Errorf("body %q:\n got %q\nnode %q", bodies[i], got, wantCanon)
			continue
		}
		sig, err := Sign("node-secret", []byte(bodies[i]))
		if err != nil || sig != wantSig {
			t.Errorf("body %q: Sign = %s, %v; node %s", bodies[i], sig, err, wantSig)
		}
	}
	if i != len(bodies) {
		t.Fatalf("node answered %d of %d bodies", i, len(bodies))
	}
}

// genObject returns the text of a random JSON object with tricky numbers,
// strings, keys and layout.
func genObject(r *rand.Rand, depth int) string {
	var b strings.Builder
	b.WriteString(ws(r) + "{")
	n := r.IntN(6)
	if depth > 3 {
		n = r.IntN(2)
	}
	for i := range n {
		if i > 0 {
			b.WriteString(ws(r) + ",")
		}
		b.WriteString(ws(r) + genString(r, true) + ws(r) + ":" + genValue(r, depth+1))
	}
	b.WriteString(ws(r) + "}")
	return b.String()
}

func genValue(r *rand.Rand, depth int) string {
	v := ws(r)
	switch k := r.IntN(10); {
	case k == 0 && depth < 5:
		v += genObject(r, depth)
	case k == 1 && depth < 5:
		m := r.IntN(13)
		v += "["
		for i := range m {
			if i > 0 {
				v += ","
			}
			v += genValue(r, depth+1)
		}
		v += ws(r) + "]"
	case k == 2:
		v += []string{"null", "true", "false"}[r.IntN(3)]
	case k < 6:
		v += genString(r, false)
	default:
		v += genNumber(r)
	}
	return v + ws(r)
}

func ws(r *rand.Rand) string {
	if r.IntN(4) > 0 {
		return ""
	}
	return []string{" ", "\n", "\t", "\r\n  "}[r.IntN(4)]
}

func genNumber(r *rand.Rand) string {
	var f float64
	switch r.IntN(6) {
	case 0: // any finite double
		for {
			f = math.Float64frombits(r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				break
			}
		}
	case 1: // around the exponent-form boundaries
		f = (r.Float64() + 0.5) * math.Pow10(r.IntN(20)-10+[]int{-6, 21, 0}[r.IntN(3)])
	case 2: // money-like
		f = float64(r.IntN(1_000_000)) / math.Pow10(r.IntN(9))
	case 3: // integers, also beyond 2^53
		s := strconv.FormatInt(r.Int64N(1<<62)-1<<61, 10)
		if s == "0" {
			return s
		}
		return s + strings.Repeat("0", r.IntN(8))
	case 4: // literal forms
		return []string{"-0", "0.0", "1e400", "-1e-400", "10.000", "1E+21", "1e-7", "123456789012345678901234567890"}[r.IntN(8)]
	default:
		f = r.NormFloat64() * math.Pow10(r.IntN(40)-20)
	}
	if r.IntN(2) == 0 {
		f = -f
	}
	formats := []byte{'g', 'e', 'E', 'f'}
	prec := []int{-1, -1, r.IntN(25)}[r.IntN(3)]
	s := strconv.FormatFloat(f, formats[r.IntN(len(formats))], prec, 64)
	s = strings.Replace(s, "e+0", "e+", 1)
	return s
}

var (
	keyPool  = []string{"0", "1", "2", "10", "01", "-1", "4294967294", "4294967295", "__proto__", "a", "B", "_", "é", "🎮", "\uffff", "", "payment_id", "fee"}
	unitPool = []rune{'a', 'Z', '"', '\\', '/', '<', '>', '&', '\'', 0, 0x1f, '\b', '\t', '\n', '\f', '\r', 0x7f, 0xe9, 0xab, 0x2028, 0x2029, 0xfeff, 0xfffd, 0xffff, 0x1f3ae, 0x10ffff}
)

func genString(r *rand.Rand, key bool) string {
	if key && r.IntN(2) == 0 {
		k := keyPool[r.IntN(len(keyPool))]
		if k != "" && k[0] < utf8.RuneSelf && r.IntN(4) == 0 {
			return `"\u` + fmt.Sprintf("%04X", k[0]) + k[1:] + `"` // escaped first char (ASCII keys only matter)
		}
		b, _ := json.Marshal(k)
		return strings.ReplaceAll(string(b), `\u0026`, "&")
	}
	var b strings.Builder
	b.WriteByte('"')
	for range r.IntN(8) {
		c := unitPool[r.IntN(len(unitPool))]
		switch {
		case r.IntN(8) == 0: // lone surrogate or escaped pair
			if r.IntN(2) == 0 {
				fmt.Fprintf(&b, `\u%04x`, 0xd800+r.IntN(0x800))
			} else {
				fmt.Fprintf(&b, `\uD83C\uDF%02X`, r.IntN(256))
			}
		case c < 0x20 || c == '"' || c == '\\' || r.IntN(4) == 0:
			if c > 0xffff {
				hi, lo := 0xd800+(c-0x10000)>>10, 0xdc00+(c-0x10000)&0x3ff
				fmt.Fprintf(&b, `\u%04x\u%04X`, hi, lo)
			} else {
				fmt.Fprintf(&b, `\u%04x`, c)
			}
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// normalize turns a value decoded by encoding/json into what the canonical
// form keeps: arrays become {"0":…} objects and "__proto__" keys vanish.
func normalize(v any) any {
	switch v := v.(type) {
	case []any:
		m := make(map[string]any, len(v))
		for i, x := range v {
			m[strconv.Itoa(i)] = normalize(x)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			if k != "__proto__" {
				m[k] = normalize(x)
			}
		}
		return m
	}
	return v
}

func FuzzVerify(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add([]byte(v.Body), v.Secret)
	}
	for _, cs := range [][]canonCase{numberCanonCases(), stringCases, orderCases} {
		for _, c := range cs {
			f.Add([]byte(c.body), "s")
		}
	}
	f.Add([]byte(`{"a":[1,{"b":"\ud800"}]} `), " key ")
	f.Add([]byte("{\"a\":\"\xff\"}"), "k")
	f.Add([]byte(`[]`), "k")
	f.Fuzz(func(t *testing.T, body []byte, secret string) {
		canon, cerr := Canonicalize(body)
		sig, serr := Sign(secret, body)
		if cerr != nil {
			if !errors.Is(cerr, ErrMalformedBody) {
				t.Fatalf("Canonicalize error %v does not wrap ErrMalformedBody", cerr)
			}
			if serr == nil {
				t.Fatalf("Sign succeeded on a body Canonicalize rejects")
			}
			if strings.TrimSpace(secret) != "" {
				if err := Verify(secret, body, strings.Repeat("ab", 64)); !errors.Is(err, ErrMalformedBody) {
					t.Fatalf("Verify on malformed body = %v", err)
				}
			}
			// Anything JSON.parse accepts as an object must be accepted,
			// unless it is not UTF-8 or too deep.
			if json.Valid(body) && utf8.Valid(body) && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("{")) &&
				!strings.Contains(cerr.Error(), "nesting deeper") {
				t.Fatalf("rejected valid JSON object %q: %v", body, cerr)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if !json.Valid(canon) || !utf8.Valid(canon) {
			t.Fatalf("canonical form %q is not valid UTF-8 JSON", canon)
		}
		again, err := Canonicalize(canon)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("not idempotent: %q → %q, %v", canon, again, err)
		}
		// Same data as encoding/json sees it (which maps lone surrogates to
		// U+FFFD on both sides and cannot represent 1e400: skip those).
		// Lone surrogates (\udxxx in canon) are skipped too: distinct keys
		// may collapse into one U+FFFD key there.
		var orig, back any
		if !bytes.Contains(canon, []byte(`\ud`)) && json.Unmarshal(body, &orig) == nil {
			if err := json.Unmarshal(canon, &back); err != nil {
				t.Fatalf("canonical %q does not decode: %v", canon, err)
			}
			if !reflect.DeepEqual(normalize(orig), back) {
				t.Fatalf("canonical form changed the data:\nbody  %q\ncanon %q", body, canon)
			}
		}
		if strings.TrimSpace(secret) == "" {
			if !errors.Is(serr, ErrSecretMissing) {
				t.Fatalf("Sign(blank secret) = %v", serr)
			}
			return
		}
		if serr != nil {
			t.Fatalf("Sign: %v", serr)
		}
		if sig != hmacHex(strings.TrimSpace(secret), canon) {
			t.Fatalf("Sign is not HMAC of the canonical form")
		}
		for _, s := range []string{sig, strings.ToUpper(sig)} {
			if err := Verify(secret, body, s); err != nil {
				t.Fatalf("Verify(Sign(body)) = %v", err)
			}
		}
		if err := Verify(secret, canon, sig); err != nil {
			t.Fatalf("Verify(canonical) = %v", err)
		}
		if err := Verify(secret+"x", body, sig); !errors.Is(err, ErrSignatureInvalid) {
			t.Fatalf("Verify(wrong secret) = %v", err)
		}
	})
}
