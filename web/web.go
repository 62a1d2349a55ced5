// Package web renders the pages that people see while they sign in through
// Gatehouse: the login form, the consent screen, the error page and the
// signed-out page, plus the static assets (stylesheet, logo) they use.
//
// It is pure rendering. The templates and assets are embedded in the binary
// and parsed once by [New]; the render methods only write to the
// http.ResponseWriter they are given. Everything about the protocol — which
// client, which scopes, CSRF token values, where the form posts to — is
// decided by the caller (the authorization server) and passed in as data.
//
// The pages contain no JavaScript at all and are served with a Content
// Security Policy that forbids scripts (see [SetSecurityHeaders]), so every
// form is a plain HTML form that works with JavaScript disabled. All strings
// in the data are escaped by html/template for the context they appear in,
// so a client name such as "<script>…" is shown as text, never run.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
)

// Form field names the pages post. The authorization server reads the
// submitted forms with these names; they are constants so that both sides
// cannot drift apart.
const (
	// FieldCSRFToken is the hidden field that carries LoginData.CSRFToken
	// and ConsentData.CSRFToken back.
	FieldCSRFToken = "csrf_token"
	// FieldRequestID is the hidden field that carries the opaque id of the
	// pending authorization request back.
	FieldRequestID = "request_id"
	// FieldUsername is the login form's username field.
	FieldUsername = "username"
	// FieldPassword is the login form's password field.
	FieldPassword = "password"
	// FieldSource is the login form's choice of where the username and
	// password are checked: "" for the local users, else a directory's
	// connector ID.
	FieldSource = "source"
	// FieldUpstream is the name of the login page's upstream buttons; its
	// value is the connector ID of the provider to sign in with.
	FieldUpstream = "upstream"
	// FieldDecision is the name of both consent buttons; its value is
	// DecisionAllow or DecisionDeny.
	FieldDecision = "decision"
	// DecisionAllow is the FieldDecision value of the consent page's Allow
	// button.
	DecisionAllow = "allow"
	// DecisionDeny is the FieldDecision value of the consent page's Deny
	// button.
	DecisionDeny = "deny"
)

//go:embed templates/*.html
var templateFS embed.FS

// LoginData is what the login page shows and posts back.
type LoginData struct {
	// Action is the URL the form is POSTed to.
	Action string
	// CSRFToken is posted back in the hidden field FieldCSRFToken.
	CSRFToken string
	// RequestID is the opaque id of the pending authorization request,
	// posted back in the hidden field FieldRequestID.
	RequestID string
	// ClientName is the human name of the client the user signs in to,
	// shown prominently ("to continue to Customer Portal"). When empty,
	// ClientID is shown instead.
	ClientName string
	// ClientID is the client's id.
	ClientID string
	// Username prefills the username field, e.g. from login_hint or after
	// a failed attempt. When set, the password field gets the focus.
	Username string
	// Error is shown above the form, e.g. "Wrong username or password.".
	Error string
	// Locked says that there were too many attempts: the page asks the
	// person to wait before trying again.
	Locked bool
	// Directories are where the password form can check a password
	// besides the local users (LDAP connectors); with any, the form lets
	// the person choose, Source preselected. NoLocal leaves the local
	// users out of that choice (a hint picked a directory).
	Directories []Item
	Source      string
	NoLocal     bool
	// Upstreams are the providers offered as buttons ("Sign in with …");
	// NoPassword hides the password form (a hint picked an upstream, or
	// none of the password sources applies).
	Upstreams  []Item
	NoPassword bool
}

// ConsentData is what the consent page shows and posts back.
type ConsentData struct {
	// Action is the URL the form is POSTed to.
	Action string
	// CSRFToken is posted back in the hidden field FieldCSRFToken.
	CSRFToken string
	// RequestID is the opaque id of the pending authorization request,
	// posted back in the hidden field FieldRequestID.
	RequestID string
	// ClientName is the human name of the client asking for access; when
	// empty, ClientID is shown instead.
	ClientName string
	// ClientID is the client's id, shown in the small print so a person
	// can tell two similarly named clients apart.
	ClientID string
	// Username is the signed-in person ("Signed in as alice").
	Username string
	// Scopes are the scopes the client asks for. An Item without a
	// Description is described with DescribeScope(ID).
	Scopes []Item
	// Audiences are the APIs the client will be able to call on the
	// user's behalf (the access token's audience besides the client).
	Audiences []Item
	// OfflineAccess says that the client asks to keep access while the
	// person is away (a refresh token). It is shown as its own notice; an
	// "offline_access" entry in Scopes is then not listed twice.
	OfflineAccess bool
	// Unverified says the client is known only by the metadata document
	// it published (ClientID is its URL): its name is its own claim, so
	// the page says where the person will be sent back to (RedirectHost)
	// and, when the client runs on the person's own computer
	// (LoopbackOnly), that any program there could be it.
	Unverified   bool
	RedirectHost string
	LoopbackOnly bool
}

// Item is one scope or one audience on the consent page.
type Item struct {
	// ID is the scope value or the audience's client id.
	ID string
	// Name is the human name (e.g. "Order Status API"); ID is shown when
	// it is empty.
	Name string
	// Description says in plain words what the item means for the person.
	Description string
}

// ErrorData is what the error page shows. It never contains internal
// details: the caller passes only text meant for the person.
type ErrorData struct {
	// Title is the heading; "Something went wrong" when empty.
	Title string
	// Message says what happened.
	Message string
	// Hint says what the person can do about it (optional).
	Hint string
	// RequestID is a reference the person can quote to support (optional).
	RequestID string
}

// LoggedOutData is what the signed-out page shows.
type LoggedOutData struct {
	// ClientName is the client that asked for the logout (optional).
	ClientName string
	// ReturnURL is a registered post_logout_redirect_uri to offer as a
	// link back (optional). The caller must pass only a registered URI;
	// html/template additionally neutralises non-http(s) schemes.
	ReturnURL string
}

// Pages renders the pages. It is immutable after New and safe for
// concurrent use.
type Pages struct {
	templates map[string]*template.Template
	assets    *assets
}

// Template file names, one per page; each is combined with layout.html.
const (
	pageLogin     = "login.html"
	pageConsent   = "consent.html"
	pageError     = "error.html"
	pageLoggedOut = "logged_out.html"
	pageLogout    = "logout_confirm.html"
)

// New parses the embedded templates and indexes the static assets. It is
// called once at start-up; an error means the binary was built with broken
// templates.
func New() (*Pages, error) {
	a, err := loadAssets()
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		// asset maps a logical asset name to its content-hashed URL, so
		// templates never hard-code a hash.
		"asset": a.url,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	p := &Pages{templates: make(map[string]*template.Template), assets: a}
	for _, name := range []string{pageLogin, pageConsent, pageError, pageLoggedOut, pageLogout} {
		// Each page gets its own copy of the layout, because every page
		// defines the same block names ("title", "content").
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		p.templates[name] = t
	}
	return p, nil
}

// Login writes the login page with the given status (200 for a first
// visit; 401 or 429 after a failed or locked-out attempt).
func (p *Pages) Login(w http.ResponseWriter, status int, d LoginData) {
	v := loginView{LoginData: d, Client: firstNonEmpty(d.ClientName, d.ClientID)}
	p.render(w, status, pageLogin, v)
}

// Consent writes the consent page with status 200.
func (p *Pages) Consent(w http.ResponseWriter, d ConsentData) {
	v := consentView{ConsentData: d, Client: firstNonEmpty(d.ClientName, d.ClientID, "This application")}
	for _, s := range d.Scopes {
		if d.OfflineAccess && s.ID == "offline_access" {
			continue // shown as its own, more prominent notice
		}
		text := firstNonEmpty(s.Description, DescribeScope(s.ID))
		v.ScopeLines = append(v.ScopeLines, scopeLine{Text: text})
	}
	for _, a := range d.Audiences {
		v.AudienceLines = append(v.AudienceLines, audienceLine{
			Name: firstNonEmpty(a.Name, a.ID), ID: a.ID, Description: a.Description,
		})
	}
	p.render(w, http.StatusOK, pageConsent, v)
}

// Error writes the error page with the given status (500 when status is
// not an error status, so a mistake never turns an error into a success).
func (p *Pages) Error(w http.ResponseWriter, status int, d ErrorData) {
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	if d.Title == "" {
		d.Title = "Something went wrong"
	}
	if d.Message == "" {
		d.Message = "The request could not be completed."
	}
	p.render(w, status, pageError, d)
}

// LogoutConfirmData is what the sign-out confirmation page shows and
// posts back. The page is shown when a logout request cannot prove it
// comes from the signed-in person's own application (OIDC RP-Initiated
// Logout §2), so a link on another site cannot sign them out.
type LogoutConfirmData struct {
	// Action is the URL the form is POSTed to.
	Action string
	// CSRFToken is posted back in the hidden field FieldCSRFToken.
	CSRFToken string
	// Username is the signed-in person.
	Username string
	// ClientName is the application that asked (optional).
	ClientName string
	// Hidden are the logout request's parameters, posted back as they came.
	Hidden []HiddenField
}

// HiddenField is one hidden form input.
type HiddenField struct{ Name, Value string }

// FieldConfirm is the button of the sign-out confirmation form.
const FieldConfirm = "confirm"

// LogoutConfirm writes the sign-out confirmation page with status 200.
func (p *Pages) LogoutConfirm(w http.ResponseWriter, d LogoutConfirmData) {
	p.render(w, http.StatusOK, pageLogout, d)
}

// LoggedOut writes the signed-out page with status 200.
func (p *Pages) LoggedOut(w http.ResponseWriter, d LoggedOutData) {
	p.render(w, http.StatusOK, pageLoggedOut, d)
}

// SetSecurityHeaders sets the response headers every page needs. The
// render methods call it themselves; it is exported so that the server can
// put the same headers on its other HTML responses (e.g. a redirect page).
//
// The policy allows no scripts at all and only same-origin stylesheets and
// images. It deliberately has no form-action directive: Chrome applies
// form-action to the redirects that follow a form POST, which would block
// the redirect to the client's redirect_uri after login or consent.
func SetSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	// The pages carry CSRF tokens and request ids: never cache them.
	h.Set("Cache-Control", "no-store")
}

// render executes a page into a buffer first, so that a template failure
// can still become a clean 500 instead of half a page after a 200 header.
func (p *Pages) render(w http.ResponseWriter, status int, page string, data any) {
	h := w.Header()
	SetSecurityHeaders(h)
	if status < 100 || status > 599 {
		status = http.StatusOK
	}
	var buf bytes.Buffer
	if err := p.templates[page].ExecuteTemplate(&buf, "layout", data); err != nil {
		// The data types are fixed, so this is a programming error; the
		// person gets no details, never a stack trace.
		h.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte("Internal error.\n"))
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes()) // a failed write means the client went away
}

// loginView adds what the login template derives from LoginData.
type loginView struct {
	LoginData
	Client string // ClientName, else ClientID
}

// consentView adds what the consent template derives from ConsentData.
type consentView struct {
	ConsentData
	Client        string
	ScopeLines    []scopeLine
	AudienceLines []audienceLine
}

type scopeLine struct{ Text string }

type audienceLine struct{ Name, ID, Description string }

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
