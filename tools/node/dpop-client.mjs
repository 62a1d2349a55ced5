// A DPoP client nobody here wrote: oauth4webapi (panva), unmodified, run by
// TestDPoPInteropOauth4webapi against a real Gatehouse and gatehouse proxy.
// It discovers the issuer, makes an ES256 key pair, obtains a
// client_credentials token bound to it (answering a use_dpop_nonce
// challenge as the library does), and calls the API with the DPoP scheme.
// Prints one JSON line: the token response's token_type, the API's status
// and body, and what the API answered when the token was sent as Bearer.
import * as oauth from 'oauth4webapi';

const [issuer, clientId, clientSecret, resource, api] = process.argv.slice(2);
const insecure = { [oauth.allowInsecureRequests]: true };
const as = await oauth.processDiscoveryResponse(new URL(issuer),
  await oauth.discoveryRequest(new URL(issuer), { algorithm: 'oauth2', ...insecure }));
const client = { client_id: clientId };
const keyPair = await oauth.generateKeyPair('ES256');
const DPoP = oauth.DPoP(client, keyPair);

async function token() {
  const res = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(clientSecret),
    { resource }, { DPoP, ...insecure });
  return oauth.processClientCredentialsResponse(as, client, res);
}
let tok, nonceRetry = false;
try {
  tok = await token();
} catch (err) {
  if (!oauth.isDPoPNonceError(err)) throw err;
  nonceRetry = true;
  tok = await token(); // the handle has kept the server's nonce
}
const call = await oauth.protectedResourceRequest(tok.access_token, 'GET', new URL(api), new Headers(), null,
  { DPoP, ...insecure });
const bearer = await fetch(api, { headers: { authorization: `Bearer ${tok.access_token}` } });
console.log(JSON.stringify({
  token_type: tok.token_type, nonce_retry: nonceRetry,
  status: call.status, body: await call.text(),
  bearer_status: bearer.status, bearer_challenge: bearer.headers.get('www-authenticate'),
}));
