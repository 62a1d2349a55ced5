package audit

import (
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/config"
)

// SchemaVersion is the version of the JSON document WriteJSON produces.
// Scripts that consume the audit should check it.
const SchemaVersion = 1

// Client types of RFC 6749 §2.1, as reported in Client.Type.
const (
	TypePublic       = "public"
	TypeConfidential = "confidential"
)

// Kind says where an audience value comes from.
type Kind string

// The kinds of audience value.
const (
	// KindClient is a configured client's ID.
	KindClient Kind = "client"
	// KindExternal is a declared external audience (a third-party API).
	KindExternal Kind = "external"
	// KindUndeclared is a value some client lists in its audience that is
	// neither a client nor a declared external audience. Validation should
	// refuse such a configuration; the audit reports it instead of dropping
	// it, because a silent omission is the worst thing an audit can do.
	KindUndeclared Kind = "undeclared"
)

// Report is the audit of one configuration. Its fields are the JSON
// document described in the package documentation; build it with Build.
type Report struct {
	// SchemaVersion is always SchemaVersion; it is a field so the JSON
	// carries it.
	SchemaVersion int `json:"schema_version"`
	// Clients are the configured clients, in configuration order.
	Clients []Client `json:"clients"`
	// Audiences are the matrix columns: every client, then every declared
	// external audience, then undeclared values, each once.
	Audiences []Audience `json:"audiences"`
	// Matrix has one row per client, in the order of Clients.
	Matrix []Row `json:"matrix"`
	// ReachableBy lists, for each API, the clients that can obtain a token
	// naming it, in the order of Audiences.
	ReachableBy []APIReach `json:"reachable_by"`
	// Rules are the configuration's policy rules, in configuration order,
	// each with whether it passed.
	Rules []RuleResult `json:"rules"`
	// Violations are every client → audience pair (or entry) that breaks
	// a rule, grouped by rule in configuration order. A non-empty list
	// fails `gatehouse audit` and stops `gatehouse serve`.
	Violations []Violation `json:"violations"`
	// Exchanges are the token-exchange edges: a client that may exchange a
	// token issued for it for one naming Audience (exchange_to). Policy
	// rules judge them like the matrix.
	Exchanges []ExchangeEdge `json:"exchanges,omitempty"`
	// Warnings are the lint findings: legal but suspicious configuration.
	// They fail `gatehouse audit` only with --strict.
	Warnings []Warning `json:"warnings"`
}

// Client is what the audit knows about one configured client.
type Client struct {
	// ID is the value that appears in aud, azp and client_id.
	ID string `json:"id"`
	// Name is the human-readable name from the configuration, if any.
	Name string `json:"name"`
	// Type is TypePublic (no secret) or TypeConfidential.
	Type string `json:"type"`
	// GrantTypes are the configured grant types, in configuration order.
	GrantTypes []string `json:"grant_types"`
	// CanObtainTokens is false for a client with no grant types: a pure
	// API that only receives tokens.
	CanObtainTokens bool `json:"can_obtain_tokens"`
	// Scopes are the scopes the client may request.
	Scopes []string `json:"scopes"`
	// Tags are the client's policy tags, in configuration order.
	Tags []string `json:"tags"`
}

// Audience is one matrix column: a value that may appear in aud.
type Audience struct {
	// ID is the exact aud value.
	ID string `json:"id"`
	// Kind says whether ID is a client, a declared external audience or
	// an undeclared value.
	Kind Kind `json:"kind"`
	// Description is the external audience's description, if any.
	Description string `json:"description,omitempty"`
	// Tags are the client's or external audience's policy tags; always
	// empty for an undeclared value.
	Tags []string `json:"tags"`
}

// Row is one matrix row: the aud a client's default access token carries.
type Row struct {
	// Client is the client's ID.
	Client string `json:"client"`
	// Audience is the default aud: the client itself, then its configured
	// audience, in that order and without duplicates.
	Audience []string `json:"audience"`
}

// APIReach is the answer to "who can reach this API?".
type APIReach struct {
	// API is the audience value.
	API string `json:"api"`
	// Kind says whether the API is a client, external or undeclared.
	Kind Kind `json:"kind"`
	// Clients are the clients, in configuration order, that can obtain a
	// token whose default aud names API. Empty when nobody can.
	Clients []string `json:"clients"`
	// People are the only_groups rules that reserve API to people in
	// given groups when a token is issued for a person: a person needs a
	// group of every one. Absent when no rule selects API.
	People []GroupGate `json:"people,omitempty"`
	// ByExchange are the clients that may exchange a token issued for
	// them for one naming API (exchange_to): the hops through which it is
	// reached on someone's behalf (see WhoCan for the whole paths).
	ByExchange []string `json:"by_exchange,omitempty"`
}

// ExchangeEdge is one audience a client may reach by RFC 8693 exchange.
type ExchangeEdge struct {
	Client   string `json:"client"`
	Audience string `json:"audience"`
}

// client returns the report's client with id, or nil.
func (r *Report) client(id string) *Client {
	for i := range r.Clients {
		if r.Clients[i].ID == id {
			return &r.Clients[i]
		}
	}
	return nil
}

// GroupGate is one only_groups rule on an API: the groups that reach it.
type GroupGate struct {
	Rule   string   `json:"rule"`
	Groups []string `json:"groups"`
}

// Build audits cfg. It never fails: a configuration that validation would
// refuse (duplicate IDs, undeclared audience values) is reported as it is,
// because the audit's job is to show what the configuration says. A nil
// cfg gives an empty report.
func Build(cfg *config.Config) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Clients:       []Client{},
		Audiences:     []Audience{},
		Matrix:        []Row{},
		ReachableBy:   []APIReach{},
		Rules:         []RuleResult{},
		Violations:    []Violation{},
		Warnings:      []Warning{},
		Exchanges:     []ExchangeEdge{},
	}
	if cfg == nil {
		return r
	}
	cfg = withMetadataClass(cfg)
	model := cfg.PolicyModel()

	// Columns first, so every later lookup has one place to ask "is this a
	// known value, and of which kind?". Clients win over an external
	// audience with the same ID: a token naming that ID is accepted by the
	// client, whatever the external declaration says.
	seen := map[string]bool{}
	addColumn := func(a Audience) {
		if seen[a.ID] {
			return
		}
		seen[a.ID] = true
		r.Audiences = append(r.Audiences, a)
	}
	for _, c := range cfg.Clients {
		addColumn(Audience{ID: c.ID, Kind: KindClient, Tags: cloneNonNil(c.Tags)})
	}
	for _, e := range cfg.ExternalAudiences {
		addColumn(Audience{ID: e.ID, Kind: KindExternal, Description: e.Description, Tags: cloneNonNil(e.Tags)})
	}
	for _, c := range cfg.Clients {
		for _, a := range c.Audience {
			addColumn(Audience{ID: a, Kind: KindUndeclared, Tags: []string{}})
		}
	}

	// An API is anything a client hands its tokens to other than itself,
	// plus every declared external audience; a client that only ever names
	// itself is not an API anyone else can reach.
	isAPI := map[string]bool{}
	for _, e := range cfg.ExternalAudiences {
		isAPI[e.ID] = true
	}
	for _, c := range cfg.Clients {
		for _, a := range c.ExchangeTo {
			isAPI[a] = true // reached by exchange: an API all the same
		}
		for _, a := range c.Audience {
			if a != c.ID {
				isAPI[a] = true
			}
		}
	}

	for _, c := range cfg.Clients {
		typ := TypeConfidential
		if c.Public() {
			typ = TypePublic
		}
		r.Clients = append(r.Clients, Client{
			ID:   c.ID,
			Name: c.Name,
			Type: typ,
			// Copies, so a caller mutating the report cannot change
			// the configuration it was built from (or the reverse).
			GrantTypes: cloneNonNil(c.GrantTypes),
			// Any grant type counts, even one that cannot start a flow
			// on its own (refresh_token alone): an audit that errs must
			// err towards showing access, never towards hiding it.
			CanObtainTokens: len(c.GrantTypes) > 0,
			Scopes:          cloneNonNil(c.Scopes),
			Tags:            cloneNonNil(c.Tags),
		})
		// The issuer's own rule (internal/policy), so the audit cannot
		// disagree with the tokens the server mints.
		r.Matrix = append(r.Matrix, Row{Client: c.ID, Audience: slices.Clone(model.DefaultAudience(c.ID))})
	}

	for _, a := range r.Audiences {
		if !isAPI[a.ID] {
			continue
		}
		reach := APIReach{API: a.ID, Kind: a.Kind, Clients: []string{}}
		for _, g := range cfg.PolicyGroupRules() {
			if slices.Contains(g.Audiences, a.ID) {
				reach.People = append(reach.People, GroupGate{Rule: g.Name, Groups: g.Groups})
			}
		}
		for i, row := range r.Matrix {
			if r.Clients[i].CanObtainTokens && slices.Contains(row.Audience, a.ID) {
				reach.Clients = append(reach.Clients, row.Client)
			}
		}
		for _, c := range cfg.Clients {
			if slices.Contains(c.ExchangeTo, a.ID) {
				reach.ByExchange = append(reach.ByExchange, c.ID)
			}
		}
		r.ReachableBy = append(r.ReachableBy, reach)
	}
	for _, c := range cfg.Clients {
		for _, a := range c.ExchangeTo {
			r.Exchanges = append(r.Exchanges, ExchangeEdge{Client: c.ID, Audience: a})
		}
	}
	r.checkPolicy(cfg)
	r.lint(cfg)
	return r
}

// Reaches reports whether the client clientID can obtain an access token
// whose default aud names audience. A client without grant types reaches
// nothing, and an unknown client reaches nothing.
func (r *Report) Reaches(clientID, audience string) bool {
	for i, row := range r.Matrix {
		if row.Client == clientID && r.Clients[i].CanObtainTokens && slices.Contains(row.Audience, audience) {
			return true
		}
	}
	return false
}

// ClientsReaching returns the clients that can reach api, as listed in
// ReachableBy, and whether api is an API the report knows about.
func (r *Report) ClientsReaching(api string) ([]string, bool) {
	for _, a := range r.ReachableBy {
		if a.API == api {
			return a.Clients, true
		}
	}
	return nil, false
}

// column returns the matrix column with this ID, or nil.
func (r *Report) column(id string) *Audience {
	for i := range r.Audiences {
		if r.Audiences[i].ID == id {
			return &r.Audiences[i]
		}
	}
	return nil
}

// namedBy returns, for every audience value, the other clients whose
// configured audience names it, in configuration order: the definition of
// "an API" that the lint and the require rules share.
func (r *Report) namedBy() map[string][]string {
	by := map[string][]string{}
	for _, row := range r.Matrix {
		for _, a := range row.Audience {
			if a != row.Client {
				by[a] = append(by[a], row.Client)
			}
		}
	}
	return by
}

// names returns the marks of row i against every column: true where the
// client's default aud names that column. It is what the table renderers
// draw, kept here so every format agrees.
func (r *Report) names(i int) []bool {
	marks := make([]bool, len(r.Audiences))
	for j, a := range r.Audiences {
		marks[j] = slices.Contains(r.Matrix[i].Audience, a.ID)
	}
	return marks
}

// cloneNonNil copies s, returning an empty slice rather than nil so that
// the JSON document always has arrays where the schema promises them.
func cloneNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// MetadataClassID is the row that stands for every client known only by
// its Client ID Metadata Document (client_metadata_documents): they share
// one policy, so the matrix and the policy rules judge it once.
const MetadataClassID = "(metadata-document clients)"

// withMetadataClass returns cfg with the metadata-document class as one
// more public client, so rules such as deny {from_tags: [public]} apply to
// what such clients may obtain.
func withMetadataClass(cfg *config.Config) *config.Config {
	m, d := cfg.ClientMetadataDocuments, cfg.DynamicRegistration
	if m == nil && d == nil {
		return cfg
	}
	c := *cfg
	c.Clients = slices.Clip(cfg.Clients)
	if m != nil {
		c.Clients = append(c.Clients, config.Client{ID: MetadataClassID,
			Name: "clients of " + strings.Join(m.AllowedHosts, ", "), Audience: m.Audience, Scopes: m.Scopes,
			GrantTypes: []string{"authorization_code", "refresh_token"}, Tags: m.MetadataClientTags(),
			RedirectURIs: []string{"https://metadata-document.invalid/"}})
	}
	if d != nil {
		c.Clients = append(c.Clients, config.Client{ID: RegisteredClassID,
			Name: "clients registered at /register", Audience: d.Audience, Scopes: d.Scopes,
			GrantTypes: []string{"authorization_code", "refresh_token"}, Tags: d.RegisteredClientTags(),
			RedirectURIs: []string{"https://registered.invalid/"}})
	}
	return &c
}

// RegisteredClassID is the row that stands for every client registered
// with RFC 7591 dynamic registration (dynamic_registration): one policy.
const RegisteredClassID = "(registered clients)"
