package server_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/server"
	"github.com/gatehouse/gatehouse/store"
)

// fakeClock is one settable clock shared by several instances.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// instance starts another server of e's deployment (same configuration,
// issuer and key ring) over st, on its own loopback port, as a second
// process behind a load balancer would be.
func instance(t *testing.T, e *env, st store.Store, o server.Options) *env {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	o.Config, o.Keys, o.Store = parseTestConfig(t, e.srv.URL), e.ring, st
	s, err := server.New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/", s.Handler())
	return &env{srv: srv, store: e.store, ring: e.ring, server: s}
}

// tryLogin opens the login page on inst (prompt=login, so an earlier
// session does not skip it) and submits user and password there.
func tryLogin(b *browser, inst *env, user, password string) page {
	b.t.Helper()
	u := inst.srv.URL + "/authorize?" + url.Values{"client_id": {"web-portal"}, "redirect_uri": {"http://127.0.0.1:3000/callback"},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"s"}, "prompt": {"login"}}.Encode()
	return b.login(inst, b.get(u), user, password)
}

// signedIn reports whether p is what a successful sign-in to web-portal
// leads to: its consent page.
func signedIn(p page) bool {
	return p.status == 200 && strings.Contains(p.body, `name="decision"`)
}

// TestLoginLockoutAcrossInstances: the per-user lockout counts failures
// on every instance sharing the store, expires with its window, and is
// cleared by a successful sign-in.
func TestLoginLockoutAcrossInstances(t *testing.T) {
	e := start(t)
	clock := &fakeClock{t: time.Now()}
	a := instance(t, e, e.store, server.Options{Now: clock.Now})
	bInst := instance(t, e, e.store, server.Options{Now: clock.Now})
	br := newBrowser(t)
	fail := func(inst *env, user string, n int) {
		t.Helper()
		for i := range n {
			if r := tryLogin(br, inst, user, "wrong-password"); r.status != 401 || !strings.Contains(r.body, "Wrong username or password") {
				t.Fatalf("%s: wrong password %d: %d, want 401", user, i+1, r.status)
			}
		}
	}
	locked := func(inst *env, user, password, what string) {
		t.Helper()
		if r := tryLogin(br, inst, user, password); r.status != 429 || r.location != nil || signedIn(r) {
			t.Errorf("%s: %d %v, want the locked page (429)", what, r.status, r.location)
		}
	}
	works := func(inst *env, what string) {
		t.Helper()
		if r := tryLogin(br, inst, "alice", "alice-password-1"); !signedIn(r) {
			t.Fatalf("%s: %d %v, want signed in (the consent page)", what, r.status, r.location)
		}
	}

	// Each instance alone allows 5 tries; together they have had 5.
	fail(a, "alice", 3)
	fail(bInst, "alice", 2)
	locked(a, "alice", "alice-password-1", "right password on A after 3+2 failures")
	locked(bInst, "alice", "alice-password-1", "right password on B after 3+2 failures")
	// An unknown username is locked the same way, so the lock does not
	// tell which users exist.
	fail(a, "mallory", 3)
	fail(bInst, "mallory", 2)
	locked(a, "mallory", "whatever", "unknown user after 3+2 failures")

	// Still locked just inside the window, free after it.
	clock.Add(5*time.Minute - time.Second)
	locked(bInst, "alice", "alice-password-1", "right password just inside the window")
	clock.Add(2 * time.Second)
	works(bInst, "right password after the window")

	// A success clears the count: 4 + 4 failures around one success never
	// reach 5.
	fail(a, "alice", 2)
	fail(bInst, "alice", 2)
	works(a, "right password after 4 failures")
	fail(a, "alice", 2)
	fail(bInst, "alice", 2)
	works(bInst, "right password after a success and 4 more failures")
	// And the next failure counts from the success: 5 lock again.
	fail(a, "alice", 1)
	locked(a, "alice", "alice-password-1", "right password after 4+1 failures since the last success")
}

// throttleFailing makes the login-throttle methods of a store fail.
type throttleFailing struct {
	store.Store
	count, note, clear bool
}

var errDown = errors.New("database is down")

func (f *throttleFailing) LoginFailures(ctx context.Context, key string, since time.Time) (int, error) {
	if f.count {
		return 0, errDown
	}
	return f.Store.LoginFailures(ctx, key, since)
}

func (f *throttleFailing) NoteLoginFailure(ctx context.Context, key string, at time.Time) error {
	if f.note {
		return errDown
	}
	return f.Store.NoteLoginFailure(ctx, key, at)
}

func (f *throttleFailing) ClearLoginFailures(ctx context.Context, key string) error {
	if f.clear {
		return errDown
	}
	return f.Store.ClearLoginFailures(ctx, key)
}

// TestLoginThrottleStoreErrorFailsClosed: when the store cannot count,
// record or clear failures, the sign-in is refused (not let through
// unthrottled) and the error is logged.
func TestLoginThrottleStoreErrorFailsClosed(t *testing.T) {
	e := start(t)
	for _, tc := range []struct {
		name     string
		st       *throttleFailing
		password string
		// earlier failures: a success clears them (and writes nothing
		// when there are none).
		earlier bool
	}{
		{"count fails, right password", &throttleFailing{count: true}, "alice-password-1", false},
		{"count fails, wrong password", &throttleFailing{count: true}, "wrong-password", false},
		{"note fails, wrong password", &throttleFailing{note: true}, "wrong-password", false},
		{"clear fails, right password", &throttleFailing{clear: true}, "alice-password-1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.earlier {
				if err := e.store.NoteLoginFailure(context.Background(), server.LoginThrottleKey(e.srv.URL, "alice"), time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			var logs bytes.Buffer
			tc.st.Store = e.store
			inst := instance(t, e, tc.st, server.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			r := tryLogin(newBrowser(t), inst, "alice", tc.password)
			if r.status != 503 || r.location != nil || signedIn(r) || !strings.Contains(r.body, "Sign-in is unavailable") {
				t.Errorf("got %d %v, want the 503 error page", r.status, r.location)
			}
			if !strings.Contains(logs.String(), "login throttle") || !strings.Contains(logs.String(), "database is down") {
				t.Errorf("store error not logged: %q", logs.String())
			}
		})
	}
}
