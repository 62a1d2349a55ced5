package main

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/gatehouse/gatehouse", Version: "v0.3.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "35520ba0000000000000000000000000000000aa"},
			{Key: "vcs.time", Value: "2026-12-04T16:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	// What CI builds: -buildvcs=false leaves no vcs.* settings, and a
	// build inside the repository has the version "(devel)".
	unstamped := &debug.BuildInfo{
		GoVersion: "go1.26.0",
		Main:      debug.Module{Path: "github.com/gatehouse/gatehouse", Version: "(devel)"},
	}
	for _, tc := range []struct {
		name    string
		ldflags string
		info    *debug.BuildInfo
		want    string
	}{
		{"go install with VCS", "dev", stamped,
			"gatehouse v0.3.0 revision 35520ba0000000000000000000000000000000aa 2026-12-04T16:00:00Z modified go1.26.0"},
		{"-buildvcs=false", "dev", unstamped, "gatehouse (devel) (no VCS revision recorded) go1.26.0"},
		{"ldflags wins", "v1.0.0-rc1", unstamped, "gatehouse v1.0.0-rc1 (no VCS revision recorded) go1.26.0"},
		{"no build info", "dev", nil, "gatehouse (devel) (no VCS revision recorded)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := versionLine(tc.ldflags, tc.info); got != tc.want {
				t.Errorf("versionLine = %q\nwant          %q", got, tc.want)
			}
		})
	}
}

// The command itself runs on the test binary's own build info, whatever
// it holds, and must print one line naming the product.
func TestVersionCommand(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out, &out, func(string) (string, bool) { return "", false })
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.HasPrefix(s, "gatehouse ") || strings.Count(s, "\n") != 1 {
		t.Errorf("version printed %q", s)
	}
}
