// The Nimbus OpenID provider driven by openid-client (a certified relying-party library) against a
// real `nimbus serve`: discovery, the authorization code flow with PKCE (this test plays the
// browser and the console: it follows the redirect to the consent request, signs in through the
// API and approves with the Bearer token), ID token checks with nonce, refresh, UserInfo, client
// credentials, revocation, introspection, logout, and the refused cases.
//
// Usage: node --test rp.test.mjs   with NIMBUS_BIN set to the nimbus binary.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';

const binary = process.env.NIMBUS_BIN;
const CODE_TTL_MS = 60_000;
const PASSWORD = 'Lantern-quiet-trombone-42';

let node;
let dataDir;
let issuer;
let consoleToken;
let orgId;
let webClient;   // confidential, code + refresh
let spaClient;   // public, code only
let machine;     // confidential, client_credentials
let expiringCode; // a code obtained first and exchanged last, after it expired

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function api(method, path, { body, token, headers = {} } = {}) {
  const response = await fetch(issuer + path, {
    method,
    redirect: 'manual',
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: response.status, headers: response.headers, text, json };
}

async function form(path, fields, headers = {}) {
  const response = await fetch(issuer + path, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: response.status, headers: response.headers, json: await response.json() };
}

async function signUpAndLogin(email) {
  assert.equal((await api('POST', '/api/v1/auth/signup', {
    body: { email, password: PASSWORD, name: 'Rita Party' },
  })).status, 202);
  // Mail is queued with the sign-up and sent a moment after the answer: wait for it.
  let link;
  for (const deadline = Date.now() + 20000; !link && Date.now() < deadline;) {
    const mailbox = await api('GET', `/api/v1/dev/mailbox?to=${encodeURIComponent(email)}`);
    link = mailbox.json.data.map((m) => m.text.match(/verify-email\?token=([\w-]+)/))
      .find(Boolean);
    if (!link) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.ok(link, 'a verification link was mailed');
  assert.equal((await api('POST', '/api/v1/auth/verify-email', { body: { token: link[1] } })).status, 204);
  const login = await api('POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
  assert.equal(login.status, 200, login.text);
  return login.json.access_token;
}

async function registerClient(body) {
  const created = await api('POST', `/api/v1/orgs/${orgId}/oauth-clients`, { body, token: consoleToken });
  assert.equal(created.status, 201, created.text);
  return created.json;
}

async function configFor(registered, auth) {
  return client.discovery(new URL(issuer), registered.id,
    registered.client_secret ? { client_secret: registered.client_secret } : {},
    auth, { execute: [client.allowInsecureRequests] });
}

/// Plays the browser and the console up to the redirect back to the relying party.
async function authorize(config, registered, { scope = 'openid email profile', nonce = client.randomNonce(), extra = {} } = {}) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: registered.redirect_uris[0],
    scope,
    state,
    nonce,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    ...extra,
  });
  const browser = await fetch(url, { redirect: 'manual' });
  assert.equal(browser.status, 302);
  const consent = new URL(browser.headers.get('location'));
  assert.equal(consent.origin + consent.pathname, `${issuer}/consent`);
  const requestId = consent.searchParams.get('request');
  const shown = await api('GET', `/api/v1/oauth2/requests/${requestId}`, { token: consoleToken });
  assert.equal(shown.status, 200, shown.text);
  assert.equal(shown.json.client_name, registered.name);
  const decided = await api('POST', `/api/v1/oauth2/requests/${requestId}/decision`, {
    body: { approve: true }, token: consoleToken,
  });
  assert.equal(decided.status, 200, decided.text);
  return { callback: new URL(decided.json.redirect_to), verifier, state, nonce, url };
}

before(async () => {
  assert.ok(binary, 'NIMBUS_BIN names the nimbus binary');
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  dataDir = mkdtempSync(join(tmpdir(), 'nimbus-oidc-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('NIMBUS_')));
  node = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', join(dataDir, 'data'),
    '--console-dir', '/nonexistent',
    '--set', `identity.issuer=${issuer}`,
    '--set', 'mail.dev_mailbox=true',
    '--set', 'identity.argon2_ops_limit=1',
    '--set', 'identity.argon2_mem_limit_kib=8'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise((resolve, reject) => {
    node.stderr.on('data', (chunk) => {
      log += chunk;
      if (log.includes('"message":"nimbus is ready"')) resolve();
    });
    node.once('exit', (code) => reject(new Error(`nimbus exited (${code}):\n${log}`)));
  });

  consoleToken = await signUpAndLogin('rita@example.com');
  const org = await api('POST', '/api/v1/orgs', { body: { name: 'Relying Co' }, token: consoleToken });
  assert.equal(org.status, 201, org.text);
  orgId = org.json.id;
  webClient = await registerClient({
    name: 'Web app', type: 'confidential',
    redirect_uris: [`http://localhost:${port}/rp/callback`],
    post_logout_redirect_uris: [`http://localhost:${port}/rp/bye`],
    grant_types: ['authorization_code', 'refresh_token'],
    scopes: ['openid', 'email', 'profile', 'account.self'],
  });
  spaClient = await registerClient({
    name: 'Single page app', type: 'public',
    redirect_uris: ['http://localhost:5173/callback'],
    grant_types: ['authorization_code'],
    scopes: ['openid', 'email'],
  });
  machine = await registerClient({
    name: 'Reporting job', type: 'confidential',
    grant_types: ['client_credentials'],
    scopes: ['org.read'],
  });
  // A code left to expire while the other tests run (codes live 60 s).
  const config = await configFor(webClient, client.ClientSecretBasic(webClient.client_secret));
  expiringCode = { ...(await authorize(config, webClient)), config, at: Date.now() };
});

after(() => {
  node?.kill('SIGKILL');
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('discovery document', async () => {
  const config = await configFor(webClient, client.ClientSecretBasic(webClient.client_secret));
  const metadata = config.serverMetadata();
  assert.equal(metadata.issuer, issuer);
  assert.deepEqual(metadata.code_challenge_methods_supported, ['S256']);
  assert.ok(metadata.id_token_signing_alg_values_supported.includes('ES256'));
  assert.equal(metadata.token_endpoint, `${issuer}/oauth2/token`);
  assert.equal(metadata.end_session_endpoint, `${issuer}/oauth2/logout`);
});

test('code flow with PKCE: ID token, UserInfo, refresh, introspection, revocation', async () => {
  const config = await configFor(webClient, client.ClientSecretBasic(webClient.client_secret));
  const nonce = client.randomNonce();
  const flow = await authorize(config, webClient, { nonce, scope: 'openid email profile account.self' });
  const tokens = await client.authorizationCodeGrant(config, flow.callback, {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, webClient.id);
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.email, 'rita@example.com');
  assert.equal(claims.name, 'Rita Party');
  assert.ok(claims.auth_time > 0 && claims.at_hash);

  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info.email, 'rita@example.com');
  assert.equal(info.email_verified, true);

  // The delegated access token works on /api/v1 within its scope.
  const me = await api('GET', '/api/v1/me', { token: tokens.access_token });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.json.id, claims.sub);
  // ...but it cannot decide consent requests on the user's behalf.
  const sneaky = await api('GET', '/api/v1/oauth2/requests/oar_01JD2W3X4Y5Z6A7B8C9D0E1F2G', { token: tokens.access_token });
  assert.equal(sneaky.status, 403);

  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(introspected.active, true);
  assert.equal(introspected.client_id, webClient.id);

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
  assert.ok(refreshed.access_token && refreshed.refresh_token);
  assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
  assert.equal(refreshed.claims().sub, claims.sub);

  // Revoke the current refresh token: it stops working and the grant's tokens go inactive.
  await client.tokenRevocation(config, refreshed.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token),
    (error) => error.error === 'invalid_grant');
  assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false);
  await assert.rejects(client.fetchUserInfo(config, refreshed.access_token, claims.sub));

  // RP-initiated logout with a registered post_logout_redirect_uri.
  const logout = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token, post_logout_redirect_uri: webClient.post_logout_redirect_uris[0],
    state: 'bye-state',
  });
  const ended = await fetch(logout, { redirect: 'manual' });
  assert.equal(ended.status, 302);
  assert.equal(ended.headers.get('location'), `${webClient.post_logout_redirect_uris[0]}?state=bye-state`);
});

test('refresh token reuse revokes the family', async () => {
  const config = await configFor(webClient, client.ClientSecretPost(webClient.client_secret));
  const flow = await authorize(config, webClient);
  const tokens = await client.authorizationCodeGrant(config, flow.callback, {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce,
  });
  const next = await client.refreshTokenGrant(config, tokens.refresh_token);
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token),
    (error) => error.error === 'invalid_grant');
  await assert.rejects(client.refreshTokenGrant(config, next.refresh_token),
    (error) => error.error === 'invalid_grant');
});

test('public client: PKCE without a secret', async () => {
  const config = await configFor(spaClient, client.None());
  const flow = await authorize(config, spaClient, { scope: 'openid email' });
  const tokens = await client.authorizationCodeGrant(config, flow.callback, {
    pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce,
  });
  assert.equal(tokens.claims().aud, spaClient.id);
  assert.equal(tokens.refresh_token, undefined);
});

test('client credentials for a machine client', async () => {
  const config = await configFor(machine, client.ClientSecretBasic(machine.client_secret));
  const tokens = await client.clientCredentialsGrant(config, { scope: 'org.read' });
  assert.equal(tokens.scope, 'org.read');
  const introspected = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(introspected.active, true);
  assert.equal(introspected.sub, machine.id);
  assert.equal(introspected.org_id, orgId);
  // The machine token acts inside its own organization only.
  const own = await api('GET', `/api/v1/orgs/${orgId}`, { token: tokens.access_token });
  assert.equal(own.status, 200, own.text);
  await client.tokenRevocation(config, tokens.access_token);
  assert.equal((await client.tokenIntrospection(config, tokens.access_token)).active, false);
  await assert.rejects(client.clientCredentialsGrant(config, { scope: 'org.delete' }),
    (error) => error.error === 'invalid_scope');
});

test('refused: wrong redirect URI, reused code, wrong verifier', async () => {
  const config = await configFor(webClient, client.ClientSecretBasic(webClient.client_secret));
  // A redirect URI that is not registered is shown as an error, never redirected to.
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: 'https://evil.example.com/cb', scope: 'openid', state: 's',
    code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
    code_challenge_method: 'S256',
  });
  const shown = await fetch(url, { redirect: 'manual' });
  assert.equal(shown.status, 400);
  assert.equal(shown.headers.get('location'), null);
  assert.match(shown.headers.get('content-type'), /application\/problem\+json/);

  const flow = await authorize(config, webClient);
  const checks = { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce };
  const tokens = await client.authorizationCodeGrant(config, flow.callback, checks);
  await assert.rejects(client.authorizationCodeGrant(config, flow.callback, checks),
    (error) => error.error === 'invalid_grant');
  // The reuse ended the grant of the first exchange.
  await assert.rejects(client.refreshTokenGrant(config, tokens.refresh_token),
    (error) => error.error === 'invalid_grant');

  const other = await authorize(config, webClient);
  await assert.rejects(client.authorizationCodeGrant(config, other.callback, {
    pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: other.state,
    expectedNonce: other.nonce,
  }), (error) => error.error === 'invalid_grant');
});

test('refused: malformed and oversized parameters get clean errors', async () => {
  const basic = { authorization: `Basic ${Buffer.from(`${webClient.id}:${webClient.client_secret}`).toString('base64')}` };
  let answer = await form('/oauth2/token', { grant_type: 'authorization_code', code: 'x'.repeat(1500), redirect_uri: webClient.redirect_uris[0], code_verifier: 'v'.repeat(43) }, basic);
  assert.equal(answer.status, 400, JSON.stringify(answer.json));
  assert.equal(answer.json.error, 'invalid_request');
  answer = await form('/oauth2/token', { grant_type: 'password', username: 'a', password: 'b' }, basic);
  assert.equal(answer.json.error, 'unsupported_grant_type');
  answer = await form('/oauth2/token', { grant_type: 'authorization_code' }, { authorization: 'Basic !!!' });
  assert.equal(answer.status, 401);
  assert.equal(answer.json.error, 'invalid_client');
  const raw = await fetch(`${issuer}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...basic }, body: 'grant_type=%zz' });
  // Broken percent-encoding: the firewall (CRS 920220) or the form parser refuses it.
  assert.ok([400, 403].includes(raw.status), `status ${raw.status}`);
  assert.equal((await raw.json()).access_token, undefined);
  const json = await fetch(`${issuer}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/json', ...basic }, body: '{}' });
  assert.equal((await json.json()).error, 'invalid_request');
  const huge = await fetch(`${issuer}/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a='.padEnd(64 * 1024, 'x') });
  assert.equal(huge.status, 413);
  const badAuthorize = await fetch(`${issuer}/oauth2/authorize?client_id=%zz`, { redirect: 'manual' });
  assert.ok([400, 403].includes(badAuthorize.status), `status ${badAuthorize.status}`);
  assert.equal(badAuthorize.headers.get('location'), null);
  const unknownClient = await fetch(`${issuer}/oauth2/authorize?client_id=cli_nope&redirect_uri=https%3A%2F%2Fa`, { redirect: 'manual' });
  assert.equal(unknownClient.status, 400);
  assert.equal(unknownClient.headers.get('location'), null);
  const badLogout = await fetch(`${issuer}/oauth2/logout?id_token_hint=forged&post_logout_redirect_uri=https%3A%2F%2Fevil.example`, { redirect: 'manual' });
  assert.equal(badLogout.status, 400);
  const badRegistration = await api('POST', `/api/v1/orgs/${orgId}/oauth-clients`, {
    body: { name: 'x', type: 'public', redirect_uris: ['http://evil.example.com/cb'] }, token: consoleToken,
  });
  assert.equal(badRegistration.status, 400);
});

test('refused: an expired code', async () => {
  const waited = Date.now() - expiringCode.at;
  if (waited <= CODE_TTL_MS) {
    await new Promise((resolve) => setTimeout(resolve, CODE_TTL_MS - waited + 1500));
  }
  await assert.rejects(client.authorizationCodeGrant(expiringCode.config, expiringCode.callback, {
    pkceCodeVerifier: expiringCode.verifier, expectedState: expiringCode.state,
    expectedNonce: expiringCode.nonce,
  }), (error) => error.error === 'invalid_grant');
});
