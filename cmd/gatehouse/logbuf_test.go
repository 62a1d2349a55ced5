package main

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
)

type lockedBuffer = testkit.SyncBuffer

// TestBufferedWriterFlushes runs in a synctest bubble, so the flush
// interval passes on the fake clock: the line is not out one nanosecond
// before the interval and is out at it, with no real waiting or polling.
func TestBufferedWriterFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const every = 20 * time.Millisecond
		var out lockedBuffer
		b := newBufferedWriter(&out, every)
		_, _ = b.Write([]byte("one\n"))
		time.Sleep(every - time.Nanosecond)
		synctest.Wait()
		if out.String() != "" {
			t.Fatal("written out before the flush interval: not buffered")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait() // the flusher has run its tick
		if out.String() != "one\n" {
			t.Fatalf("after the flush interval: %q, want the line", out.String())
		}
		_, _ = b.Write([]byte("two\n"))
		_ = b.Close()
		if out.String() != "one\ntwo\n" {
			t.Fatalf("after Close: %q", out.String())
		}
	})
}
