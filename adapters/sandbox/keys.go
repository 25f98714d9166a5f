package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"strings"

	"github.com/keyward/keyward/ports"
)

// keyAlphabet has 32 symbols (no I, O, 0, 1), so one byte masked with 31
// picks a symbol without bias.
const keyAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// sandboxSecret is the fixed HMAC key every sandbox derives from; the seed
// varies it so differently seeded sandboxes issue different keys.
func sandboxSecret(seed int64) []byte {
	h := sha256.New()
	h.Write([]byte("keyward-sandbox-supplier-v1"))
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(seed)))
	return h.Sum(nil)
}

// derive is HMAC-SHA256(secret, parts joined by NUL).
func derive(secret []byte, parts ...string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(strings.Join(parts, "\x00")))
	return m.Sum(nil)
}

// symbols maps the first n bytes of sum onto keyAlphabet; n ≤ 32.
func symbols(sum []byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = keyAlphabet[sum[i]&31]
	}
	return string(b)
}

// issue derives the key in slot of the purchase made for externalID.
func (f keyFormat) issue(secret []byte, productID, externalID string, slot int) ports.SupplierKey {
	text := symbols(derive(secret, "key", productID, externalID, strconv.Itoa(slot)), f.length())
	var grouped []string
	for _, g := range f.groups {
		grouped = append(grouped, text[:g])
		text = text[g:]
	}
	serial := strings.Join(grouped, "-")
	if f.image {
		return ports.SupplierKey{ContentType: "image/png", Data: renderPNG(serial)}
	}
	return ports.SupplierKey{ContentType: "text/plain", Data: []byte(serial)}
}

func (f keyFormat) length() int {
	n := 0
	for _, g := range f.groups {
		n += g
	}
	return n
}

// renderPNG draws text in the 5×7 glyphs of font.go, black on white.
func renderPNG(text string) []byte {
	const scale, margin, advance = 4, 12, glyphWidth + 1
	w := 2*margin + len(text)*advance*scale
	h := 2*margin + glyphHeight*scale
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for i, r := range text {
		g := glyphs[r]
		for y, row := range g {
			for x := range row {
				if row[x] != '#' {
					continue
				}
				x0, y0 := margin+(i*advance+x)*scale, margin+y*scale
				for dy := range scale {
					for dx := range scale {
						img.SetGray(x0+dx, y0+dy, color.Gray{})
					}
				}
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic("sandbox: encode PNG in memory: " + err.Error()) // cannot fail for a Gray image and a bytes.Buffer
	}
	return buf.Bytes()
}
