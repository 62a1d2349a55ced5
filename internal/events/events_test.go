package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/internal/events"
)

// TestWriterOneLinePerEvent: concurrent events come out as whole JSON
// lines with the audit marker, and a hostile claimed id cannot add a line
// or a field.
func TestWriterOneLinePerEvent(t *testing.T) {
	var buf bytes.Buffer
	w := events.NewWriter(&buf)
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			w.Emit(context.Background(), events.Event{Type: events.ClientAuthFailure,
				ClientID: "evil\n{\"event\":\"forged\"}", Address: "192.0.2.1", Reason: "unknown_client"})
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("%d lines, want 50", len(lines))
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not JSON: %q: %v", l, err)
		}
		if m["stream"] != "audit" || m["event"] != events.ClientAuthFailure || m["client_id"] != "evil\n{\"event\":\"forged\"}" || m["time"] == nil {
			t.Fatalf("line %v", m)
		}
		if _, ok := m["username"]; ok {
			t.Fatalf("empty field written: %v", m)
		}
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("é", events.MaxClaimed) // 2 bytes each
	c := events.Clip(long)
	if len(c) > events.MaxClaimed || !utf8.ValidString(c) || !strings.HasPrefix(long, c) {
		t.Fatalf("clip: %d bytes, valid %v", len(c), utf8.ValidString(c))
	}
	if events.Clip("alice") != "alice" {
		t.Fatal("short value changed")
	}
}

func TestConfigReload(t *testing.T) {
	if e := events.ConfigReload(false, 3); e.Type != "config.reload" || e.Outcome != "rejected" || e.Problems != 3 {
		t.Fatalf("%+v", e)
	}
	if e := events.ConfigReload(true, 0); e.Outcome != "applied" {
		t.Fatalf("%+v", e)
	}
	events.OrDiscard(nil).Emit(context.Background(), events.Event{}) // must not panic
}
