package nowpayments

import (
	"encoding/json"
	"os"
	"testing"
)

// BenchmarkIPN measures the webhook's hot path on the documented vectors:
// canonicalising a body, checking its signature, and the whole verified
// read keyward does per notification.
func BenchmarkIPN(b *testing.B) {
	raw, err := os.ReadFile("testdata/nowpayments-ipn-vectors.json")
	if err != nil {
		b.Fatal(err)
	}
	var vectors []struct {
		Name, Secret, Body, Signature string
	}
	if err := json.Unmarshal(raw, &vectors); err != nil {
		b.Fatal(err)
	}
	body, secret, sig := []byte(vectors[2].Body), vectors[2].Secret, vectors[2].Signature
	b.Run("canonicalize", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Canonicalize(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if err := Verify(secret, body, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
	v := NewVerifier(secret)
	b.Run("verified-notice", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(body, sig); err != nil {
				b.Fatal(err)
			}
		}
	})
}
