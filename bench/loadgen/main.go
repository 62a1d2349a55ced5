// Command loadgen is a closed-loop load generator for the grants that
// ../shared/bench/token-load.sh cannot drive: refresh-token rotation (every
// request spends the token the previous answer returned) and requests
// spread round-robin over several Gatehouse instances, as a load balancer
// would. Loopback only. It is a measuring instrument, not part of the
// product.
//
//	go run ./bench/loadgen -mode refresh -targets http://127.0.0.1:18080 -c 32 -d 15s -pids 1234
//
// Each refresh worker first signs a user in through the real login page
// (authorization code + PKCE) to get its own refresh token family.
package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	mode := flag.String("mode", "refresh", "refresh | cc (client_credentials)")
	targets := flag.String("targets", "http://127.0.0.1:18080", "comma-separated instance base URLs (round-robin)")
	conc := flag.Int("c", 32, "concurrent connections (workers)")
	dur := flag.Duration("d", 15*time.Second, "measured duration")
	pids := flag.String("pids", "", "comma-separated server pids: report their CPU per request and peak RSS")
	clientID := flag.String("client", "bench-web", "client id")
	secret := flag.String("secret", "bench-web-secret-123456", "client secret")
	user := flag.String("user", "bench", "username (refresh mode)")
	password := flag.String("password", "bench-password", "password (refresh mode)")
	redirect := flag.String("redirect", "http://127.0.0.1:3000/callback", "registered redirect URI (refresh mode)")
	label := flag.String("label", "", "free text for the RESULT line")
	flag.Parse()
	urls := strings.Split(*targets, ",")
	if err := run(*mode, urls, *conc, *dur, *pids, *clientID, *secret, *user, *password, *redirect, *label); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(mode string, urls []string, conc int, dur time.Duration, pidList, clientID, secret, user, password, redirect, label string) error {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(clientID)+":"+url.QueryEscape(secret)))

	tokens := make([]string, conc)
	if mode == "refresh" {
		for i := range tokens {
			rt, err := signIn(urls[i%len(urls)], urls[0], clientID, basic, user, password, redirect)
			if err != nil {
				return fmt.Errorf("sign-in %d: %w", i, err)
			}
			tokens[i] = rt
		}
	}
	var pids []int
	for _, p := range strings.Split(pidList, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(p)); err == nil {
			pids = append(pids, n)
		}
	}

	var ok, failed atomic.Int64
	var rr atomic.Uint64
	lat := make([][]time.Duration, conc)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	cpu0 := cpuTicks(pids)
	start := time.Now()
	for w := range conc {
		wg.Go(func() {
			cur := tokens[w]
			for {
				select {
				case <-stop:
					return
				default:
				}
				target := urls[rr.Add(1)%uint64(len(urls))]
				form := url.Values{"grant_type": {"client_credentials"}}
				if mode == "refresh" {
					form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {cur}}
				}
				t0 := time.Now()
				next, err := tokenCall(hc, target+"/token", basic, form)
				lat[w] = append(lat[w], time.Since(t0))
				if err != nil {
					failed.Add(1)
					if mode == "refresh" {
						fmt.Fprintln(os.Stderr, "worker", w, "stopped:", err)
						return // the family may be revoked; do not hammer it
					}
					continue
				}
				ok.Add(1)
				if mode == "refresh" {
					cur = next
				}
			}
		})
	}
	time.Sleep(dur)
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	cpu1 := cpuTicks(pids)

	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(float64(len(all)-1)*p)].Microseconds()) / 1000
	}
	n := ok.Load()
	line := fmt.Sprintf("RESULT mode=%s instances=%d conc=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f ok=%d errors=%d",
		mode, len(urls), conc, float64(n)/elapsed.Seconds(), pct(0.5), pct(0.99), n, failed.Load())
	if len(pids) > 0 && n > 0 {
		line += fmt.Sprintf(" srv_cpu_ms_per_req=%.3f", float64(cpu1-cpu0)/100*1000/float64(n))
		var rss []string
		for _, p := range pids {
			rss = append(rss, peakRSS(p))
		}
		line += " peak_rss=" + strings.Join(rss, ",")
	}
	if label != "" {
		line += " label=" + label
	}
	fmt.Println(line)
	if failed.Load() > 0 {
		return errors.New("some requests failed")
	}
	return nil
}

func tokenCall(hc *http.Client, u, basic string, form url.Values) (string, error) {
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", basic)
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Error        string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", err
	}
	if resp.StatusCode != 200 || body.AccessToken == "" {
		return "", fmt.Errorf("status %d %s", resp.StatusCode, body.Error)
	}
	return body.RefreshToken, nil
}

var hidden = regexp.MustCompile(`name="(csrf_token|request_id)"[^>]*value="([^"]*)"`)

// signIn runs the authorization code flow with PKCE through the login form
// (the client must be first_party so no consent page appears).
func signIn(base, issuer, clientID, basic, user, password, redirect string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var b [32]byte
	_, _ = rand.Read(b[:])
	verifier := base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {clientID}, "redirect_uri": {redirect}, "response_type": {"code"},
		"scope": {"openid offline_access"}, "state": {"s"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	resp, err := c.Get(issuer + "/authorize?" + q.Encode())
	if err != nil {
		return "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {user}, "password": {password}}
	for _, m := range hidden.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	resp, err = c.PostForm(issuer+"/authorize", form)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		return "", fmt.Errorf("no code (status %d, location %q)", resp.StatusCode, resp.Header.Get("Location"))
	}
	return tokenCall(http.DefaultClient, base+"/token", basic, url.Values{"grant_type": {"authorization_code"},
		"code": {loc.Query().Get("code")}, "redirect_uri": {redirect}, "code_verifier": {verifier}})
}

// cpuTicks sums utime+stime (clock ticks, 100/s on Linux) of the pids.
func cpuTicks(pids []int) int64 {
	var total int64
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + k
	}
	return total
}

func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.Join(strings.Fields(l)[1:], "")
		}
	}
	return "?"
}
