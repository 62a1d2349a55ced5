package server_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the integrity check opens the file directly

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/internal/testkit/pgtest"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/postgres"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// TestMain lets this test binary double as a Gatehouse process that the
// crash test can kill with SIGKILL: no separate build needed.
func TestMain(m *testing.M) {
	if addr := os.Getenv("GATEHOUSE_CRASH_CHILD_ADDR"); addr != "" {
		if err := runChild(addr, os.Getenv("GATEHOUSE_CRASH_CHILD_STORAGE")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

func openAny(ctx context.Context, storage string) (store.Store, error) {
	if strings.HasPrefix(storage, "postgres") {
		return postgres.Open(ctx, storage)
	}
	return sqlite.Open(ctx, strings.TrimPrefix(storage, "sqlite:"))
}

func runChild(addr, storage string) error {
	ctx := context.Background()
	st, err := openAny(ctx, storage)
	if err != nil {
		return err
	}
	ring, err := keys.Open(ctx, st, keys.Options{Alg: "ES256", Secret: strings.Repeat("k", 32), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	cfg, err := testConfigFor("http://" + addr)
	if err != nil {
		return err
	}
	s, err := server.New(server.Options{Config: cfg, Keys: ring, Store: st})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Println("ready")
	return http.Serve(ln, s.Handler())
}

type child struct {
	cmd  *exec.Cmd
	base string
}

func startChild(t *testing.T, addr, storage string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GATEHOUSE_CRASH_CHILD_ADDR="+addr, "GATEHOUSE_CRASH_CHILD_STORAGE="+storage)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	// The child prints "ready" once it listens, so waiting for that line
	// is waiting for the event itself rather than polling the port; an
	// exit before it (EOF) fails at once instead of at the deadline.
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "ready" {
				ready <- nil
				_, _ = io.Copy(io.Discard, out) // until the child exits
				return
			}
		}
		ready <- fmt.Errorf("child exited before listening (%v)", sc.Err())
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("child did not start within 20s")
	}
	return &child{cmd: cmd, base: "http://" + addr}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestCrashDuringRefreshLoad kills a Gatehouse process with SIGKILL while
// clients rotate refresh tokens as fast as they can, restarts it on the
// same store, and checks that no refresh token a client received was lost:
// every client's latest token is usable, or — when its last request was
// cut off by the kill — was rotated by that very request. The store must
// pass an integrity check.
func TestCrashDuringRefreshLoad(t *testing.T) {
	testkit.SkipShort(t, "the crash test (a subprocess killed under load)")
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "crash.db")
		crashTest(t, "sqlite:"+path, func(t *testing.T) {
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var res string
			if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
				t.Fatalf("integrity_check: %q %v", res, err)
			}
		})
	})
	t.Run("postgres", func(t *testing.T) {
		crashTest(t, pgtest.Schema(t), func(*testing.T) {})
	})
}

func crashTest(t *testing.T, storage string, integrity func(*testing.T)) {
	addr := freeAddr(t)
	c := startChild(t, addr, storage)
	e := &env{srv: &httptest.Server{URL: c.base}}

	// Clients, each with a refresh token from a real sign-in.
	const clients = 6
	tokens := make([]string, clients)
	for i := range tokens {
		cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid", "offline_access")
		code := signIn(t, e, newBrowser(t), cfg, "s", "n", "", i == 0)
		tok, err := cfg.Exchange(context.Background(), code)
		if err != nil {
			t.Fatal(err)
		}
		tokens[i] = tok.RefreshToken
	}

	// Rotate as fast as possible until the process dies.
	type last struct {
		token    string // the latest refresh token this client received
		inFlight bool   // its last request got no answer
	}
	results := make([]last, clients)
	var wg sync.WaitGroup
	var rotations sync.Map
	// The kill comes once every client has rotated warmRotations times,
	// so that all of them are mid-loop with requests in flight, however
	// fast or slow the machine: a fixed sleep is too short on a loaded CI
	// runner and needlessly long elsewhere. A client that stops early
	// counts as warm, so the wait cannot hang on it.
	const warmRotations = 25
	var warm sync.WaitGroup
	warm.Add(clients)
	hc := &http.Client{Timeout: 5 * time.Second}
	for i := range clients {
		wg.Go(func() {
			warmed := false
			defer func() {
				if !warmed {
					warm.Done()
				}
			}()
			cur := tokens[i]
			for n := 0; ; n++ {
				if n == warmRotations {
					warmed = true
					warm.Done()
				}
				form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cur}}
				req, _ := http.NewRequest("POST", c.base+"/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", basic("web-portal", "web-portal-secret-123"))
				resp, err := hc.Do(req)
				if err != nil {
					results[i] = last{token: cur, inFlight: true}
					rotations.Store(i, n)
					return
				}
				var body struct {
					RefreshToken string `json:"refresh_token"`
					Error        string `json:"error"`
				}
				err = jsonDecode(resp, &body)
				if err != nil || body.RefreshToken == "" {
					// A cut-off body counts as no answer too.
					results[i] = last{token: cur, inFlight: true}
					rotations.Store(i, n)
					if body.Error != "" {
						t.Errorf("client %d: refresh refused before the crash: %s", i, body.Error)
					}
					return
				}
				cur = body.RefreshToken
			}
		})
	}
	warmedUp := make(chan struct{})
	go func() { warm.Wait(); close(warmedUp) }()
	select {
	case <-warmedUp:
	case <-time.After(30 * time.Second):
		// Kill anyway, so that the clients stop; the load check below
		// says whether what ran is enough.
		t.Errorf("clients did not reach %d rotations each within 30s", warmRotations)
	}
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_, _ = c.cmd.Process.Wait()
	wg.Wait()
	total := 0
	rotations.Range(func(_, v any) bool { total += v.(int); return true })
	t.Logf("%d rotations before SIGKILL", total)
	if total < clients {
		t.Fatalf("load too light to mean anything: %d rotations", total)
	}

	integrity(t)
	st, err := openAny(context.Background(), storage)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c = startChild(t, addr, storage)
	for i, r := range results {
		rt, fam, err := st.GetRefresh(context.Background(), issue.HashOpaque(r.token))
		if err != nil {
			t.Errorf("client %d: its latest refresh token is gone from the store: %v", i, err)
			continue
		}
		if !fam.RevokedAt.IsZero() {
			t.Errorf("client %d: family revoked by the crash", i)
			continue
		}
		if !rt.RotatedAt.IsZero() {
			if !r.inFlight {
				t.Errorf("client %d: a token it received was rotated without its knowledge", i)
			}
			continue // rotated by the request the kill cut off: legitimate
		}
		got := refresh(t, e, "web-portal", "web-portal-secret-123", r.token, nil)
		if got["refresh_token"] == nil {
			t.Errorf("client %d: its latest token is not usable after the restart: %v", i, got)
		}
	}

}

func jsonDecode(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
