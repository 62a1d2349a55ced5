package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/store/sqlite"
)

// BenchmarkUseOnce is one single-use mark (a DPoP proof's or a client
// assertion's jti): what a request pays for single use across instances.
func BenchmarkUseOnce(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "o.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	i := 0
	for b.Loop() {
		i++
		if err := st.UseOnce(context.Background(), "dpop:"+strconv.Itoa(i), now.Add(time.Minute), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUseOnceParallel is the same at 32 concurrent requests, where
// marks share commits (marks.go).
func BenchmarkUseOnceParallel(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "o.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	var n atomic.Int64
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := st.UseOnce(context.Background(), "dpop:"+strconv.FormatInt(n.Add(1), 10), now.Add(time.Minute), now); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
