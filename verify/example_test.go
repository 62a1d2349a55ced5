package verify_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// The examples stand in for a real issuer with testkit's reproducible keys
// and a fixed clock, so their output is stable.
var (
	exampleKey   = testkit.ES256Key("2026-01")
	exampleNow   = testkit.Epoch
	exampleClock = func() time.Time { return exampleNow }
)

const exampleIssuer = "https://id.example.com"

// exampleToken is what the issuer would hand the customer portal: aud
// customer-portal and order-status-api, scope openid orders:read.
func exampleToken() string {
	return exampleKey.Sign(testkit.AccessClaims(exampleIssuer, "customer-portal", exampleNow,
		"openid orders:read", "customer-portal", "order-status-api"))
}

func exampleVerifier(audience string) *verify.Verifier {
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:     exampleIssuer,
		Audience:   audience,
		StaticJWKS: testkit.JWKS(exampleKey), // in production: omit, keys come from discovery
		Clock:      exampleClock,
	})
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// A resource server creates one Verifier for its own audience at start-up
// and checks each request's bearer token with the scopes the route needs.
func Example() {
	orders := exampleVerifier("order-status-api")

	claims, err := orders.Verify(context.Background(), exampleToken(), "orders:read")
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("subject:", claims.Subject)
	fmt.Println("client:", claims.ClientID)
	fmt.Println("audience:", claims.Audience)
	fmt.Println("scopes:", claims.Scopes)
	// Output:
	// subject: user-1
	// client: customer-portal
	// audience: customer-portal order-status-api
	// scopes: [openid orders:read]
}

// New with only Issuer and Audience discovers the JWKS through
// https://id.example.com/.well-known/openid-configuration.
func ExampleNew() {
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:    "https://id.example.com",
		Audience:  "order-status-api",
		CacheSize: 10_000, // optional: answer repeated tokens without a signature check
	})
	if err != nil {
		log.Print(err) // no issuer here; a real service would exit
		return
	}
	http.Handle("/orders", ordersHandler(v))
}

func ordersHandler(v *verify.Verifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="orders"`)
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		claims, err := v.Verify(r.Context(), token, "orders:read")
		var ve *verify.Error
		switch {
		case errors.As(err, &ve) && ve.InsufficientScope():
			w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+ve.Want+`"`)
			http.Error(w, "", http.StatusForbidden)
			return
		case errors.As(err, &ve):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+ve.Description()+`"`)
			http.Error(w, "", http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, "orders of %s\n", claims.Subject)
	})
}

// A token for the customer portal and the order API is refused by the HR
// API, and the error names the token's audience.
func ExampleVerifier_Verify_wrongAudience() {
	hr := exampleVerifier("hr-api")

	_, err := hr.Verify(context.Background(), exampleToken())
	var ve *verify.Error
	if errors.As(err, &ve) {
		fmt.Println("check:", string(ve.Check))
		fmt.Println("is audience failure:", errors.Is(err, verify.CheckAudience))
		fmt.Println("error_description:", ve.Description())
	}
	// Output:
	// check: aud
	// is audience failure: true
	// error_description: The audience 'customer-portal order-status-api' is invalid
}

// A valid token without a scope the route needs is an insufficient_scope
// error (RFC 6750 §3.1: HTTP 403), naming the scopes.
func ExampleVerifier_Verify_missingScope() {
	orders := exampleVerifier("order-status-api")

	_, err := orders.Verify(context.Background(), exampleToken(), "orders:read", "orders:write")
	var ve *verify.Error
	if errors.As(err, &ve) && ve.InsufficientScope() {
		fmt.Println("missing:", ve.Value)
		fmt.Println("scope attribute:", ve.Want)
	}
	// Output:
	// missing: orders:write
	// scope attribute: orders:read orders:write
}

// Explain shows every check with its outcome and, for failures, a hint.
func ExampleVerifier_Explain() {
	hr := exampleVerifier("hr-api")

	x := hr.Explain(context.Background(), exampleToken())
	for _, s := range x.Steps {
		switch {
		case s.OK:
			fmt.Printf("%-9s ok\n", s.Check)
		case s.Skipped != "":
			fmt.Printf("%-9s skipped: %s\n", s.Check, s.Skipped)
		default:
			fmt.Printf("%-9s FAIL: %s\n          hint: %s\n", s.Check, s.Err.Reason, s.Hint)
		}
	}
	fmt.Println("accepted:", x.Accepted())
	// Output:
	// size      ok
	// format    ok
	// alg       ok
	// typ       ok
	// crit      ok
	// key       ok
	// signature ok
	// iss       ok
	// aud       FAIL: aud [customer-portal order-status-api] does not contain hr-api
	//           hint: this token was issued to customer-portal, whose audience does not include hr-api; add hr-api to its audience in the identity provider or request it with resource=hr-api
	// exp       ok
	// nbf       ok
	// iat       ok
	// cnf       ok
	// scope     ok
	// accepted: false
}
