// An MCP client built with the official TypeScript SDK, for
// mcp_ts_test.go: it connects to an MCP server that needs a token, prints
// the authorization URL the SDK builds ("AUTHORIZE <url>"), reads the code
// from standard input once the test has signed the person in, finishes the
// SDK's authorization (token request with PKCE and resource), calls the
// order_status tool and prints its result ("RESULT <json>").
//
// usage: node mcp-ts-client.mjs SERVER_URL CLIENT_ID_METADATA_URL REDIRECT_URL
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import readline from 'node:readline';

const [serverUrl, clientIdUrl, redirectUrl] = process.argv.slice(2);
let tokens;
let verifier;
let clientInfo;
const provider = {
  get redirectUrl() { return redirectUrl; },
  clientMetadataUrl: clientIdUrl,
  get clientMetadata() {
    return { client_name: 'ts-sdk-client', redirect_uris: [redirectUrl], grant_types: ['authorization_code'],
      response_types: ['code'], token_endpoint_auth_method: 'none' };
  },
  clientInformation() { return clientInfo; },
  saveClientInformation(info) { clientInfo = info; },
  tokens() { return tokens; },
  saveTokens(t) { tokens = t; },
  redirectToAuthorization(url) { console.log('AUTHORIZE ' + url.toString()); },
  saveCodeVerifier(v) { verifier = v; },
  codeVerifier() { return verifier; },
};

const transport = () => new StreamableHTTPClientTransport(new URL(serverUrl), { authProvider: provider });
let client = new Client({ name: 'ts-sdk-client', version: '1.0.0' });
const first = transport();
try {
  await client.connect(first);
} catch (e) {
  if (!(e instanceof UnauthorizedError)) throw e;
  const rl = readline.createInterface({ input: process.stdin });
  const code = await new Promise((resolve) => rl.once('line', resolve));
  rl.close();
  await first.finishAuth(code.trim());
  client = new Client({ name: 'ts-sdk-client', version: '1.0.0' });
  await client.connect(transport());
}
const res = await client.callTool({ name: 'order_status', arguments: { order: '42' } });
console.log('RESULT ' + JSON.stringify(res.structuredContent));
console.log('TOKEN ' + tokens.access_token);
await client.close();
