package domain

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalidKeyText: a text key that cannot be sold as it is (not UTF-8,
// holding a control character, or nothing but separators).
var ErrInvalidKeyText = errors.New("invalid key text")

// CanonicalKeyText returns the form two spellings of one text key share,
// so that a key is stocked, and sold, once however it was typed: Unicode
// NFKC, case-folded, without invisible characters (format characters such
// as U+200B or U+FEFF, variation selectors, other default-ignorables) and
// without separators: white space, dashes and hyphens of every kind,
// connector punctuation (underscores) and the dots people group keys with
// (full stop, middle dots, bullets). Slashes, plus signs, colons and other
// punctuation stay: they carry meaning in keys (base64, URLs) and a key
// that differs only by one of them is another key.
//
// It returns ErrInvalidKeyText for text that is not UTF-8, that holds a
// control character (NUL, ESC, DEL, C1 controls, tabs and line breaks
// inside the key: callers trim the text first), or that is empty once
// canonical. Its errors name code points, never the key.
func CanonicalKeyText(key string) (string, error) {
	if !utf8.ValidString(key) {
		return "", fmt.Errorf("%w: not UTF-8 text", ErrInvalidKeyText)
	}
	for _, r := range key {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: it holds the control character %U", ErrInvalidKeyText, r)
		}
	}
	// Invisibles go before normalising too: one between a letter and its
	// combining mark would keep the two from composing.
	s := strings.Map(dropInvisible, key)
	s = norm.NFKC.String(cases.Fold().String(norm.NFKC.String(s)))
	s = strings.Map(dropSeparator, strings.Map(dropInvisible, s))
	if s == "" {
		return "", fmt.Errorf("%w: nothing but separators and invisible characters", ErrInvalidKeyText)
	}
	return s, nil
}

func dropInvisible(r rune) rune {
	if unicode.In(r, unicode.Cf, unicode.Variation_Selector, unicode.Other_Default_Ignorable_Code_Point) {
		return -1
	}
	return r
}

// keyDots are the dots that group a key's characters.
const keyDots = ".\u00b7\u2022\u2027\u2219\u30fb\u3002\uff61"

func dropSeparator(r rune) rune {
	if unicode.In(r, unicode.White_Space, unicode.Dash, unicode.Hyphen, unicode.Pd, unicode.Pc) || strings.ContainsRune(keyDots, r) {
		return -1
	}
	return r
}
