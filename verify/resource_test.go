package verify_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/gatehouse/gatehouse/verify"
)

// TestAudienceCanonical runs the shared canonicalisation table
// (oauth/testdata/resources.json): an API configured with any spelling of
// a URI accepts a token carrying any other spelling of it, ids stay
// exact, and AlsoAudiences accepts a second name of the same API.
func TestAudienceCanonical(t *testing.T) {
	b, err := os.ReadFile("../oauth/testdata/resources.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct{ In, Want, Err string }
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		if tc.Err != "" {
			if _, err := verify.New(context.Background(), verify.Config{Issuer: "https://id.example", Audience: tc.In, StaticJWKS: []byte(`{"keys":[]}`)}); err == nil {
				t.Errorf("Audience %q (%s) accepted", tc.In, tc.Err)
			}
			continue
		}
		for _, pair := range [][2]string{{tc.In, tc.Want}, {tc.Want, tc.In}} {
			e := newEnv(t, func(c *verify.Config) { c.Audience = pair[0] })
			tok := e.key.Sign(e.iss.Claims(client, "", client, pair[1]))
			if _, err := e.v.Verify(context.Background(), tok); err != nil {
				t.Errorf("Audience %q, aud %q: %v", pair[0], pair[1], err)
			}
		}
	}
	e := newEnv(t, func(c *verify.Config) { c.Audience = "https://mcp.example.com/mcp" })
	for _, aud := range []string{"https://mcp.example.com/mcp2", "https://mcp.example.com", "mcp-api", "https://mcp.example.com/MCP"} {
		if _, err := e.v.Verify(context.Background(), e.key.Sign(e.iss.Claims(client, "", aud))); err == nil {
			t.Errorf("aud %q accepted for https://mcp.example.com/mcp", aud)
		}
	}
	both := newEnv(t, func(c *verify.Config) {
		c.Audience, c.AlsoAudiences = "https://mcp.example.com/mcp", []string{"mcp-api"}
	})
	if _, err := both.v.Verify(context.Background(), both.key.Sign(both.iss.Claims(client, "", "mcp-api"))); err != nil {
		t.Errorf("the short id with AlsoAudiences: %v", err)
	}
}
