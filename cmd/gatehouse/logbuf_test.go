package main

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBufferedWriterFlushes(t *testing.T) {
	var out lockedBuffer
	b := newBufferedWriter(&out, 20*time.Millisecond)
	_, _ = b.Write([]byte("one\n"))
	if out.String() != "" {
		t.Fatal("written through at once: not buffered")
	}
	deadline := time.Now().Add(2 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatal("not flushed by the timer")
		}
		time.Sleep(5 * time.Millisecond)
	}
	_, _ = b.Write([]byte("two\n"))
	_ = b.Close()
	if out.String() != "one\ntwo\n" {
		t.Fatalf("after Close: %q", out.String())
	}
}
