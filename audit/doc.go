// Package audit answers the auditor's question "which client can reach which
// API, and why?" from the configuration alone.
//
// It is the first of the four configuration steps (audit, define access,
// configure, validate) made executable: Build turns a *config.Config into a
// Report — the client × audience matrix, the list of clients that can reach
// each API, and each client's grant types, client type and scopes — and the
// renderers print it for a terminal, a pull request or a script (text,
// markdown, json), or draw it (dot for Graphviz; html, one self-contained
// page with an inline SVG graph laid out here).
//
// Build also checks the configuration's policy rules (see config.Rule)
// against the matrix — Report.Violations, the same code Evaluate runs for
// `gatehouse serve` — and lints it (Report.Warnings, the Lint* checks).
//
// The package is pure: it reads nothing and writes only to the io.Writer it
// is given, so `gatehouse audit` can run in CI against a configuration file
// without a server, a database or any keys.
//
// # The audience model the report follows
//
// A client's default access token carries aud = the client itself followed by
// its configured audience, in that order, without duplicates. Values are
// compared exactly (case-sensitive, RFC 7519): "HR-API" is not "hr-api".
// A client with no grant types cannot obtain tokens at all; it is a pure
// API (resource server). Its configured audience is still shown in the
// matrix, because it is what the client would get the day a grant type is
// added, but it is never counted as reaching anything.
//
// # JSON schema (schema_version 1)
//
// WriteJSON writes one object. Arrays are always present (never null) and
// keep configuration order, so the output diffs cleanly between runs.
//
//	{
//	  "schema_version": 1,
//	  "clients": [                      // one per configured client, config order
//	    {
//	      "id": "customer-portal",
//	      "name": "Customer Portal",     // "" when the config gives none
//	      "type": "confidential",        // "public" (no secret) or "confidential"
//	      "grant_types": ["authorization_code", "refresh_token"],
//	      "can_obtain_tokens": true,     // false: no grant types, a pure API
//	      "scopes": ["openid", "orders:read"],
//	      "tags": ["public", "web"]      // policy tags, [] when none
//	    }
//	  ],
//	  "audiences": [                    // the matrix columns
//	    {
//	      "id": "order-status-api",
//	      "kind": "client",              // "client", "external" or "undeclared"
//	      "description": "...",          // external audiences only, omitted if empty
//	      "tags": ["api"]                // [] for undeclared values
//	    }
//	  ],
//	  "matrix": [                       // one row per client, same order as "clients"
//	    {
//	      "client": "customer-portal",
//	      "audience": ["customer-portal", "order-status-api"]  // default aud, token order
//	    }
//	  ],
//	  "reachable_by": [                 // one entry per API, column order
//	    {
//	      "api": "order-status-api",
//	      "kind": "client",
//	      "clients": ["customer-portal", "backoffice-portal", "order-sync-job"]
//	    }
//	  ],
//	  "rules": [                        // the policy rules, config order
//	    {
//	      "name": "only the back office reaches HR",
//	      "kind": "only",                // "deny", "only" or "require"
//	      "description": "...",          // omitted if empty
//	      "summary": "only backoffice-portal may reach hr-api",
//	      "violations": 0                // 0 = the rule passes
//	    }
//	  ],
//	  "violations": [                   // grouped by rule; non-empty fails the audit
//	    {
//	      "rule": "public clients never reach internal APIs",
//	      "kind": "deny",
//	      "client": "customer-portal",   // omitted when it concerns an external audience alone
//	      "audience": "hr-api",          // omitted for require rules
//	      "message": "customer-portal may obtain tokens for hr-api, which the rule denies (...)"
//	    }
//	  ],
//	  "warnings": [                     // lint; fails the audit only with --strict
//	    {"check": "api_without_scopes", "subject": "hr-api", "message": "..."}
//	  ]
//	}
//
// Columns ("audiences") are every client (each is at least its own
// audience), then every declared external audience, then any value a client
// lists that is neither — kind "undeclared", which configuration validation
// should have refused; the audit shows it rather than hiding it.
//
// An API in "reachable_by" is any value that appears in at least one other
// client's configured audience, plus every declared external audience (even
// when no client reaches it, so an unused declaration is visible). Its
// "clients" are the clients that can obtain tokens whose default aud names
// it, including the API itself when it has a grant type of its own.
//
// New fields may be added to schema_version 1; existing ones keep their
// names and meaning. A change that breaks that promise bumps the version.
package audit
