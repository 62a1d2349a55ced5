package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/verify"
)

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Inspect access tokens",
	}
	cmd.AddCommand(newExplainCmd())
	return cmd
}

func newExplainCmd() *cobra.Command {
	var issuer, audience, jwksURL string
	var scopes []string
	var insecureHTTP bool
	cmd := &cobra.Command{
		Use:   "explain --issuer URL --audience ID [--scope S]... [TOKEN | -]",
		Short: "Run every check an API would run on a token, and say why it passes or fails",
		Long: `Decode an access token, run every check the verify package runs for the given
recipient (size, format, alg, typ, crit, key, signature, iss, aud, exp, nbf, iat,
scope) and print each as pass or fail with the reason and a hint to fix it.

The token is the argument, or read from standard input when the argument is "-"
or missing. The issuer's keys are fetched through its discovery document.
Exit status: 0 when the token is accepted, 1 when it is rejected, 2 on other errors.

Example:
  gatehouse token explain --issuer http://127.0.0.1:8080 --audience hr-api "$TOKEN"`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tok, err := readToken(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			v, err := verify.New(cmd.Context(), verify.Config{
				Issuer: issuer, Audience: audience, JWKSURL: jwksURL, InsecureAllowHTTP: insecureHTTP,
				RefreshInterval: -1,
			})
			if err != nil {
				return err
			}
			x := v.Explain(cmd.Context(), tok, scopes...)
			printExplanation(cmd.OutOrStdout(), x, issuer, audience, time.Now())
			if !x.Accepted() {
				return exitError(1)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&issuer, "issuer", "", "the issuer URL the API trusts (exact iss)")
	f.StringVar(&audience, "audience", "", "the API's id: the value that must appear in aud")
	f.StringArrayVar(&scopes, "scope", nil, "a scope the API requires (repeatable)")
	f.StringVar(&jwksURL, "jwks-url", "", "fetch keys from this URL instead of discovery")
	f.BoolVar(&insecureHTTP, "insecure-allow-http", false, "allow plain-http key fetching off loopback (trusted networks only)")
	_ = cmd.MarkFlagRequired("issuer")
	_ = cmd.MarkFlagRequired("audience")
	return cmd
}

// readToken takes the token from the argument or standard input. What is
// pasted is often a little more than the token: surrounding white space,
// quotes (a JSON string value, a shell-quoted copy: "…" or '…'), an
// "Authorization:" header name or a "Bearer " prefix, in any nesting. Those
// wrappers are removed; anything else that cannot be part of a JWS compact
// serialization (inner white space or quotes, an unmatched quote) is
// refused here with a message saying what is wrong, since the format check
// would only report "not a JWT".
func readToken(in io.Reader, args []string) (string, error) {
	var tok string
	if len(args) == 1 && args[0] != "-" {
		tok = args[0]
	} else {
		b, err := io.ReadAll(io.LimitReader(bufio.NewReader(in), 1<<20))
		if err != nil {
			return "", err
		}
		tok = string(b)
	}
	return cleanToken(tok)
}

// cleanToken unwraps a pasted token; see readToken.
func cleanToken(tok string) (string, error) {
	for {
		before := tok
		tok = strings.TrimSpace(tok)
		if len(tok) > 14 && strings.EqualFold(tok[:14], "authorization:") {
			tok = tok[14:]
		}
		tok = strings.TrimSpace(tok)
		if len(tok) > 7 && strings.EqualFold(tok[:7], "bearer ") {
			tok = tok[7:]
		}
		for _, q := range []string{`"`, "'"} {
			if len(tok) >= 2 && strings.HasPrefix(tok, q) && strings.HasSuffix(tok, q) {
				tok = tok[1 : len(tok)-1]
			}
		}
		if tok == before {
			break
		}
	}
	switch {
	case tok == "" || strings.EqualFold(tok, "bearer"):
		return "", errors.New("no token: pass it as the argument or on standard input")
	case strings.ContainsAny(tok[:1], `"'`) || strings.ContainsAny(tok[len(tok)-1:], `"'`):
		return "", errors.New("the token has a quote at one end but not the other: paste it without quotes, or with a matching pair")
	case strings.ContainsAny(tok, "\"'"):
		return "", errors.New("the token contains a quote: a JWT is three base64url parts joined by dots; paste only the token")
	case strings.IndexFunc(tok, unicode.IsSpace) >= 0:
		return "", errors.New("the token contains white space: a JWT is three base64url parts joined by dots; paste it on one line, without the header name or other text")
	}
	return tok, nil
}

func printExplanation(w io.Writer, x *verify.Explanation, issuer, audience string, now time.Time) {
	fmt.Fprintf(w, "Checking a token for recipient %q of issuer %s\n\n", audience, issuer)
	if x.Header != nil {
		fmt.Fprintf(w, "header: %s\n", compactJSON(x.Header))
	}
	if x.Payload != nil {
		fmt.Fprintf(w, "claims: %s\n", indentJSON(x.Payload))
	}
	if c := x.Claims; c != nil {
		if actors, err := c.Actors(); err == nil && len(actors) > 0 {
			// RFC 8693 act: who passed the subject's request on, latest
			// first; the path reads the other way round.
			path := []string{c.Subject}
			for i := len(actors) - 1; i >= 0; i-- {
				path = append(path, actors[i])
			}
			fmt.Fprintf(w, "delegated: %s (act, the current actor last)\n", terminalSafe(strings.Join(path, " → ")))
		}
		var bound struct {
			Cnf struct {
				JKT string `json:"jkt"`
			} `json:"cnf"`
		}
		if c.Unmarshal(&bound) == nil && bound.Cnf.JKT != "" {
			fmt.Fprintf(w, "bound:     to the DPoP key with thumbprint %s (cnf.jkt, RFC 9449): usable only as\n"+
				"           Authorization: DPoP with a proof signed by that key, never as Bearer\n", terminalSafe(bound.Cnf.JKT))
		}
	}
	if c := x.Claims; c != nil && !c.Expiry.IsZero() {
		if d := c.Expiry.Sub(now).Round(time.Second); d > 0 {
			fmt.Fprintf(w, "expires in %s (%s)\n", d, c.Expiry.UTC().Format(time.RFC3339))
		} else {
			fmt.Fprintf(w, "expired %s ago (%s)\n", -d, c.Expiry.UTC().Format(time.RFC3339))
		}
	}
	fmt.Fprintln(w)
	for _, s := range x.Steps {
		switch {
		case s.OK:
			fmt.Fprintf(w, "  PASS  %s\n", s.Check)
		case s.Skipped != "":
			fmt.Fprintf(w, "  SKIP  %-9s %s\n", s.Check, s.Skipped)
		default:
			reason := ""
			if s.Err != nil {
				reason = s.Err.Description()
			}
			fmt.Fprintf(w, "  FAIL  %-9s %s\n", s.Check, terminalSafe(reason))
			if s.Hint != "" {
				fmt.Fprintf(w, "        %-9s fix: %s\n", "", terminalSafe(s.Hint))
			}
		}
	}
	fmt.Fprintln(w)
	if x.Accepted() {
		fmt.Fprintf(w, "ACCEPTED: %s would accept this token.\n", audience)
		return
	}
	var ve *verify.Error
	if errors.As(x.Err, &ve) {
		fmt.Fprintf(w, "REJECTED at check %q: %s\n", ve.Check, terminalSafe(ve.Description()))
		return
	}
	fmt.Fprintf(w, "REJECTED: %s\n", terminalSafe(x.Err.Error()))
}

// compactJSON and indentJSON format a token's header or payload for the
// terminal. The bytes are the token's, whoever made it: they are escaped,
// and a part that is not JSON is shown escaped as it is.
func compactJSON(b []byte) string {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return terminalSafe(string(b))
	}
	return terminalSafe(out.String())
}

func indentJSON(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "        ", "  ") != nil {
		return terminalSafe(string(b))
	}
	// The line breaks are Indent's own (a JSON string cannot hold a raw
	// one), so only the text between them is escaped.
	lines := strings.Split(out.String(), "\n")
	for i, l := range lines {
		lines[i] = terminalSafe(l)
	}
	return strings.Join(lines, "\n")
}

// terminalSafe escapes what a terminal would act on rather than show
// (CWE-150): control characters (C0 including ESC and line breaks, DEL,
// C1), format characters such as the bidirectional overrides, other
// non-printing runes, and invalid UTF-8 become Go escapes (\x1b, \u202e,
// \xff). A token's text could otherwise rewrite the screen, fake an
// ACCEPTED line, or reorder what is shown.
func terminalSafe(s string) string {
	i := 0
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !unicode.IsPrint(r) {
			break
		}
		i += size
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\x1b', '\u202e': never the rune itself
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}
