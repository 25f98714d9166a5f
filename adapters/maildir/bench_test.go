package maildir

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var u syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
		return 0
	}
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

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
		cpu := processCPU()
		b.ResetTimer()
		for i := range b.N {
			e.IdempotencyKey = fmt.Sprintf("bench/%d", i)
			if _, err := m.Send(context.Background(), e); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
	})
	b.Run("file created", func(b *testing.B) {
		dir := b.TempDir()
		cpu := processCPU()
		b.ResetTimer()
		for i := range b.N {
			f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N)/1e3, "cpu-µs/op")
	})
}
