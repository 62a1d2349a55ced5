package web

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The module has no HTML parser (golang.org/x/net/html is not a
// dependency), so the tests read the pages with encoding/xml in its lenient
// HTML mode. That is enough for markup we write ourselves, and a page it
// cannot read is itself a finding.

// node is a tiny DOM: enough to find elements and read attributes and text.
type node struct {
	tag      string
	attrs    map[string]string
	children []*node
	text     string // for "#text" nodes: the character data
}

func parseHTML(t *testing.T, body string) *node {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(body))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	root := &node{tag: "#document", attrs: map[string]string{}}
	stack := []*node{root}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page is not well-formed: %v\n%s", err, body)
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			n := &node{tag: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				n.attrs[a.Name.Local] = a.Value
			}
			top.children = append(top.children, n)
			stack = append(stack, n)
		case xml.EndElement:
			if top.tag != tok.Name.Local {
				t.Fatalf("mismatched </%s> inside <%s>", tok.Name.Local, top.tag)
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.children = append(top.children, &node{tag: "#text", text: string(tok)})
		}
	}
	if len(stack) != 1 {
		t.Fatalf("unclosed <%s>", stack[len(stack)-1].tag)
	}
	return root
}

// all returns every element below n (depth first) that matches.
func (n *node) all(match func(*node) bool) []*node {
	var out []*node
	for _, c := range n.children {
		if c.tag == "#text" {
			continue
		}
		if match(c) {
			out = append(out, c)
		}
		out = append(out, c.all(match)...)
	}
	return out
}

func (n *node) tags(tag string) []*node {
	return n.all(func(c *node) bool { return c.tag == tag })
}

func (n *node) byID(t *testing.T, id string) *node {
	t.Helper()
	found := n.all(func(c *node) bool { return c.attrs["id"] == id })
	if len(found) != 1 {
		t.Fatalf("want exactly one element with id %q, found %d", id, len(found))
	}
	return found[0]
}

// withClass returns the elements whose class list contains class.
func (n *node) withClass(class string) []*node {
	return n.all(func(c *node) bool {
		for _, f := range strings.Fields(c.attrs["class"]) {
			if f == class {
				return true
			}
		}
		return false
	})
}

// textContent is all text inside n, with whitespace collapsed.
func (n *node) textContent() string {
	var b strings.Builder
	var walk func(*node)
	walk = func(m *node) {
		b.WriteString(m.text)
		b.WriteByte(' ')
		for _, c := range m.children {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func (n *node) has(attr string) bool { _, ok := n.attrs[attr]; return ok }

func newPages(t *testing.T) *Pages {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// render runs one render method against a recorder and parses the page.
func render(t *testing.T, f func(w http.ResponseWriter)) (*httptest.ResponseRecorder, *node) {
	t.Helper()
	rec := httptest.NewRecorder()
	f(rec)
	if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return rec, parseHTML(t, rec.Body.String())
}

// checkCommon checks what every page must have: document language,
// mobile viewport, the stylesheet, the wordmark, no scripts, the security
// headers, and a label for every visible input.
func checkCommon(t *testing.T, rec *httptest.ResponseRecorder, doc *node) {
	t.Helper()
	checkSecurityHeaders(t, rec.Header())
	htmls := doc.tags("html")
	if len(htmls) != 1 || htmls[0].attrs["lang"] != "en" {
		t.Errorf(`want <html lang="en">`)
	}
	if !strings.HasPrefix(rec.Body.String(), "<!DOCTYPE html>") {
		t.Errorf("page does not start with <!DOCTYPE html>")
	}
	viewport := doc.all(func(n *node) bool { return n.tag == "meta" && n.attrs["name"] == "viewport" })
	if len(viewport) != 1 || !strings.Contains(viewport[0].attrs["content"], "width=device-width") {
		t.Errorf("want a mobile viewport meta tag")
	}
	css := doc.all(func(n *node) bool { return n.tag == "link" && n.attrs["rel"] == "stylesheet" })
	if len(css) != 1 || !strings.HasPrefix(css[0].attrs["href"], StaticPrefix+"style.") {
		t.Errorf("want one stylesheet under %s", StaticPrefix)
	}
	if got := doc.withClass("wordmark"); len(got) != 1 || got[0].textContent() != "Gatehouse" {
		t.Errorf("want the Gatehouse wordmark")
	}
	if s := doc.tags("script"); len(s) != 0 {
		t.Errorf("pages must not contain scripts, found %d", len(s))
	}
	if titles := doc.tags("title"); len(titles) != 1 || !strings.HasSuffix(titles[0].textContent(), "Gatehouse") {
		t.Errorf("want a <title> ending in Gatehouse")
	}
	for _, n := range doc.all(func(n *node) bool { return n.has("style") }) {
		t.Errorf("inline style on <%s> would be blocked by the CSP", n.tag)
	}
	checkLabels(t, doc)
}

// checkLabels: every visible input has an id and exactly one <label for>.
func checkLabels(t *testing.T, doc *node) {
	t.Helper()
	labels := map[string]int{}
	for _, l := range doc.tags("label") {
		labels[l.attrs["for"]]++
	}
	for _, in := range doc.tags("input") {
		if in.attrs["type"] == "hidden" {
			continue
		}
		id := in.attrs["id"]
		if id == "" {
			t.Errorf("input %q has no id", in.attrs["name"])
			continue
		}
		if labels[id] != 1 {
			t.Errorf("input #%s has %d labels, want 1", id, labels[id])
		}
	}
}

func checkSecurityHeaders(t *testing.T, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if strings.Contains(h.Get("Content-Security-Policy"), "form-action") {
		t.Errorf("CSP must not set form-action: Chrome would block the redirect to the client after a POST")
	}
}

// hiddenFields returns the hidden inputs of a form by name.
func hiddenFields(form *node) map[string]string {
	out := map[string]string{}
	for _, in := range form.tags("input") {
		if in.attrs["type"] == "hidden" {
			out[in.attrs["name"]] = in.attrs["value"]
		}
	}
	return out
}

func onlyForm(t *testing.T, doc *node) *node {
	t.Helper()
	forms := doc.tags("form")
	if len(forms) != 1 {
		t.Fatalf("want one form, found %d", len(forms))
	}
	return forms[0]
}

func TestLoginPage(t *testing.T) {
	p := newPages(t)
	rec, doc := render(t, func(w http.ResponseWriter) {
		p.Login(w, http.StatusOK, LoginData{
			Action: "/login?x=1&y=2", CSRFToken: "csrf-123", RequestID: "req-456",
			ClientName: "Customer Portal", ClientID: "customer-portal",
		})
	})
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d", rec.Code)
	}
	checkCommon(t, rec, doc)

	if got := doc.tags("h1")[0].textContent(); got != "Sign in" {
		t.Errorf("h1 = %q", got)
	}
	if got := doc.withClass("lead")[0].textContent(); got != "to continue to Customer Portal" {
		t.Errorf("lead = %q", got)
	}
	if got := doc.withClass("client-name")[0].textContent(); got != "Customer Portal" {
		t.Errorf("client name = %q", got)
	}

	form := onlyForm(t, doc)
	if form.attrs["method"] != "post" || form.attrs["action"] != "/login?x=1&y=2" {
		t.Errorf("form method=%q action=%q", form.attrs["method"], form.attrs["action"])
	}
	hidden := hiddenFields(form)
	if hidden[FieldCSRFToken] != "csrf-123" || hidden[FieldRequestID] != "req-456" || len(hidden) != 2 {
		t.Errorf("hidden fields = %v", hidden)
	}

	user, pass := doc.byID(t, "username"), doc.byID(t, "password")
	if user.attrs["name"] != FieldUsername || user.attrs["autocomplete"] != "username" || user.attrs["type"] != "text" || !user.has("required") {
		t.Errorf("username input = %v", user.attrs)
	}
	if pass.attrs["name"] != FieldPassword || pass.attrs["autocomplete"] != "current-password" || pass.attrs["type"] != "password" || !pass.has("required") {
		t.Errorf("password input = %v", pass.attrs)
	}
	if pass.has("value") {
		t.Errorf("password field must never be prefilled")
	}
	if !user.has("autofocus") || pass.has("autofocus") {
		t.Errorf("empty username: autofocus belongs on the username field")
	}
	buttons := form.tags("button")
	if len(buttons) != 1 || buttons[0].attrs["type"] != "submit" || buttons[0].textContent() != "Sign in" {
		t.Errorf("want one Sign in submit button")
	}
	if len(doc.all(func(n *node) bool { return n.attrs["role"] == "alert" })) != 0 {
		t.Errorf("no alert expected on a first visit")
	}
}

func TestLoginPrefilledFocusesPassword(t *testing.T) {
	p := newPages(t)
	rec, doc := render(t, func(w http.ResponseWriter) {
		p.Login(w, http.StatusUnauthorized, LoginData{
			Action: "/login", ClientID: "customer-portal", Username: "alice",
			Error: "Wrong username or password.",
		})
	})
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", rec.Code)
	}
	checkCommon(t, rec, doc)
	user, pass := doc.byID(t, "username"), doc.byID(t, "password")
	if user.attrs["value"] != "alice" {
		t.Errorf("username value = %q", user.attrs["value"])
	}
	if user.has("autofocus") || !pass.has("autofocus") {
		t.Errorf("prefilled username: autofocus belongs on the password field")
	}
	alert := doc.byID(t, "form-message")
	if alert.attrs["role"] != "alert" || alert.textContent() != "Wrong username or password." {
		t.Errorf("alert = %v %q", alert.attrs, alert.textContent())
	}
	if user.attrs["aria-describedby"] != "form-message" || pass.attrs["aria-describedby"] != "form-message" {
		t.Errorf("inputs should point at the error with aria-describedby")
	}
	// Without a name the client id stands in.
	if got := doc.withClass("client-name")[0].textContent(); got != "customer-portal" {
		t.Errorf("client = %q", got)
	}
}

func TestLoginLocked(t *testing.T) {
	p := newPages(t)
	rec, doc := render(t, func(w http.ResponseWriter) {
		p.Login(w, http.StatusTooManyRequests, LoginData{Action: "/login", ClientName: "Customer Portal", Username: "alice", Locked: true, Error: "ignored"})
	})
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("status = %d, want 429", rec.Code)
	}
	alert := doc.byID(t, "form-message")
	if !strings.Contains(alert.textContent(), "wait") || !strings.Contains(alert.attrs["class"], "alert-warning") {
		t.Errorf("locked alert = %q", alert.textContent())
	}
	if strings.Contains(rec.Body.String(), "ignored") {
		t.Errorf("the lock message replaces the error message")
	}
}

func TestConsentPage(t *testing.T) {
	p := newPages(t)
	rec, doc := render(t, func(w http.ResponseWriter) {
		p.Consent(w, ConsentData{
			Action: "/consent", CSRFToken: "csrf-abc", RequestID: "req-def",
			ClientName: "Customer Portal", ClientID: "customer-portal", Username: "alice",
			Scopes: []Item{
				{ID: "openid"}, {ID: "email"}, {ID: "orders:read"},
				{ID: "offline_access"},
				{ID: "hr:payroll", Description: "See your payslips"},
			},
			Audiences: []Item{
				{ID: "order-api", Name: "Order Status API", Description: "Tracks your orders"},
				{ID: "https://hr.example.com"},
			},
			OfflineAccess: true,
		})
	})
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d", rec.Code)
	}
	checkCommon(t, rec, doc)

	if got := doc.tags("h1")[0].textContent(); got != "Customer Portal wants access to your account" {
		t.Errorf("h1 = %q", got)
	}
	if got := doc.withClass("account")[0].textContent(); got != "Signed in as alice" {
		t.Errorf("account = %q", got)
	}
	labels := doc.withClass("section-label")
	if len(labels) != 2 || labels[0].textContent() != "Customer Portal wants to:" || labels[1].textContent() != "and to call these services for you:" {
		t.Errorf("section labels wrong: %d", len(labels))
	}
	lists := doc.withClass("permissions")
	if len(lists) != 2 {
		t.Fatalf("want 2 permission lists, got %d", len(lists))
	}
	var scopes []string
	for _, li := range lists[0].tags("li") {
		scopes = append(scopes, li.textContent())
	}
	want := []string{"Confirm who you are", "Your email address", "Read your orders", "See your payslips"}
	if strings.Join(scopes, "|") != strings.Join(want, "|") {
		t.Errorf("scopes = %q, want %q (offline_access shown once, as the notice)", scopes, want)
	}
	var audiences []string
	for _, li := range lists[1].tags("li") {
		audiences = append(audiences, li.textContent())
	}
	if strings.Join(audiences, "|") != "Order Status API Tracks your orders|https://hr.example.com" {
		t.Errorf("audiences = %q", audiences)
	}
	if !strings.Contains(doc.byID(t, "offline-notice").textContent(), "even when you are not using it") {
		t.Errorf("offline notice missing")
	}

	form := onlyForm(t, doc)
	hidden := hiddenFields(form)
	if hidden[FieldCSRFToken] != "csrf-abc" || hidden[FieldRequestID] != "req-def" || len(hidden) != 2 {
		t.Errorf("hidden fields = %v", hidden)
	}
	decisions := map[string]string{}
	for _, b := range form.tags("button") {
		if b.attrs["type"] != "submit" || b.attrs["name"] != FieldDecision {
			t.Errorf("button %q: type=%q name=%q", b.textContent(), b.attrs["type"], b.attrs["name"])
		}
		decisions[b.attrs["value"]] = b.textContent()
	}
	if len(decisions) != 2 || decisions[DecisionAllow] != "Allow" || decisions[DecisionDeny] != "Deny" {
		t.Errorf("decisions = %v", decisions)
	}
	if got := doc.withClass("client-id"); len(got) != 1 || got[0].textContent() != "(customer-portal)" {
		t.Errorf("client id should be in the fine print")
	}
}

func TestConsentOnlyAudiencesAndOfflineScopeWithoutFlag(t *testing.T) {
	p := newPages(t)
	_, doc := render(t, func(w http.ResponseWriter) {
		p.Consent(w, ConsentData{Action: "/consent", ClientID: "batch", Audiences: []Item{{ID: "order-api"}}})
	})
	labels := doc.withClass("section-label")
	if len(labels) != 1 || labels[0].textContent() != "batch wants to call these services for you:" {
		t.Errorf("label = %q", labels[0].textContent())
	}
	if len(doc.withClass("account")) != 0 {
		t.Errorf("no account line without a username")
	}
	_, doc = render(t, func(w http.ResponseWriter) {
		p.Consent(w, ConsentData{Action: "/consent", ClientName: "App", Scopes: []Item{{ID: "offline_access"}}})
	})
	if got := doc.withClass("permissions")[0].textContent(); got != DescribeScope("offline_access") {
		t.Errorf("without OfflineAccess the scope is listed: %q", got)
	}
}

func TestErrorPage(t *testing.T) {
	p := newPages(t)
	rec, doc := render(t, func(w http.ResponseWriter) {
		p.Error(w, http.StatusBadRequest, ErrorData{
			Title: "Unknown application", Message: "The application 'x' is not registered.",
			Hint: "Go back and try again.", RequestID: "req-789",
		})
	})
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status = %d", rec.Code)
	}
	checkCommon(t, rec, doc)
	if got := doc.tags("h1")[0].textContent(); got != "Unknown application" {
		t.Errorf("h1 = %q", got)
	}
	if got := doc.withClass("message")[0].textContent(); got != "The application 'x' is not registered." {
		t.Errorf("message = %q", got)
	}
	if got := doc.withClass("hint")[0].textContent(); got != "Go back and try again." {
		t.Errorf("hint = %q", got)
	}
	if got := doc.withClass("reference")[0].textContent(); got != "Reference: req-789" {
		t.Errorf("reference = %q", got)
	}
	if len(doc.tags("form")) != 0 {
		t.Errorf("error page has no form")
	}
}

func TestErrorPageDefaults(t *testing.T) {
	p := newPages(t)
	for _, status := range []int{0, 200, 302, 700} {
		rec, doc := render(t, func(w http.ResponseWriter) { p.Error(w, status, ErrorData{}) })
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("Error(status %d) wrote %d, want 500", status, rec.Code)
		}
		if got := doc.tags("h1")[0].textContent(); got != "Something went wrong" {
			t.Errorf("default title = %q", got)
		}
		if len(doc.withClass("hint")) != 0 || len(doc.withClass("reference")) != 0 {
			t.Errorf("empty optional parts must not render")
		}
	}
}

func TestLoggedOutPage(t *testing.T) {
	p := newPages(t)
	rec, doc := render(t, func(w http.ResponseWriter) {
		p.LoggedOut(w, LoggedOutData{ClientName: "Customer Portal", ReturnURL: "https://portal.example.com/bye?a=1&b=2"})
	})
	if rec.Code != http.StatusOK {
		t.Errorf("status = %d", rec.Code)
	}
	checkCommon(t, rec, doc)
	links := doc.tags("a")
	if len(links) != 1 || links[0].attrs["href"] != "https://portal.example.com/bye?a=1&b=2" || links[0].textContent() != "Return to Customer Portal" {
		t.Errorf("return link wrong")
	}

	_, doc = render(t, func(w http.ResponseWriter) { p.LoggedOut(w, LoggedOutData{}) })
	if len(doc.tags("a")) != 0 {
		t.Errorf("no return link without a ReturnURL")
	}
	if got := doc.withClass("message")[0].textContent(); !strings.HasPrefix(got, "You have been signed out.") {
		t.Errorf("message = %q", got)
	}
}

// TestEscaping proves that html/template treats every caller string as
// text: a hostile client name, username, error text or URL can neither add
// elements nor attributes nor a javascript: link.
func TestEscaping(t *testing.T) {
	p := newPages(t)
	const evil = `<script>alert("x")</script>`
	const attr = `" autofocus onfocus="alert(1)`
	pages := map[string]func(w http.ResponseWriter){
		"login": func(w http.ResponseWriter) {
			p.Login(w, 200, LoginData{Action: "javascript:alert(1)", ClientName: evil, Username: attr, CSRFToken: attr, Error: evil})
		},
		"consent": func(w http.ResponseWriter) {
			p.Consent(w, ConsentData{ClientName: evil, ClientID: evil, Username: evil, RequestID: attr,
				Scopes: []Item{{ID: evil}, {ID: "x", Description: evil}}, Audiences: []Item{{ID: evil, Name: evil, Description: evil}}, OfflineAccess: true})
		},
		"error": func(w http.ResponseWriter) {
			p.Error(w, 400, ErrorData{Title: evil, Message: evil, Hint: evil, RequestID: evil})
		},
		"logged out": func(w http.ResponseWriter) {
			p.LoggedOut(w, LoggedOutData{ClientName: evil, ReturnURL: "javascript:alert(1)"})
		},
	}
	for name, f := range pages {
		t.Run(name, func(t *testing.T) {
			rec, doc := render(t, f)
			body := rec.Body.String()
			if strings.Contains(body, "<script") {
				t.Errorf("raw <script> in output")
			}
			if !strings.Contains(body, "&lt;script&gt;") {
				t.Errorf("escaped client name not found")
			}
			if len(doc.tags("script")) != 0 {
				t.Errorf("a script element was injected")
			}
			for _, n := range doc.all(func(*node) bool { return true }) {
				if n.has("onfocus") {
					t.Errorf("attribute injected into <%s>", n.tag)
				}
				for _, a := range []string{"href", "action"} {
					if strings.HasPrefix(strings.ToLower(n.attrs[a]), "javascript:") {
						t.Errorf("javascript: URL in %s of <%s>", a, n.tag)
					}
				}
			}
			// The text a person reads is the original string, unchanged.
			if !strings.Contains(doc.textContent(), evil) {
				t.Errorf("escaped text should read as the original string")
			}
		})
	}
}

func TestSetSecurityHeaders(t *testing.T) {
	h := http.Header{}
	SetSecurityHeaders(h)
	checkSecurityHeaders(t, h)
}

// assetURLs finds the URL of the stylesheet or logo in a rendered page.
func assetURLs(t *testing.T, p *Pages) (css, svg string) {
	t.Helper()
	_, doc := render(t, func(w http.ResponseWriter) { p.LoggedOut(w, LoggedOutData{}) })
	for _, l := range doc.tags("link") {
		if l.attrs["rel"] == "stylesheet" {
			css = l.attrs["href"]
		}
	}
	svg = doc.tags("img")[0].attrs["src"]
	return css, svg
}

func TestStaticHandler(t *testing.T) {
	p := newPages(t)
	h := p.StaticHandler()
	css, svg := assetURLs(t, p)

	get := func(method, path string, hdr map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}

	rec := get("GET", css, nil)
	if rec.Code != 200 {
		t.Fatalf("GET %s = %d", css, rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("css Content-Type = %q", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control = %q", cc)
	}
	if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("want nosniff")
	}
	if !strings.Contains(rec.Body.String(), ".card") {
		t.Errorf("stylesheet body looks wrong")
	}
	etag := rec.Header().Get("ETag")
	if etag == "" || !strings.Contains(css, strings.Trim(etag, `"`)) {
		t.Errorf("ETag %q should be the hash in the name %q", etag, css)
	}
	if rec := get("GET", css, map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", rec.Code)
	}
	if rec := get("HEAD", css, nil); rec.Code != 200 || rec.Body.Len() != 0 {
		t.Errorf("HEAD = %d with %d bytes", rec.Code, rec.Body.Len())
	}

	rec = get("GET", svg, nil)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" {
		t.Errorf("GET %s = %d %q", svg, rec.Code, rec.Header().Get("Content-Type"))
	}

	// Mounted behind http.StripPrefix the handler sees the bare name.
	stripped := httptest.NewRecorder()
	http.StripPrefix("/static", h).ServeHTTP(stripped, httptest.NewRequest("GET", css, nil))
	if stripped.Code != 200 {
		t.Errorf("behind StripPrefix: %d", stripped.Code)
	}

	for _, path := range []string{"/static/style.css", "/static/nope.css", "/static/", "/static/../web.go", "/static/static/style.css"} {
		if rec := get("GET", path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
	if rec := get("POST", css, nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST = %d", rec.Code)
	}
}

func TestDescribeScope(t *testing.T) {
	cases := map[string]string{
		"openid":           "Confirm who you are",
		"profile":          "Your name and profile details",
		"email":            "Your email address",
		"offline_access":   "Stay signed in: access when you are not present",
		"orders:read":      "Read your orders",
		"read:orders":      "Read your orders",
		"orders.write":     "Create and change your orders",
		"order_status:get": "Read your order status",
		"invoices/delete":  "Delete your invoices",
		"Orders:Read":      "Read your orders",
		"payroll:manage":   "Manage your payroll",
		"orders":           "Use the permission 'orders'",
		"orders:archive":   "Use the permission 'orders:archive'",
		"read:write":       "Use the permission 'read:write'",
		"api:orders:read":  "Use the permission 'api:orders:read'",
		"https://x/y.read": "Use the permission 'https://x/y.read'",
		"<b>:read":         "Use the permission '<b>:read'",
		"":                 "Use the permission ''",
	}
	for in, want := range cases {
		if got := DescribeScope(in); got != want {
			t.Errorf("DescribeScope(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPagesConcurrent(t *testing.T) {
	// Pages is shared by every request handler; the race detector checks
	// that rendering has no shared mutable state.
	p := newPages(t)
	done := make(chan struct{})
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			p.Login(httptest.NewRecorder(), 200, LoginData{ClientName: "c"})
			p.Consent(httptest.NewRecorder(), ConsentData{Scopes: []Item{{ID: "openid"}}})
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
}

// TestLoginPageWithSources: with directories and upstream providers the
// page offers an account choice in the password form and one button per
// provider, each posting the request back with the provider's ID.
func TestLoginPageWithSources(t *testing.T) {
	p := newPages(t)
	d := LoginData{Action: "/authorize", CSRFToken: "csrf-1", RequestID: "req-1", ClientName: "Portal",
		Directories: []Item{{ID: "staff", Name: "Staff directory"}}, Source: "staff",
		Upstreams: []Item{{ID: "corp", Name: "Example Corp"}, {ID: "partner", Name: "Partner <SSO>"}}}
	_, doc := render(t, func(w http.ResponseWriter) { p.Login(w, http.StatusOK, d) })
	forms := doc.tags("form")
	if len(forms) != 1 {
		t.Fatalf("want one form, got %d", len(forms))
	}
	sel := doc.byID(t, "source")
	opts := sel.tags("option")
	if sel.attrs["name"] != FieldSource || len(opts) != 2 || opts[0].attrs["value"] != "" || opts[1].attrs["value"] != "staff" || !opts[1].has("selected") || opts[0].has("selected") {
		t.Errorf("account choice: %v %d options", sel.attrs, len(opts))
	}
	// The upstream buttons post the same form, skipping the required
	// username and password (formnovalidate); "Sign in" stays the first
	// submit button, the one Enter presses.
	buttons := forms[0].tags("button")
	if len(buttons) != 3 || buttons[0].textContent() != "Sign in" || buttons[1].attrs["name"] != FieldUpstream || buttons[1].attrs["value"] != "corp" ||
		!buttons[1].has("formnovalidate") || buttons[1].textContent() != "Sign in with Example Corp" || buttons[2].textContent() != "Sign in with Partner <SSO>" {
		t.Errorf("buttons: %d", len(buttons))
	}

	// A hint for one directory: no local choice; for an upstream only: no password form.
	d2 := d
	d2.NoLocal, d2.Upstreams = true, nil
	_, doc = render(t, func(w http.ResponseWriter) { p.Login(w, http.StatusOK, d2) })
	if opts := doc.byID(t, "source").tags("option"); len(opts) != 1 || opts[0].attrs["value"] != "staff" {
		t.Errorf("directory hint: %d options", len(opts))
	}
	d3 := d
	d3.NoPassword = true
	_, doc = render(t, func(w http.ResponseWriter) { p.Login(w, http.StatusOK, d3) })
	if len(doc.tags("button")) != 2 || len(doc.all(func(n *node) bool { return n.attrs["name"] == FieldPassword })) != 0 {
		t.Errorf("upstream only: the password form is still shown")
	}
}
