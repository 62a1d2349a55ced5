package server_test

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse/gatehouse/config"
	"github.com/gatehouse/gatehouse/internal/testkit"
)

// Timing oracles (issue 9, item 4). A refused sign-in or client
// authentication must take the same time whether the name is unknown or
// known, whatever hash kind and parameters the known one's secret uses.
//
// How it is measured: timingTries (31) refusals per side, the sides
// interleaved so that machine noise hits them alike; the median of each
// side is compared with the slowest side's. Tolerance: every median within
// timingTolerance (25%) of the largest. Before the fix an unknown username
// cost one argon2id hash with default parameters (~30 ms here) while a
// bcrypt cost-10 user cost ~60 ms and an argon2id m=32 MiB,t=3 user ~80
// ms (ratios 2-3x); an unknown client id cost a SHA-256 (~µs) against
// ~60 ms for a bcrypt client. The figures are logged and recorded in
// bench/README.md.
const (
	timingTries     = 31
	timingTolerance = 0.25
)

// slowArgon2 is an argon2id PHC string with other parameters than the
// default ones (32 MiB, 3 passes).
func slowArgon2(t *testing.T, password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	h := argon2.IDKey([]byte(password), salt, 3, 32768, 1, 32)
	return fmt.Sprintf("$argon2id$v=19$m=32768,t=3,p=1$%s$%s",
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(h))
}

func bcrypt10(t *testing.T, password string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(password), 10)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// timeSides runs try for every side timingTries times, interleaved, and
// returns each side's median.
func timeSides(t *testing.T, sides []string, try func(side string, i int)) map[string]time.Duration {
	t.Helper()
	d := map[string][]time.Duration{}
	for i := range timingTries {
		for _, side := range sides {
			started := time.Now()
			try(side, i)
			d[side] = append(d[side], time.Since(started))
		}
	}
	med := map[string]time.Duration{}
	var slowest time.Duration
	for side, ds := range d {
		slices.Sort(ds)
		med[side] = ds[len(ds)/2]
		slowest = max(slowest, med[side])
	}
	for _, side := range sides {
		t.Logf("median %-28s %v", side, med[side].Round(100*time.Microsecond))
		if float64(slowest-med[side]) > timingTolerance*float64(slowest) {
			t.Errorf("a refusal for %s takes %v, the slowest side %v: more than %.0f%% apart, a timing oracle",
				side, med[side], slowest, 100*timingTolerance)
		}
	}
	return med
}

func skipTiming(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing measurement: not under -short or -race")
	}
}

func TestLoginRefusalsTakeOneTime(t *testing.T) {
	skipTiming(t)
	clock := testkit.NewClock(time.Now())
	e := startAt(t, clock.Now, func(c *config.Config) {
		c.Users = append(c.Users,
			config.User{Username: "carol", PasswordHash: bcrypt10(t, "carol-password-1")},
			config.User{Username: "dave", PasswordHash: slowArgon2(t, "dave-password-12")})
	})
	cfg := oauthConfig(e, "web-portal", "web-portal-secret-123", "http://127.0.0.1:3000/callback", "openid")
	b := newBrowser(t)
	verifier, _ := pkce()
	form := hiddenFields(b.get(authURL(cfg, "s", verifier)).body)
	sides := []string{"unknown user", "alice (argon2id default)", "carol (bcrypt 10)", "dave (argon2id 32M/t3)"}
	timeSides(t, sides, func(side string, i int) {
		// Ten minutes on between tries: no lockout gets in the way.
		clock.Advance(10 * time.Minute)
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		name := strings.Fields(side)[0]
		if name == "unknown" {
			name = fmt.Sprintf("nobody-%d", i)
		}
		f.Set("username", name)
		f.Set("password", "wrong-password-123")
		if p := b.post(e.srv.URL+"/authorize", f); p.status != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", side, p.status)
		}
	})
}

func TestClientAuthRefusalsTakeOneTime(t *testing.T) {
	skipTiming(t)
	clock := testkit.NewClock(time.Now())
	e := startAt(t, clock.Now, func(c *config.Config) {
		c.Clients = append(c.Clients,
			config.Client{ID: "bcrypt-job", Secret: bcrypt10(t, "bcrypt-job-secret-1"), GrantTypes: []string{"client_credentials"}},
			config.Client{ID: "argon-job", Secret: slowArgon2(t, "argon-job-secret-12"), GrantTypes: []string{"client_credentials"}})
	})
	sides := []string{"unknown client", "order-sync-job (plain)", "bcrypt-job (bcrypt 10)", "argon-job (argon2id 32M/t3)"}
	timeSides(t, sides, func(side string, i int) {
		clock.Advance(time.Minute) // the per-client throttle refills
		id := strings.Fields(side)[0]
		if id == "unknown" {
			id = fmt.Sprintf("nobody-%d", i)
		}
		resp := postForm(t, e, "/token", basic(id, "wrong-secret-1234"), url.Values{"grant_type": {"client_credentials"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", side, resp.StatusCode)
		}
	})
}
