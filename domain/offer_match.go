package domain

import (
	"strings"
	"unicode"
)

// OfferKey is what two suppliers' offers of one game share once their
// words are normalised: title, platform and region.
type OfferKey struct {
	Title    string
	Platform string
	Region   string
}

// fillerWords are dropped from titles: how sellers dress a listing up, not
// which game it is.
var fillerWords = map[string]bool{
	"cd": true, "key": true, "keys": true, "code": true, "digital": true, "download": true, "pc": true,
	"global": true, "worldwide": true, "region": true, "free": true, "eu": true, "row": true,
	"steam": true, "gog": true, "com": true, "origin": true, "uplay": true, "account": true,
}

// platformAliases names each platform one way.
var platformAliases = map[string]string{
	"gogcom": "gog", "gog": "gog", "steam": "steam",
	"uplay": "ubisoft", "ubisoftconnect": "ubisoft", "ubisoft": "ubisoft",
	"origin": "ea", "eaapp": "ea", "ea": "ea",
	"battlenet": "battlenet", "battlenetcom": "battlenet",
	"xbox": "xbox", "xboxlive": "xbox", "xboxone": "xbox", "xboxseriesxs": "xbox",
	"psn": "playstation", "playstation": "playstation", "playstationnetwork": "playstation",
	"nintendo": "nintendo", "nintendoeshop": "nintendo", "eshop": "nintendo",
	"epic": "epic", "epicgames": "epic", "epicgamesstore": "epic",
	"rockstar": "rockstar", "rockstargameslauncher": "rockstar",
	"windows": "windows", "microsoft": "windows",
}

// regionAliases names each region one way: Kinguin's "Region free" and
// CodesWholesale's "WORLDWIDE" are one region.
var regionAliases = map[string]string{
	"regionfree": "global", "worldwide": "global", "global": "global", "ww": "global", "world": "global",
	"eu": "eu", "europe": "eu", "europeanunion": "eu",
	"us": "us", "usa": "us", "unitedstates": "us",
	"uk": "uk", "unitedkingdom": "uk", "gb": "uk",
}

// words returns s in lower case, split on anything not a letter or digit.
func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

func alias(s string, aliases map[string]string) string {
	joined := strings.Join(words(s), "")
	if a, ok := aliases[joined]; ok {
		return a
	}
	return joined
}

// NormalTitle is a title without case, punctuation or filler words.
func NormalTitle(title string) string {
	var kept []string
	for _, w := range words(title) {
		if !fillerWords[w] {
			kept = append(kept, w)
		}
	}
	return strings.Join(kept, " ")
}

// Key returns the offer's normalised title, platform and region.
func (o Offer) Key() OfferKey {
	return OfferKey{Title: NormalTitle(o.Name), Platform: alias(o.Platform, platformAliases), Region: alias(o.Region, regionAliases)}
}

// MatchConfidence says how sure a match of two offers of one key is: 1
// when their titles differ only in case and punctuation, 0.8 when only
// once filler words ("CD Key", "Global" …) are dropped, 0 when their keys
// differ. A match is a suggestion: an admin confirms it.
func MatchConfidence(a, b Offer) float64 {
	if a.Key() != b.Key() || a.Key().Title == "" {
		return 0
	}
	if strings.Join(words(a.Name), " ") == strings.Join(words(b.Name), " ") {
		return 1
	}
	return 0.8
}
