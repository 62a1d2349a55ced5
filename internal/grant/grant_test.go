package grant

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/issue"
	"github.com/gatehouse/gatehouse/internal/keys"
	"github.com/gatehouse/gatehouse/internal/policy"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/store"
	"github.com/gatehouse/gatehouse/store/sqlite"
)

// The engine is tested through its methods over a real SQLite store and a
// real key ring: no HTTP, no mocks.

type people map[string]map[string]any

func (p people) Person(_ context.Context, s string, _ bool) (Person, error) {
	claims, ok := p[s]
	if !ok {
		return Person{}, ErrNoPerson
	}
	groups, _ := claims["groups"].([]string)
	return Person{Subject: s, Claims: claims, Groups: groups}, nil
}

type rig struct {
	e     *Engine
	st    store.Store
	clock *testkit.Clock
	users people
}

var clients = []Client{
	{ID: "portal", RedirectURIs: []string{"https://portal/cb"}, PKCERequired: true},
	{ID: "two-uris", RedirectURIs: []string{"https://a/cb", "https://b/cb"}, PKCERequired: true},
	{ID: "job"},
	{ID: "spa", RedirectURIs: []string{"https://spa/cb"}, PKCERequired: true, FirstParty: true},
	{ID: "orders"},
}

func newRig(t *testing.T) *rig { return newRigWith(t, clients) }

// newRigWith builds the rig over the given clients and only_groups rules.
func newRigWith(t *testing.T, clients []Client, rules ...policy.GroupRule) *rig {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "g.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := testkit.NewClock(time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC))
	ring, err := keys.Open(ctx, st, keys.Options{Clock: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	model := policy.New([]policy.Client{
		{ID: "portal", GrantTypes: []string{"authorization_code", "refresh_token"}, Audience: []string{"orders"},
			Scopes: []string{"openid", "email", "offline_access", "orders:read"}},
		{ID: "two-uris", GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}},
		{ID: "job", GrantTypes: []string{"client_credentials"}, Audience: []string{"orders"}, Scopes: []string{"orders:read"}},
		{ID: "spa", Public: true, GrantTypes: []string{"authorization_code", "client_credentials"}, Scopes: []string{"openid"}},
		{ID: "orders"},
	}, rules...)
	users := people{"alice": {"email": "alice@example.com"}}
	e := New(Options{Clients: clients, Model: model, Store: st, Users: users, RefreshTTL: time.Hour, Now: clock.Now,
		Minter: issue.New("https://issuer", 10*time.Minute, ring, clock.Now)})
	return &rig{e: e, st: st, clock: clock, users: users}
}

func (r *rig) client(id string) Client { return *r.e.Client(id) }

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"

// code stores a code for alice at the portal and returns it.
func (r *rig) code(t *testing.T, mod func(*store.AuthCode)) string {
	t.Helper()
	tok, hash, _ := issue.NewOpaque()
	now := r.clock.Now()
	c := store.AuthCode{Hash: hash, ClientID: "portal", RedirectURI: "https://portal/cb", CodeChallenge: challenge(verifier),
		CodeChallengeMethod: "S256", Nonce: "n", Subject: "alice", Scopes: []string{"openid", "email", "offline_access", "orders:read"},
		Audience: []string{"portal", "orders"}, AuthTime: now, SessionID: strings.Repeat("s", 64), CreatedAt: now, ExpiresAt: now.Add(CodeTTL)}
	if mod != nil {
		mod(&c)
	}
	if err := r.st.CreateCode(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return tok
}

func codeRequest(code string) TokenRequest {
	return TokenRequest{GrantType: oauth.GrantAuthorizationCode, Code: code, RedirectURI: "https://portal/cb",
		RedirectURIGiven: true, CodeVerifier: verifier, CodeVerifierGiven: true}
}

func wantCode(t *testing.T, oe *oauth.Error, code string) {
	t.Helper()
	switch {
	case code == "" && oe != nil:
		t.Fatalf("unexpected %v", oe)
	case code != "" && (oe == nil || oe.Code != code):
		t.Fatalf("got %v, want %s", oe, code)
	}
}

func TestClientCredentials(t *testing.T) {
	r := newRig(t)
	tests := []struct {
		name, client string
		narrow       policy.Request
		wantAud      string
		wantErr      string
	}{
		{"default audience", "job", policy.Request{}, "job orders", ""},
		{"narrowed", "job", policy.Request{Resources: []string{"orders"}}, "orders", ""},
		{"outside the audience", "job", policy.Request{Resources: []string{"portal"}}, "", oauth.CodeInvalidTarget},
		{"scope outside", "job", policy.Request{Scope: "hr:read", ScopeGiven: true}, "", oauth.CodeInvalidScope},
		{"public client", "spa", policy.Request{}, "", oauth.CodeUnauthorizedClient},
		{"grant not configured", "portal", policy.Request{}, "", oauth.CodeUnauthorizedClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, oe := r.e.Token(context.Background(), r.client(tt.client), TokenRequest{GrantType: oauth.GrantClientCredentials, Narrow: tt.narrow})
			wantCode(t, oe, tt.wantErr)
			if oe == nil && (res.Grant.Audience.String() != tt.wantAud || res.Access.Token == "" || res.IDToken != "" || res.Refresh != "") {
				t.Errorf("result %+v", res)
			}
		})
	}
	_, oe := r.e.Token(context.Background(), r.client("job"), TokenRequest{GrantType: "password"})
	wantCode(t, oe, oauth.CodeUnsupportedGrantType)
}

func TestRedeemCode(t *testing.T) {
	tests := []struct {
		name    string
		code    func(*store.AuthCode)
		req     func(*TokenRequest)
		client  string
		wantErr string
	}{
		{name: "good"},
		{name: "another client's code", client: "two-uris", wantErr: oauth.CodeInvalidGrant},
		{name: "missing code", req: func(q *TokenRequest) { q.Code = "" }, wantErr: oauth.CodeInvalidRequest},
		{name: "unknown code", req: func(q *TokenRequest) { q.Code = "nope" }, wantErr: oauth.CodeInvalidGrant},
		{name: "issued to another client", code: func(c *store.AuthCode) { c.ClientID = "two-uris" }, wantErr: oauth.CodeInvalidGrant},
		{name: "expired", code: func(c *store.AuthCode) { c.ExpiresAt = c.CreatedAt }, wantErr: oauth.CodeInvalidGrant},
		{name: "redirect_uri differs", req: func(q *TokenRequest) { q.RedirectURI = "https://portal/other" }, wantErr: oauth.CodeInvalidGrant},
		{name: "redirect_uri left out", req: func(q *TokenRequest) { q.RedirectURIGiven = false; q.RedirectURI = "" }, wantErr: oauth.CodeInvalidGrant},
		{name: "authorization request had none: may be left out", code: func(c *store.AuthCode) { c.RedirectURI = "" },
			req: func(q *TokenRequest) { q.RedirectURIGiven = false; q.RedirectURI = "" }},
		{name: "authorization request had none: the registered one", code: func(c *store.AuthCode) { c.RedirectURI = "" }},
		{name: "authorization request had none: another", code: func(c *store.AuthCode) { c.RedirectURI = "" },
			req: func(q *TokenRequest) { q.RedirectURI = "https://evil/cb" }, wantErr: oauth.CodeInvalidGrant},
		{name: "verifier missing", req: func(q *TokenRequest) { q.CodeVerifierGiven = false; q.CodeVerifier = "" }, wantErr: oauth.CodeInvalidGrant},
		{name: "verifier wrong", req: func(q *TokenRequest) { q.CodeVerifier = strings.Repeat("a", 43) }, wantErr: oauth.CodeInvalidGrant},
		{name: "verifier malformed", req: func(q *TokenRequest) { q.CodeVerifier = "short" }, wantErr: oauth.CodeInvalidGrant},
		{name: "verifier without challenge (downgrade)", code: func(c *store.AuthCode) { c.CodeChallenge, c.CodeChallengeMethod = "", "" }, wantErr: oauth.CodeInvalidGrant},
		{name: "no PKCE at all", code: func(c *store.AuthCode) { c.CodeChallenge, c.CodeChallengeMethod = "", "" },
			req: func(q *TokenRequest) { q.CodeVerifierGiven = false; q.CodeVerifier = "" }},
		{name: "narrowed", req: func(q *TokenRequest) { q.Narrow = policy.Request{Resources: []string{"orders"}} }},
		{name: "widened", req: func(q *TokenRequest) { q.Narrow = policy.Request{Scope: "hr:read", ScopeGiven: true} }, wantErr: oauth.CodeInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			req := codeRequest(r.code(t, tt.code))
			if tt.req != nil {
				tt.req(&req)
			}
			client := "portal"
			if tt.client != "" {
				client = tt.client
			}
			res, oe := r.e.Token(context.Background(), r.client(client), req)
			wantCode(t, oe, tt.wantErr)
			if oe == nil && (res.Access.Token == "" || res.IDToken == "" || res.Refresh == "") {
				t.Errorf("result %+v: want access, ID and refresh tokens", res)
			}
		})
	}
}

// TestCodeReplayRevokes: RFC 6749 §4.1.2, a second redemption is refused
// and revokes what the first issued.
func TestCodeReplayRevokes(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	req := codeRequest(r.code(t, nil))
	first, oe := r.e.Token(ctx, r.client("portal"), req)
	wantCode(t, oe, "")
	_, oe = r.e.Token(ctx, r.client("portal"), req)
	wantCode(t, oe, oauth.CodeInvalidGrant)
	if revoked, _ := r.st.AccessRevoked(ctx, first.Access.JTI, r.clock.Now()); !revoked {
		t.Error("the first access token is not revoked")
	}
	_, oe = r.e.Token(ctx, r.client("portal"), TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: first.Refresh})
	wantCode(t, oe, oauth.CodeInvalidGrant)
}

func TestRefresh(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	first, oe := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, nil)))
	wantCode(t, oe, "")
	refresh := func(tok string, narrow policy.Request) (Result, *oauth.Error) {
		return r.e.Token(ctx, r.client("portal"), TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: tok, Narrow: narrow})
	}
	_, oe = refresh(first.Refresh, policy.Request{Scope: "hr:read", ScopeGiven: true})
	wantCode(t, oe, oauth.CodeInvalidScope)
	second, oe := refresh(first.Refresh, policy.Request{Resources: []string{"orders"}})
	wantCode(t, oe, "")
	if second.Grant.Audience.String() != "orders" || second.Refresh == first.Refresh || second.IDToken == "" {
		t.Errorf("refresh result %+v", second)
	}
	// Reuse of the rotated token revokes the family: the newest token too.
	_, oe = refresh(first.Refresh, policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidGrant)
	_, oe = refresh(second.Refresh, policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidGrant)

	third, _ := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, nil)))
	_, oe = r.e.Token(ctx, r.client("two-uris"), TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: third.Refresh})
	wantCode(t, oe, oauth.CodeUnauthorizedClient)
	_, oe = refresh("", policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidRequest)
	delete(r.users, "alice")
	_, oe = refresh(third.Refresh, policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidGrant)
	r.users["alice"] = nil
	_, oe = refresh(third.Refresh, policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidGrant) // the grant of a removed user ended for good
	r.clock.Advance(2 * time.Hour)
	fourth, _ := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, nil)))
	r.clock.Advance(2 * time.Hour)
	_, oe = refresh(fourth.Refresh, policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidGrant)
}

// TestIDTokenClaims: scope claims reach the ID token only when asked for.
func TestIDTokenClaims(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	plain, _ := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, nil)))
	asked, _ := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, func(c *store.AuthCode) { c.IDTokenClaims = []string{"email"} })))
	if strings.Contains(payload(t, plain.IDToken), "alice@example.com") || !strings.Contains(payload(t, asked.IDToken), "alice@example.com") {
		t.Errorf("plain %s\nasked %s", payload(t, plain.IDToken), payload(t, asked.IDToken))
	}
}

func payload(t *testing.T, tok string) string {
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseAuthorization(t *testing.T) {
	r := newRig(t)
	hint := func(tok string) (string, bool) {
		return strings.TrimPrefix(tok, "hint-for-"), strings.HasPrefix(tok, "hint-for-")
	}
	ch := challenge(verifier)
	base := "client_id=portal&response_type=code&code_challenge=" + ch + "&code_challenge_method=S256"
	tests := []struct {
		name, raw string
		wantErr   string
		redirect  bool
		check     func(*Authorization) bool
	}{
		{name: "good, registered URI implied", raw: base + "&scope=openid&state=s", check: func(a *Authorization) bool {
			return a.RedirectURI == "https://portal/cb" && !a.RedirectGiven && a.State == "s" && a.MaxAge == -1
		}},
		{name: "no client", raw: "response_type=code", wantErr: oauth.CodeInvalidRequest},
		{name: "unknown client", raw: "client_id=x&response_type=code", wantErr: oauth.CodeInvalidRequest},
		{name: "unregistered redirect", raw: base + "&redirect_uri=https%3A%2F%2Fevil%2Fcb", wantErr: oauth.CodeInvalidRequest},
		{name: "several registered, none named", raw: "client_id=two-uris&response_type=code", wantErr: oauth.CodeInvalidRequest},
		// A malformed request cannot be trusted to name its client: displayed.
		{name: "duplicated parameter: displayed", raw: base + "&scope=a&scope=b", wantErr: oauth.CodeInvalidRequest},
		{name: "implicit", raw: "client_id=portal&response_type=token", wantErr: oauth.CodeUnsupportedResponseType, redirect: true},
		{name: "no PKCE", raw: "client_id=portal&response_type=code", wantErr: oauth.CodeInvalidRequest, redirect: true},
		{name: "plain PKCE", raw: "client_id=portal&response_type=code&code_challenge=" + ch + "&code_challenge_method=plain", wantErr: oauth.CodeInvalidRequest, redirect: true},
		{name: "bad prompt", raw: base + "&prompt=maybe", wantErr: oauth.CodeInvalidRequest, redirect: true},
		{name: "prompt none with login", raw: base + "&prompt=none+login", wantErr: oauth.CodeInvalidRequest, redirect: true},
		{name: "bad max_age", raw: base + "&max_age=-1", wantErr: oauth.CodeInvalidRequest, redirect: true},
		{name: "forged hint", raw: base + "&id_token_hint=forged", wantErr: oauth.CodeInvalidRequest, redirect: true},
		{name: "hint", raw: base + "&id_token_hint=hint-for-alice", check: func(a *Authorization) bool { return a.HintSubject == "alice" }},
		{name: "scope outside", raw: base + "&scope=hr:read", wantErr: oauth.CodeInvalidScope, redirect: true},
		{name: "resource outside", raw: base + "&resource=hr", wantErr: oauth.CodeInvalidTarget, redirect: true},
		{name: "essential acr unmet", raw: base + `&claims={"id_token":{"acr":{"essential":true,"values":["mfa"]}}}`,
			wantErr: oauth.CodeUnmetAuthenticationRequirement, redirect: true},
		{name: "request object", raw: base + "&request=x", wantErr: "request_not_supported", redirect: true},
		{name: "grant not allowed", raw: "client_id=job&response_type=code&redirect_uri=x", wantErr: oauth.CodeInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := strings.ReplaceAll(tt.raw, `"`, "%22")
			a, ae := r.e.ParseAuthorization(context.Background(), raw, hint)
			if tt.wantErr == "" {
				if ae != nil {
					t.Fatalf("error %v", ae.Err)
				}
				if tt.check != nil && !tt.check(a) {
					t.Errorf("request %+v", a)
				}
				return
			}
			if ae == nil || ae.Err.Code != tt.wantErr || ae.Redirect != tt.redirect {
				t.Fatalf("got %+v, want %s redirect=%v", ae, tt.wantErr, tt.redirect)
			}
		})
	}
}

// TestAuthorizationDecisions: the login and consent decisions, and the
// code they lead to.
func TestAuthorizationDecisions(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	now := r.clock.Now()
	sess := &store.Session{ID: strings.Repeat("a", 64), Subject: "alice", AuthTime: now.Add(-time.Hour)}
	parse := func(extra string) *Authorization {
		a, ae := r.e.ParseAuthorization(context.Background(), "client_id=portal&response_type=code&scope=openid&code_challenge="+challenge(verifier)+"&code_challenge_method=S256"+extra, func(string) (string, bool) { return "bob", true })
		if ae != nil {
			t.Fatal(ae.Err)
		}
		return a
	}
	for extra, want := range map[string]bool{"": false, "&prompt=login": true, "&max_age=60": true, "&max_age=7200": false, "&id_token_hint=x": true} {
		if got := parse(extra).LoginNeeded(sess, now) != ""; got != want {
			t.Errorf("LoginNeeded(%q) = %v", extra, got)
		}
	}
	if parse("").LoginNeeded(nil, now) == "" {
		t.Error("no session: no login needed")
	}
	a := parse("")
	if ask, _ := r.e.ConsentNeeded(ctx, a, "alice"); !ask {
		t.Error("no consent stored: not asked")
	}
	if oe := r.e.RecordConsent(ctx, a, "alice"); oe != nil {
		t.Fatal(oe)
	}
	if ask, _ := r.e.ConsentNeeded(ctx, a, "alice"); ask {
		t.Error("consent stored: asked again")
	}
	if ask, _ := r.e.ConsentNeeded(ctx, parse("&prompt=consent"), "alice"); !ask {
		t.Error("prompt=consent: not asked")
	}
	params, oe := r.e.IssueCode(ctx, a, sess)
	if oe != nil {
		t.Fatal(oe)
	}
	req := codeRequest(params.Get("code"))
	req.RedirectURIGiven, req.RedirectURI = false, ""
	if _, oe := r.e.Token(ctx, r.client("portal"), req); oe != nil {
		t.Errorf("redeeming the issued code: %v", oe)
	}
}

// TestGroupsGateAudiences: an only_groups rule keeps an audience for the
// people of its groups, at the code's redemption and at every refresh,
// with today's groups; the groups claim names only what the client may see.
func TestGroupsGateAudiences(t *testing.T) {
	cs := slices.Clone(clients)
	cs[0].GroupsClaim = []string{"ops", "hr"}
	r := newRigWith(t, cs, policy.GroupRule{Name: "ops only", Audiences: []string{"orders"}, Groups: []string{"ops"}})
	r.users["alice"] = map[string]any{"groups": []string{"ops", "chess-club"}}
	ctx := context.Background()
	first, oe := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, nil)))
	wantCode(t, oe, "")
	if first.Grant.Audience.String() != "portal orders" || !strings.Contains(payload(t, first.Access.Token), `"groups":["ops"]`) ||
		!strings.Contains(payload(t, first.IDToken), `"groups":["ops"]`) {
		t.Fatalf("in group: aud %v\naccess %s\nid %s", first.Grant.Audience, payload(t, first.Access.Token), payload(t, first.IDToken))
	}
	// Alice leaves ops: the next refresh drops orders; naming it is refused.
	r.users["alice"] = map[string]any{"groups": []string{"chess-club"}}
	refresh := func(tok string, n policy.Request) (Result, *oauth.Error) {
		return r.e.Token(ctx, r.client("portal"), TokenRequest{GrantType: oauth.GrantRefreshToken, RefreshToken: tok, Narrow: n})
	}
	_, oe = refresh(first.Refresh, policy.Request{Resources: []string{"orders"}})
	wantCode(t, oe, oauth.CodeInvalidTarget)
	second, oe := refresh(first.Refresh, policy.Request{})
	wantCode(t, oe, "")
	if second.Grant.Audience.String() != "portal" || strings.Contains(payload(t, second.Access.Token), `"groups"`) {
		t.Errorf("after leaving ops: aud %v, access %s", second.Grant.Audience, payload(t, second.Access.Token))
	}
	// Back in ops: the family still holds what was granted, so orders returns.
	r.users["alice"] = map[string]any{"groups": []string{"ops"}}
	third, oe := refresh(second.Refresh, policy.Request{})
	wantCode(t, oe, "")
	if third.Grant.Audience.String() != "portal orders" {
		t.Errorf("back in ops: aud %v", third.Grant.Audience)
	}
	// A code redeemed after the person left the group loses the audience too.
	r.users["alice"] = map[string]any{}
	late, oe := r.e.Token(ctx, r.client("portal"), codeRequest(r.code(t, nil)))
	wantCode(t, oe, "")
	if late.Grant.Audience.String() != "portal" {
		t.Errorf("code after leaving: aud %v", late.Grant.Audience)
	}
	// Disabled or removed: the refresh ends the grant.
	delete(r.users, "alice")
	_, oe = refresh(third.Refresh, policy.Request{})
	wantCode(t, oe, oauth.CodeInvalidGrant)
}
