// Command dpop-client is a small DPoP client (RFC 9449) for the shop: it
// makes a key pair, obtains a client_credentials token bound to it from
// Gatehouse, and calls the Order Status API with the DPoP scheme. The
// proofs are built with go-jose, a JOSE library independent of Gatehouse.
// Then it plays the thief: the same token sent as Bearer, and with a proof
// by another key, and shows what each gets.
//
//	go run ./examples/dpop-client --client order-sync-job --secret sync-job-secret-change-me \
//	  --url http://127.0.0.1:8081/orders/42
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func main() {
	issuer := flag.String("issuer", "http://127.0.0.1:8080", "the Gatehouse issuer URL")
	client := flag.String("client", "order-sync-job", "client id")
	secret := flag.String("secret", "", "client secret")
	resource := flag.String("resource", "order-status-api", "the API to get a token for")
	api := flag.String("url", "http://127.0.0.1:8081/orders/42", "the API URL to call")
	flag.Parse()
	if err := run(os.Stdout, *issuer, *client, *secret, *resource, *api); err != nil {
		fmt.Fprintln(os.Stderr, "dpop-client:", err)
		os.Exit(1)
	}
}

// holder is a DPoP key and what proves its possession.
type holder struct{ key *ecdsa.PrivateKey }

func newHolder() (holder, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return holder{k}, err
}

// proof signs a DPoP proof JWT (RFC 9449 §4.2) for one request; with an
// access token it carries ath, its hash.
func (h holder) proof(method, target, accessToken string) (string, error) {
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	u.RawQuery, u.Fragment = "", "" // htu has neither (§4.2)
	claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": u.String(), "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: h.key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// thumbprint is the key's RFC 7638 thumbprint: the token's cnf.jkt.
func (h holder) thumbprint() string {
	tp, _ := (&jose.JSONWebKey{Key: &h.key.PublicKey}).Thumbprint(crypto.SHA256)
	return base64.RawURLEncoding.EncodeToString(tp)
}

func run(w io.Writer, issuer, client, secret, resource, api string) error {
	me, err := newHolder()
	if err != nil {
		return err
	}
	tok, typ, err := token(me, issuer, client, secret, resource)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "token_type: %s, cnf.jkt is this key's thumbprint: %t\n", typ, boundTo(tok) == me.thumbprint())
	fmt.Fprintf(w, "with DPoP:       %s\n", call(me, api, "DPoP", tok))
	// A thief has the token but not the key.
	fmt.Fprintf(w, "stolen, Bearer:  %s\n", call(holder{}, api, "Bearer", tok))
	thief, err := newHolder()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "stolen, own key: %s\n", call(thief, api, "DPoP", tok))
	return nil
}

// boundTo reads the token's cnf.jkt (RFC 9449 §6.1) without verifying it:
// the client only looks at what it was given.
func boundTo(tok string) string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	json.Unmarshal(payload, &c)
	return c.Cnf.JKT
}

// token obtains a DPoP-bound token with the client_credentials grant.
func token(h holder, issuer, client, secret, resource string) (tok, typ string, err error) {
	p, err := h.proof(http.MethodPost, issuer+"/token", "")
	if err != nil {
		return "", "", err
	}
	form := url.Values{"grant_type": {"client_credentials"}, "resource": {resource}}
	req, err := http.NewRequest(http.MethodPost, issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(client), url.QueryEscape(secret))
	req.Header.Set("DPoP", p)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return "", "", err
	}
	if body.AccessToken == "" {
		return "", "", errors.New(body.Error + ": " + body.Description)
	}
	return body.AccessToken, body.TokenType, nil
}

// call GETs api with the token under scheme, with a proof by h when h has
// a key, and summarises the answer on one line.
func call(h holder, api, scheme, tok string) string {
	req, err := http.NewRequest(http.MethodGet, api, nil)
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Authorization", scheme+" "+tok)
	if h.key != nil {
		p, err := h.proof(http.MethodGet, api, tok)
		if err != nil {
			return err.Error()
		}
		req.Header.Set("DPoP", p)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK {
		return fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
}
