package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyward/keyward/internal/testkit"
)

// BenchmarkSend measures what an email costs the process, CPU included
// (the kernel's share is most of it: each email creates one file), beside
// the bare creation of a file in the same kind of directory, the floor:
//
//	go test -run XXX -bench . ./adapters/maildir
func BenchmarkSend(b *testing.B) {
	b.Run("email", func(b *testing.B) {
		m, err := New(b.TempDir(), "keyward <keys@keyward.example>", nil)
		if err != nil {
			b.Fatal(err)
		}
		e := email("")
		cpu := testkit.ProcessCPU()
		b.ResetTimer()
		for i := range b.N {
			e.IdempotencyKey = fmt.Sprintf("bench/%d", i)
			if _, err := m.Send(context.Background(), e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(testkit.ProcessCPU()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
	})
	b.Run("file created", func(b *testing.B) {
		dir := b.TempDir()
		cpu := testkit.ProcessCPU()
		b.ResetTimer()
		for i := range b.N {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		b.ReportMetric(float64(testkit.ProcessCPU()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
	})
}
