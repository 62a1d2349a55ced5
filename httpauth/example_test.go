package httpauth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/httpauth"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/verify"
)

// The examples stand in for a real issuer with testkit's reproducible key
// and a fixed clock, so their output is stable. In production the verifier
// needs only Issuer and Audience; the keys come from discovery.
var exampleKey = testkit.ES256Key("2026-01")

const exampleIssuer = "https://id.example.com"

func exampleVerifier(audience string) *verify.Verifier {
	v, err := verify.New(context.Background(), verify.Config{
		Issuer:     exampleIssuer,
		Audience:   audience,
		StaticJWKS: testkit.JWKS(exampleKey),
		Clock:      func() time.Time { return testkit.Epoch },
	})
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// exampleToken is a customer-portal token for the portal and the order
// API with the given scope.
func exampleToken(scope string) string {
	return exampleKey.Sign(testkit.AccessClaims(exampleIssuer, "customer-portal", testkit.Epoch,
		scope, "customer-portal", "order-status-api"))
}

// exampleGet sends GET path with an optional bearer token to h and prints
// the answer.
func exampleGet(h http.Handler, path, token string) {
	r := httptest.NewRequest("GET", path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if ch := w.Header().Get("WWW-Authenticate"); ch != "" {
		fmt.Println(w.Code, ch)
		return
	}
	fmt.Println(w.Code, w.Body.String())
}

// An API protects each route with the scopes it needs; the handler reads
// the verified claims from the request context.
func Example() {
	auth := httpauth.New(exampleVerifier("order-status-api"), httpauth.WithRealm("order-status-api"))

	mux := http.NewServeMux()
	mux.Handle("GET /orders/{id}", auth.Require("orders:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := httpauth.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "order %s of %s, via %s", r.PathValue("id"), claims.Subject, claims.ClientID)
	})))
	mux.Handle("POST /orders", auth.Require("orders:write")(http.NotFoundHandler()))

	exampleGet(mux, "/orders/42", exampleToken("openid orders:read"))
	exampleGet(mux, "/orders/42", "")
	exampleGet(mux, "/orders/42", exampleToken("openid"))
	// Output:
	// 200 order 42 of user-1, via customer-portal
	// 401 Bearer realm="order-status-api"
	// 403 Bearer realm="order-status-api", error="insufficient_scope", error_description="The token lacks the scope 'orders:read'", scope="orders:read"
}

// The HR API refuses a token issued for the order API, naming the token's
// audience in the challenge.
func ExampleMiddleware_Handler() {
	hr := httpauth.New(exampleVerifier("hr-api"), httpauth.WithRealm("hr-api"))
	h := hr.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "employees")
	}))
	exampleGet(h, "/employees", exampleToken("openid orders:read"))
	// Output:
	// 401 Bearer realm="hr-api", error="invalid_token", error_description="The audience 'customer-portal order-status-api' is invalid"
}

// The decision hook sees every decision with its reason, for logs or
// metrics; it never receives the token.
func ExampleWithDecisionHook() {
	auth := httpauth.New(exampleVerifier("hr-api"),
		httpauth.WithRealm("hr-api"),
		httpauth.WithDecisionHook(func(r *http.Request, d httpauth.Decision) {
			if d.Allowed {
				fmt.Println("allow", r.URL.Path, d.Claims.ClientID)
				return
			}
			// The cause is a *verify.Error when the token was refused.
			var ve *verify.Error
			if errors.As(d.Err, &ve) {
				fmt.Println("deny", r.URL.Path, d.Err.Status, "check:", ve.Check)
				return
			}
			fmt.Println("deny", r.URL.Path, d.Err.Status, d.Reason())
		}))
	h := auth.Handler(http.NotFoundHandler())
	exampleGet(h, "/employees", "")
	exampleGet(h, "/employees", exampleToken("openid"))
	// Output:
	// deny /employees 401 no bearer token in the Authorization header
	// 401 Bearer realm="hr-api"
	// deny /employees 401 check: aud
	// 401 Bearer realm="hr-api", error="invalid_token", error_description="The audience 'customer-portal order-status-api' is invalid"
}

// Authenticate gives the decision without writing a response, for code
// that acts between the two, such as an access log.
func ExampleMiddleware_Authenticate() {
	auth := httpauth.New(exampleVerifier("order-status-api"), httpauth.WithRealm("order-status-api"))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, err := auth.Authenticate(r, "orders:read")
		if err != nil {
			fmt.Println("refused:", err.Status, err.Code)
			auth.WriteError(w, err)
			return
		}
		fmt.Fprint(w, "accepted: ", claims.Subject)
	})
	exampleGet(h, "/orders/42", exampleToken("openid orders:read"))
	exampleGet(h, "/orders/42", "not a token")
	// Output:
	// 200 accepted: user-1
	// refused: 400 invalid_request
	// 400 Bearer realm="order-status-api", error="invalid_request", error_description="The Authorization header is malformed; send exactly one 'Authorization: Bearer <token>'"
}
