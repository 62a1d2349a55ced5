package sqlite_test

import (
	"context"
	"path/filepath"
	"strconv"
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
