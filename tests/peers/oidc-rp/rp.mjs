// openid-client v6, unmodified, as the relying party of a ScaiKey issuer.
//
//   node rp.mjs '{"issuer": "...", "client_id": "...", "client_secret": "..." | null,
//                 "auth_method": "client_secret_basic" | "client_secret_post",
//                 "id_token_alg": "RS256" | "ES256" | "EdDSA",
//                 "redirect_uri": "...", "post_logout_redirect_uri": "...",
//                 "username": "...", "password": "...", "scope": "openid ...",
//                 "introspector": {"client_id": "...", "client_secret": "..."}}'
//
// Without client_secret the client is public (SPA: `client.None()`); then
// introspection, which needs a confidential client, uses `introspector`.
// Prints one JSON object of observations; exits 1 with "FAILED: ..." on the
// first thing that does not behave as openid-client and the RFCs expect.

import * as client from 'openid-client';

import { Browser, check, configure, errorInfo, expectedAtHash, jwtParts, login, readConfig, run } from './lib.mjs';

/// An openid-client call that must fail with an OAuth error; returns it.
async function mustFail(what, fn) {
  try {
    await fn();
  } catch (e) {
    return errorInfo(e);
  }
  throw new Error(`${what} succeeded but must fail`);
}

async function authorizationRequest(config, cfg) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope ?? 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, pkceCodeVerifier, state, nonce };
}

function checkCallback(callback, cfg, req, issuer) {
  check(callback.startsWith(`${cfg.redirect_uri}?`), `the login ended at ${callback}, not at the redirect_uri ${cfg.redirect_uri}`);
  const p = new URL(callback).searchParams;
  check(!p.get('error'), `the authorization response is an error: ${callback}`);
  check(p.get('code'), `no code in ${callback}`);
  check(p.get('state') === req.state, `state in ${callback} is not ${req.state}`);
  check(p.get('iss') === issuer, `iss in ${callback} is not ${issuer}`);
}

async function main() {
  const cfg = readConfig();
  const confidential = Boolean(cfg.client_secret);
  const config = await configure(cfg.issuer, cfg.client_id, cfg.client_secret, {
    authMethod: cfg.auth_method,
    idTokenAlg: cfg.id_token_alg,
  });
  const meta = config.serverMetadata();
  check(meta.issuer === cfg.issuer, `discovery issuer ${meta.issuer} is not ${cfg.issuer}`);
  const introspector = confidential
    ? config
    : cfg.introspector
      ? await configure(cfg.issuer, cfg.introspector.client_id, cfg.introspector.client_secret)
      : null;
  const out = {
    client_type: confidential ? 'confidential' : 'public',
    discovery: {
      issuer: meta.issuer,
      authorization_endpoint: meta.authorization_endpoint,
      end_session_endpoint: meta.end_session_endpoint,
      code_challenge_methods_supported: meta.code_challenge_methods_supported,
    },
  };

  // 1. Authorization code + PKCE through the hosted login.
  const browser = new Browser();
  const req = await authorizationRequest(config, cfg);
  const { callback, notes } = await login(browser, req.url.href, {
    username: cfg.username,
    password: cfg.password,
    wrongPasswordFirst: true,
  });
  checkCallback(callback, cfg, req, cfg.issuer);
  out.login = { ...notes, callback_has_iss: true };

  const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
    pkceCodeVerifier: req.pkceCodeVerifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  check(claims, 'no ID token claims');
  const idt = jwtParts(tokens.id_token);
  const at = jwtParts(tokens.access_token);
  check(claims.at_hash === expectedAtHash(tokens.access_token, idt.header.alg), `at_hash ${claims.at_hash} does not match the access token`);
  out.tokens = {
    token_type: tokens.token_type,
    expires_in: tokens.expiresIn(),
    scope: tokens.scope,
    has_refresh_token: Boolean(tokens.refresh_token),
    id_token_header: idt.header,
    access_token_header: at.header,
    access_token_claims: at.payload,
  };
  out.id_token = { ...claims, at_hash_valid: true };

  // 2. userinfo (openid-client checks sub against the ID token's).
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  out.userinfo = userinfo;

  // 3. Refresh rotation, reuse detection, family revocation.
  const r1 = tokens.refresh_token;
  check(r1, 'the code grant returned no refresh token');
  const refreshed = await client.refreshTokenGrant(config, r1);
  const r2 = refreshed.refresh_token;
  check(r2, 'the refresh returned no new refresh token');
  const refreshedClaims = refreshed.claims();
  out.refresh = {
    rotated: r2 !== r1,
    new_access_token_differs: refreshed.access_token !== tokens.access_token,
    id_token_sub: refreshedClaims?.sub ?? null,
    id_token_sid: refreshedClaims?.sid ?? null,
    reuse_old: await mustFail('reusing the rotated refresh token', () => client.refreshTokenGrant(config, r1)),
    newest_after_reuse: await mustFail('the newest refresh token after reuse', () => client.refreshTokenGrant(config, r2)),
  };
  if (introspector) {
    out.refresh.family_access_token_after_reuse = await client.tokenIntrospection(introspector, refreshed.access_token);
  }

  // 4. A second authorization in the same browser completes by SSO, no login page.
  const sso = await authorizationRequest(config, cfg);
  const ssoRes = await browser.request(sso.url.href);
  check(ssoRes.status === 303, `SSO authorize answered ${ssoRes.status}`);
  checkCallback(ssoRes.location, cfg, sso, cfg.issuer);
  const ssoTokens = await client.authorizationCodeGrant(config, new URL(ssoRes.location), {
    pkceCodeVerifier: sso.pkceCodeVerifier,
    expectedState: sso.state,
    expectedNonce: sso.nonce,
    idTokenExpected: true,
  });
  const ssoClaims = ssoTokens.claims();
  out.sso = { same_sub: ssoClaims.sub === claims.sub, same_sid: ssoClaims.sid === claims.sid, same_auth_time: ssoClaims.auth_time === claims.auth_time };

  // 5. Introspection and revocation (RFC 7662, RFC 7009).
  const acc = ssoTokens.access_token;
  if (introspector) {
    const before = await client.tokenIntrospection(introspector, acc);
    const refreshBefore = await client.tokenIntrospection(introspector, ssoTokens.refresh_token);
    await client.tokenRevocation(config, acc);
    const after = await client.tokenIntrospection(introspector, acc);
    out.introspection = {
      by: confidential ? 'self' : 'introspector',
      before: { active: before.active, sub: before.sub, client_id: before.client_id, scope: before.scope, token_type: before.token_type },
      refresh_before: { active: refreshBefore.active, token_type: refreshBefore.token_type, client_id: refreshBefore.client_id },
      after_revocation: after,
    };
  } else {
    await client.tokenRevocation(config, acc);
    out.introspection = { skipped: 'public client and no introspector' };
  }
  out.revocation = {
    userinfo_after: await mustFail('userinfo with a revoked access token', () => client.fetchUserInfo(config, acc, claims.sub)),
    unknown_token_ok: await client.tokenRevocation(config, 'not-a-token').then(() => true),
  };
  if (!confidential && cfg.introspector) {
    // A public client may not introspect.
    out.revocation.public_introspection = await mustFail('introspection by a public client', () => client.tokenIntrospection(config, tokens.access_token));
  }

  // 6. Replaying a code fails and revokes what it issued (RFC 6749 §4.1.2).
  out.code_replay = await mustFail('replaying the authorization code', () =>
    client.authorizationCodeGrant(config, new URL(ssoRes.location), {
      pkceCodeVerifier: sso.pkceCodeVerifier,
      expectedState: sso.state,
      expectedNonce: sso.nonce,
    }),
  );
  if (introspector) {
    out.code_replay.refresh_after = await client.tokenIntrospection(introspector, ssoTokens.refresh_token);
  }

  // 7. RP-initiated logout, then the next authorization needs a login again.
  const logoutState = client.randomState();
  const endSession = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: cfg.post_logout_redirect_uri,
    state: logoutState,
  });
  const sessionCookie = browser.jar.names().find((n) => n.startsWith('sk_sid_'));
  const lo = await browser.request(endSession.href);
  check(lo.status === 303, `logout answered ${lo.status}:\n${lo.text.slice(0, 1000)}`);
  const loc = new URL(lo.location);
  out.logout = {
    status: lo.status,
    location: lo.location,
    to_post_logout_redirect_uri: `${loc.origin}${loc.pathname}` === cfg.post_logout_redirect_uri,
    state: loc.searchParams.get('state'),
    expected_state: logoutState,
    session_cookie_cleared: Boolean(sessionCookie) && !browser.jar.names().includes(sessionCookie),
  };
  const again = await authorizationRequest(config, cfg);
  const againRes = await browser.request(again.url.href);
  out.logout.authorize_after = { status: againRes.status, to_login_page: Boolean(againRes.location?.startsWith(`${cfg.issuer}/login`)) };
  out.logout.unregistered_uri = await browser
    .request(client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token, post_logout_redirect_uri: `${cfg.post_logout_redirect_uri}/other` }).href)
    .then((r) => ({ status: r.status, location: r.location }));
  return out;
}

run(main);
