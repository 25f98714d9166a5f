package application

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// BenchmarkSealOpen measures sealing and opening one key under an order's
// data key: a text key (29 bytes) and an image key (64 KiB).
func BenchmarkSealOpen(b *testing.B) {
	raw := make([]byte, 32)
	rand.Read(raw)
	for _, size := range []int{29, 64 << 10} {
		plaintext := bytes.Repeat([]byte("K"), size)
		b.Run(map[int]string{29: "text", 64 << 10: "image"}[size], func(b *testing.B) {
			key, err := newOrderKey("0190f3a5-0000-7000-8000-000000000001", append([]byte(nil), raw...))
			if err != nil {
				b.Fatal(err)
			}
			defer key.Close()
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				sealed := key.seal("item-1", 0, plaintext)
				if _, err := key.open("item-1", 0, sealed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewToken measures making a link or access token.
func BenchmarkNewToken(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = newToken()
	}
}
