package domain_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/keyward/keyward/domain"
)

// TestCanonicalKeyTextSpellingsOfOneKey: every spelling the issue found
// sold twice, and the other separators and invisibles a key arrives with,
// share one canonical form.
func TestCanonicalKeyTextSpellingsOfOneKey(t *testing.T) {
	t.Parallel()
	const want = "w11pcasetest0001"
	for name, key := range map[string]string{
		"as printed":                 "W11P-CASE-TEST-0001",
		"lower case":                 "w11p-case-test-0001",
		"mixed case":                 "W11p-CaSe-TeSt-0001",
		"without dashes":             "W11PCASETEST0001",
		"zero-width space":           "W11P-\u200bCASE-TEST-0001",
		"zero-width joiners":         "W11P\u200c-CASE\u200d-TEST\u2060-0001",
		"byte order mark":            "\ufeffW11P-CASE-TEST-0001",
		"soft hyphen":                "W11P\u00adCASE-TEST-0001",
		"bidi marks":                 "\u202eW11P-CASE-TEST-0001\u202c",
		"variation selector":         "W11P-CASE\ufe0f-TEST-0001",
		"spaces":                     "W11P CASE TEST 0001",
		"no-break and thin spaces":   "W11P\u00a0CASE\u2009TEST\u3000 0001",
		"underscores":                "W11P_CASE_TEST_0001",
		"dots":                       "W11P.CASE.TEST.0001",
		"middle dots":                "W11P\u00b7CASE\u30fbTEST\u2022 0001",
		"en and em dashes":           "W11P\u2013CASE\u2014TEST\u2012 0001",
		"minus sign and hyphen":      "W11P\u2212CASE\u2010TEST\u2011 0001",
		"fullwidth letters":          "\uff37\uff11\uff11\uff30-CASE-TEST-0001",
		"fullwidth hyphen-minus":     "W11P\uff0dCASE\uff0dTEST\uff0d0001",
		"circled digits (NFKC)":      "W\u2460\u2460P-CASE-TEST-0001",
		"small dash and low line":    "W11P\ufe63CASE\uff3fTEST-0001",
		"long s folds like s (case)": "W11P-CA\u017fE-TEST-0001",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CanonicalKeyText(key)
			if err != nil || got != want {
				t.Fatalf("CanonicalKeyText(%q) = %q, %v; want %q", key, got, err, want)
			}
		})
	}
}

// TestCanonicalKeyTextKeepsWhatTellsKeysApart: characters that make a
// key another key stay, and a composed letter equals its decomposed
// spelling.
func TestCanonicalKeyTextKeepsWhatTellsKeysApart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ key, want string }{
		{"ABC/DEF+GH==", "abc/def+gh=="},
		{"KEY:1,2", "key:1,2"},
		{"CAF\u00c9-01", "caf\u00e901"},
		{"CAFE\u0301-01", "caf\u00e901"},
		{"CAFE\u200b\u0301-01", "caf\u00e901"}, // the invisible does not keep the accent apart
		{"STRASSE", "strasse"},
		{"STRA\u00dfE", "strasse"},
	} {
		got, err := domain.CanonicalKeyText(tc.key)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalKeyText(%q) = %q, %v; want %q", tc.key, got, err, tc.want)
		}
	}
}

// TestCanonicalKeyTextRefuses: a control character anywhere, text that is
// not UTF-8 and a key of nothing but separators are refused, and the
// error never repeats the key.
func TestCanonicalKeyTextRefuses(t *testing.T) {
	t.Parallel()
	for name, key := range map[string]string{
		"NUL inside":          "W11P-CASE\x00-TEST-0001",
		"NUL at the end":      "W11P-CASE-TEST-0001\x00",
		"escape":              "W11P-\x1b[31mCASE-TEST-0001",
		"delete":              "W11P-CASE-TEST-0001\x7f",
		"C1 control":          "W11P-CASE-\u0085TEST-0001",
		"tab inside":          "W11P-CASE\tTEST-0001",
		"line break inside":   "W11P-CASE\nTEST-0001",
		"not UTF-8":           "W11P-CASE-TEST-\xff0001",
		"empty":               "",
		"only separators":     " - _ . \u2014 ",
		"only invisibles":     "\u200b\u200d\ufeff",
		"separators and ZWSP": "-\u200b-",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.CanonicalKeyText(key)
			if !errors.Is(err, domain.ErrInvalidKeyText) || got != "" {
				t.Fatalf("CanonicalKeyText(%q) = %q, %v; want ErrInvalidKeyText", key, got, err)
			}
			if strings.Contains(err.Error(), "W11P") || strings.Contains(err.Error(), "CASE") {
				t.Fatalf("error %q repeats the key", err)
			}
		})
	}
}
