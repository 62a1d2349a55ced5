package config

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/internal/tlsfiles/tlstest"
)

// tlsFiles writes a valid pair and a certificate of another key into a
// temporary directory.
func tlsFiles(t *testing.T) (certFile, keyFile, otherCert string) {
	t.Helper()
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	certPEM, keyPEM := ca.Issue(t, "gatehouse")
	certFile, keyFile = tlstest.WriteFiles(t, dir, certPEM, keyPEM)
	other, _ := ca.Issue(t, "other")
	otherCert = filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherCert, other, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, otherCert
}

func TestTLSAccepted(t *testing.T) {
	certFile, keyFile, _ := tlsFiles(t)
	src := head + "tls:\n  cert_file: ${CERT}\n  key_file: " + keyFile + "\n"
	cfg := mustParse(t, src, mapEnv(map[string]string{"CERT": certFile}))
	if cfg.TLS == nil || cfg.TLS.CertFile != certFile || cfg.TLS.KeyFile != keyFile || cfg.TLS.Line != 3 {
		t.Fatalf("tls = %+v", cfg.TLS)
	}
	if err := cfg.CheckTLSFiles(); err != nil {
		t.Fatal(err)
	}
	// No tls:, or an empty one, is plain HTTP.
	for _, src := range []string{head, head + "tls:\n"} {
		cfg := mustParse(t, src, noEnv)
		if cfg.TLS != nil {
			t.Errorf("%q: tls = %+v", src, cfg.TLS)
		}
		if err := cfg.CheckTLSFiles(); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestTLSRejected(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no key_file", head + "tls: {cert_file: a.pem} " + mark, "tls has a cert_file but no key_file"},
		{"no cert_file", head + "tls:\n  key_file: a.key " + mark, "tls has a key_file but no cert_file"},
		{"empty mapping", head + "tls: {} " + mark, "neither cert_file nor key_file"},
		{"not a mapping", head + "tls: a.pem " + mark, "tls must be a mapping of cert_file and key_file"},
		{"unknown key", head + "tls:\n  cert_file: a\n  key_fle: b " + mark, `unknown key "key_fle" in tls (did you mean "key_file"?)`},
		{"http issuer", "issuer: http://127.0.0.1:8080 " + mark + "\ntls: {cert_file: a, key_file: b}", `issuer "http://127.0.0.1:8080" is http:// but tls is set`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "test.yaml", noEnv)
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.src)
			}
			ps := problems(t, err)
			if len(ps) != 1 {
				t.Fatalf("want one problem, got %v", err)
			}
			if got := ps[0].Message + " (" + ps[0].Hint + ")"; !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if want := markedLine(tc.src); ps[0].Line != want {
				t.Errorf("line %d, want %d", ps[0].Line, want)
			}
		})
	}
}

// TestTLSFiles: the files are checked after Parse, at the lines naming them.
func TestTLSFiles(t *testing.T) {
	certFile, keyFile, otherCert := tlsFiles(t)
	unreadable := filepath.Join(t.TempDir(), "unreadable.pem")
	if err := os.WriteFile(unreadable, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		cert, key  string
		line       int
		want       string
		needNoRoot bool
	}{
		{"missing cert", certFile + ".missing", keyFile, 3, "tls cert_file cannot be read", false},
		{"missing key", certFile, keyFile + ".missing", 4, "tls key_file cannot be read", false},
		{"unreadable key", certFile, unreadable, 4, "tls key_file cannot be read", true},
		{"mismatched pair", otherCert, keyFile, 3, "are not a certificate and its key", false},
		{"key as cert", keyFile, keyFile, 3, "are not a certificate and its key", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.needNoRoot && (runtime.GOOS == "windows" || os.Geteuid() == 0) {
				t.Skip("file permissions do not stop this user")
			}
			src := head + "tls:\n  cert_file: " + tc.cert + "\n  key_file: " + tc.key + "\n"
			cfg := mustParse(t, src, noEnv)
			err := cfg.CheckTLSFiles()
			if err == nil {
				t.Fatal("accepted")
			}
			ps := problems(t, err)
			if len(ps) != 1 || ps[0].Line != tc.line || !strings.Contains(ps[0].Message, tc.want) {
				t.Errorf("got %v, want one problem at line %d: %q", err, tc.line, tc.want)
			}
		})
	}
}
