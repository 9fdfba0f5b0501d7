// A downstream relying party (openid-client v6, unmodified) driving a
// FEDERATED login through ScaiKey: ScaiKey's hosted login page sends the user
// to an upstream identity provider (tests/peers/oidc-op: oidc-provider with its
// development login and consent pages), whose answer comes back to ScaiKey's
// federation callback, which completes the downstream authorization.
//
//   node federated.mjs '{"issuer": "<ScaiKey tenant issuer>", "client_id": "...", "client_secret": "...",
//                        "auth_method": "client_secret_basic" | "client_secret_post", "id_token_alg": "RS256",
//                        "redirect_uri": "http://127.0.0.1:<port>/callback",   (never served: never followed)
//                        "mode": "button" | "hrd",
//                        "idp_id": "idp_...",            button: the IdP link to follow
//                        "username": "...",              hrd: the email typed into ScaiKey's identifier form
//                        "upstream_login": "...", "password": "...",   typed at the upstream's login form
//                        "scope": "openid profile email",
//                        "expect_error": false,
//                        "browser": false, "screenshot": "/abs/path.png"}'
//
// ScaiKey's pages as this script expects them: the authorization endpoint
// answers 303 to {issuer}/login?request=<lrq>; the login page lists each IdP
// as <a class="idp" data-idp="{idp_id}" href="{issuer}/login/idp/{idp_id}?request={lrq}">
// and has the identifier form #login-form (hidden request, csrf_token; visible
// username). Following an IdP link, or posting an email of an IdP's domain,
// answers 303 to the upstream's authorization endpoint; the upstream comes
// back to {issuer}/federation/..., which answers 303 to the redirect_uri.
//
// Success prints {"id_token_claims", "userinfo", "access_token_claims", "hops",
// "login_page_idp_links", ...}. With expect_error the flow must end at a
// ScaiKey page that is not a redirect (after the login page was left), or at
// the redirect_uri with error=...; it prints {"error_page": {"status", "text"} | null,
// "redirect_error": {...} | null, "hops"}. Exits 1 with "FAILED: ..." otherwise.
//
// browser=true does the same in headless Chromium (Debian's /usr/bin/chromium
// via playwright-core) and screenshots ScaiKey's login page with its IdP links.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as client from 'openid-client';

import { Browser, Failure, check, configure, jwtParts, parseLoginForm, run } from './lib.mjs';
import { decodeEntities, isRedirect, submitUpstreamPage, visibleText } from './upstream.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MAX_STEPS = 40;

function readFederatedConfig() {
  const raw = process.argv[2];
  if (!raw) throw new Failure('usage: node federated.mjs \'{"issuer": ..., "client_id": ..., "redirect_uri": ..., "mode": "button"|"hrd", ...}\'');
  const cfg = JSON.parse(raw);
  for (const k of ['issuer', 'client_id', 'redirect_uri', 'mode']) {
    check(typeof cfg[k] === 'string' && cfg[k], `config.${k} is required`);
  }
  check(cfg.mode === 'button' || cfg.mode === 'hrd', `config.mode must be "button" or "hrd", not ${cfg.mode}`);
  if (cfg.mode === 'button') check(typeof cfg.idp_id === 'string' && cfg.idp_id, 'config.idp_id is required in button mode');
  if (cfg.mode === 'hrd') check(typeof cfg.username === 'string' && cfg.username, 'config.username is required in hrd mode');
  cfg.upstream_login ??= cfg.mode === 'button' ? cfg.username : undefined;
  check(typeof cfg.upstream_login === 'string' && cfg.upstream_login, 'config.upstream_login is required');
  cfg.password ??= 'any-password';
  cfg.issuer = cfg.issuer.replace(/\/+$/, '');
  if (cfg.browser) check(typeof cfg.screenshot === 'string' && cfg.screenshot, 'config.screenshot is required with browser=true');
  return cfg;
}

/// The IdP links of ScaiKey's login page: <a class="idp" data-idp="..." href="...">name</a>.
export function parseIdpLinks(html, pageUrl) {
  const links = [];
  for (const m of html.matchAll(/<a\b([^>]*)>([\s\S]*?)<\/a>/gi)) {
    const attrs = m[1];
    const get = (name) => {
      const a = attrs.match(new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, 'i'));
      return a ? decodeEntities(a[1] ?? a[2]) : null;
    };
    const cls = get('class');
    if (!cls || !cls.split(/\s+/).includes('idp')) continue;
    const href = get('href');
    links.push({ id: get('data-idp'), name: visibleText(m[2], 200), href: href ? new URL(href, pageUrl).href : null });
  }
  return links;
}

function describe(r) {
  return `${r.status} at ${r.url}${r.location ? ` (Location: ${r.location})` : ''}:\n${(r.text ?? '').slice(0, 1000)}`;
}

async function authorizationRequest(config, cfg) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: cfg.scope ?? 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, pkceCodeVerifier, state, nonce };
}

/// The federated login with lib.mjs's fetch-based Browser. Returns
/// { callback, hops, links, federation_callback } or { error_page | redirect_error, hops, links }.
async function fetchFlow(cfg, req) {
  const browser = new Browser();
  const hops = [];
  const scaikey = new URL(cfg.issuer).origin;
  const onScaiKey = (u) => new URL(u).origin === scaikey;
  const federationPrefix = `${cfg.issuer}/federation/`;
  const get = async (url) => {
    const r = await browser.request(url);
    hops.push(`GET ${r.status} ${url}`);
    return { ...r, url, method: 'GET' };
  };
  const post = async (url, form) => {
    const r = await browser.request(url, { method: 'POST', form });
    hops.push(`POST ${r.status} ${url}`);
    return { ...r, url, method: 'POST' };
  };
  const errorPage = (r) => ({ status: r.status, url: r.url, text: visibleText(r.text ?? '', 500) });
  let links = [];

  // 1. The authorization request: 303 to ScaiKey's login page.
  let r = await get(req.url.href);
  if (!isRedirect(r.status) && cfg.expect_error) return { error_page: errorPage(r), hops, links };
  check(isRedirect(r.status) && r.location, `authorize: expected a 303 to the login page, got ${describe(r)}`);
  if (!r.location.startsWith(cfg.redirect_uri)) {
    check(r.location.startsWith(`${cfg.issuer}/login`), `authorize redirected to ${r.location}, not to ${cfg.issuer}/login`);
    const loginUrl = r.location;
    r = await get(loginUrl);
    if (r.status !== 200 && cfg.expect_error) return { error_page: errorPage(r), hops, links };
    check(r.status === 200, `the login page: expected 200, got ${describe(r)}`);
    links = parseIdpLinks(r.text, loginUrl);

    // 2. Leave the login page: the IdP's link, or the identifier form (home realm discovery).
    if (cfg.mode === 'button') {
      let href = links.find((l) => l.id === cfg.idp_id)?.href;
      if (!href) {
        check(
          cfg.expect_error,
          `the login page has no <a class="idp" data-idp="${cfg.idp_id}">; links: ${JSON.stringify(links)}\n${r.text.slice(0, 1000)}`,
        );
        // Try the IdP's URL anyway: ScaiKey must refuse it.
        const lrq = new URL(loginUrl).searchParams.get('request') ?? '';
        href = `${cfg.issuer}/login/idp/${encodeURIComponent(cfg.idp_id)}?request=${encodeURIComponent(lrq)}`;
        hops.push(`(no IdP link for ${cfg.idp_id}: trying ${href})`);
      }
      r = await get(href);
    } else {
      const form = parseLoginForm(r.text, loginUrl);
      check(form.visible.includes('username'), `the login form does not ask for a username: ${form.visible}`);
      r = await post(form.action, { ...form.hidden, username: cfg.username });
    }
  }

  // 3. Redirects across ScaiKey and the upstream; the upstream's login and consent forms.
  let federationCallback = null;
  let reached = null; // the response whose Location is the redirect_uri
  for (let i = 0; i < MAX_STEPS && !reached; i += 1) {
    if (isRedirect(r.status)) {
      check(r.location, `a redirect without Location: ${describe(r)}`);
      if (r.location.startsWith(cfg.redirect_uri)) {
        reached = r;
        break;
      }
      r = await get(r.location);
      if (r.url.startsWith(federationPrefix)) federationCallback = r;
      continue;
    }
    if (onScaiKey(r.url)) {
      if (cfg.expect_error) return { error_page: errorPage(r), hops, links, federation_callback: federationCallback?.url ?? null };
      check(false, `ScaiKey answered a page instead of a redirect: ${describe(r)}`);
    }
    check(r.status === 200, `the upstream answered ${describe(r)}`);
    const step = await submitUpstreamPage(browser, r, r.url, { login: cfg.upstream_login, password: cfg.password }, hops);
    check(step, `no login or consent form of the upstream on ${describe(r)}`);
    r = { ...step.response, url: step.url, method: 'POST' };
  }
  check(reached, `no redirect to ${cfg.redirect_uri} after ${MAX_STEPS} steps; last ${describe(r)}`);

  const callback = reached.location;
  const params = new URL(callback).searchParams;
  if (params.get('error')) {
    check(cfg.expect_error, `the authorization ended with an error: ${callback} (from ${reached.method} ${reached.status} ${reached.url})`);
    return { error_page: null, redirect_error: Object.fromEntries(params), hops, links, federation_callback: federationCallback?.url ?? null };
  }
  check(!cfg.expect_error, `an error was expected, but the flow ended with a code: ${callback} (from ${reached.method} ${reached.status} ${reached.url})`);
  check(federationCallback, `the flow reached the redirect_uri without passing through ${federationPrefix}; hops:\n${hops.join('\n')}`);
  check(
    reached === federationCallback && reached.status === 303,
    `the redirect_uri must be reached by a 303 of the federation callback, not by ${reached.method} ${reached.status} ${reached.url}`,
  );
  return { callback, hops, links, federation_callback: federationCallback.url };
}

/// The same in headless Chromium.
async function browserFlow(cfg, req) {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'scaikey-chromium-'));
  const context = await chromium
    .launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 800, height: 640 },
    })
    .catch((e) => {
      throw new Error(`cannot start ${CHROMIUM} (apt-get install chromium): ${e.message}`);
    });
  const scaikey = new URL(cfg.issuer).origin;
  const federationPrefix = `${cfg.issuer}/federation/`;
  const hops = [];
  let links = [];
  let callback = null;
  let callbackFrom = null;
  let leftLoginPage = false;
  let scaikeyPage = null; // the first non-redirect ScaiKey page after the login page
  let upstreamFailure = null; // an error status of the upstream
  let federationCallback = null;
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    // The redirect_uri is not served: answer it here so the browser stays on a page.
    await context.route(
      (u) => u.href.startsWith(cfg.redirect_uri),
      (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!DOCTYPE html><title>callback</title><p>callback reached</p>' }),
    );
    page.on('request', (r) => {
      if (!callback && r.isNavigationRequest() && r.frame() === page.mainFrame() && r.url().startsWith(cfg.redirect_uri)) {
        callback = r.url();
        const from = r.redirectedFrom();
        callbackFrom = from ? from.url() : null;
      }
    });
    page.on('response', (resp) => {
      const r = resp.request();
      if (!r.isNavigationRequest() || r.frame() !== page.mainFrame()) return;
      const url = resp.url();
      hops.push(`${r.method()} ${resp.status()} ${url}`);
      if (url.startsWith(federationPrefix)) federationCallback = { url, status: resp.status() };
      const onScaiKey = new URL(url).origin === scaikey;
      if (leftLoginPage && !scaikeyPage && onScaiKey && !isRedirect(resp.status())) {
        scaikeyPage = { status: resp.status(), url };
      }
      if (!onScaiKey && !url.startsWith(cfg.redirect_uri) && resp.status() >= 400 && !upstreamFailure) {
        upstreamFailure = { status: resp.status(), url };
      }
    });

    // 1. Authorization request, ScaiKey's login page with its IdP links.
    const first = await page.goto(req.url.href);
    if (!page.url().startsWith(`${cfg.issuer}/login`)) {
      const text = visibleText(await page.content(), 500);
      if (cfg.expect_error && !callback) return { error_page: { status: first?.status() ?? 0, url: page.url(), text }, hops, links };
      check(callback, `authorize did not lead to the login page but to ${first?.status()} ${page.url()}: ${text}`);
    }
    if (!callback) {
      // Button mode needs the IdP's link; home realm discovery the identifier form.
      const selector = cfg.mode === 'button' ? `a.idp[data-idp="${cfg.idp_id}"]` : '#login-form input[name="username"]';
      const shown = await page.waitForSelector(selector, { timeout: 10_000 }).then(() => true, () => false);
      links = await page.$$eval('a.idp', (els) => els.map((a) => ({ id: a.dataset.idp ?? null, name: a.textContent.trim().replace(/\s+/g, ' '), href: a.href })));
      await page.screenshot({ path: cfg.screenshot, fullPage: true });
      check(shown || (cfg.mode === 'button' && cfg.expect_error), `the login page shows no ${selector}; links: ${JSON.stringify(links)}`);
      leftLoginPage = true;
      if (cfg.mode === 'button') {
        if (shown) {
          await page.click(selector);
        } else {
          const lrq = new URL(page.url()).searchParams.get('request') ?? '';
          const href = `${cfg.issuer}/login/idp/${encodeURIComponent(cfg.idp_id)}?request=${encodeURIComponent(lrq)}`;
          hops.push(`(no IdP link for ${cfg.idp_id}: trying ${href})`);
          await page.goto(href);
        }
      } else {
        await page.fill('#login-form input[name="username"]', cfg.username);
        await page.click('#login-form [type="submit"]');
      }
    }

    // 2. The upstream's login and consent pages, until the redirect_uri or a ScaiKey page.
    const deadline = Date.now() + 30_000;
    const done = new Set();
    while (!callback) {
      if (scaikeyPage) {
        await page.waitForLoadState('load').catch(() => {});
        const text = visibleText(await page.content().catch(() => ''), 500);
        if (cfg.expect_error) {
          return { error_page: { ...scaikeyPage, text }, hops, links, federation_callback: federationCallback?.url ?? null, screenshot: cfg.screenshot };
        }
        check(false, `ScaiKey answered a page instead of a redirect: ${scaikeyPage.status} ${scaikeyPage.url}: ${text}`);
      }
      if (upstreamFailure) {
        await page.waitForLoadState('load').catch(() => {});
        const text = visibleText(await page.content().catch(() => ''), 1000);
        check(false, `the upstream answered ${upstreamFailure.status} at ${upstreamFailure.url}: ${text}`);
      }
      check(Date.now() < deadline, `no redirect to ${cfg.redirect_uri} within 30s; at ${page.url()}; hops:\n${hops.join('\n')}`);
      const url = page.url();
      try {
        if (new URL(url).origin !== scaikey && !done.has(url)) {
          const login = page.locator('form:has(input[name="prompt"][value="login"])');
          const consent = page.locator('form:has(input[name="prompt"][value="consent"])');
          if (await login.count()) {
            done.add(url);
            await login.locator('input[name="login"]').fill(cfg.upstream_login);
            await login.locator('input[name="password"]').fill(cfg.password);
            await login.locator('[type="submit"]').click();
          } else if (await consent.count()) {
            done.add(url);
            await consent.locator('[type="submit"]').click();
          }
        }
      } catch (e) {
        // A navigation raced the lookup; look again.
        if (!/context was destroyed|navigation|detached|Target closed/i.test(String(e?.message))) throw e;
      }
      await page.waitForTimeout(100);
    }

    const params = new URL(callback).searchParams;
    if (params.get('error')) {
      check(cfg.expect_error, `the authorization ended with an error: ${callback} (from ${callbackFrom})`);
      return { error_page: null, redirect_error: Object.fromEntries(params), hops, links, federation_callback: federationCallback?.url ?? null, screenshot: cfg.screenshot };
    }
    check(!cfg.expect_error, `an error was expected, but the flow ended with a code: ${callback} (from ${callbackFrom})`);
    check(federationCallback, `the flow reached the redirect_uri without passing through ${federationPrefix}; hops:\n${hops.join('\n')}`);
    check(
      callbackFrom?.startsWith(federationPrefix) && federationCallback.status === 303,
      `the redirect_uri must be reached by a 303 of the federation callback, not from ${callbackFrom} (${federationCallback.status})`,
    );
    return { callback, hops, links, federation_callback: federationCallback.url, screenshot: cfg.screenshot };
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

async function main() {
  const cfg = readFederatedConfig();
  const config = await configure(cfg.issuer, cfg.client_id, cfg.client_secret, { authMethod: cfg.auth_method, idTokenAlg: cfg.id_token_alg });
  check(config.serverMetadata().issuer === cfg.issuer, `discovery issuer ${config.serverMetadata().issuer} is not ${cfg.issuer}`);
  const req = await authorizationRequest(config, cfg);
  const flow = cfg.browser ? await browserFlow(cfg, req) : await fetchFlow(cfg, req);

  if (cfg.expect_error) {
    check(flow.error_page || flow.redirect_error, 'an error was expected but none happened');
    return {
      error_page: flow.error_page ? { status: flow.error_page.status, text: flow.error_page.text, url: flow.error_page.url } : null,
      redirect_error: flow.redirect_error ?? null,
      hops: flow.hops,
      login_page_idp_links: flow.links,
      federation_callback: flow.federation_callback ?? null,
      ...(flow.screenshot ? { screenshot: flow.screenshot } : {}),
    };
  }

  const callbackUrl = new URL(flow.callback);
  check(callbackUrl.searchParams.get('code'), `no code in ${flow.callback}`);
  check(callbackUrl.searchParams.get('state') === req.state, `state in ${flow.callback} is not ${req.state}`);
  const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: req.pkceCodeVerifier,
    expectedState: req.state,
    expectedNonce: req.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  check(claims, 'no ID token claims');
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  let accessTokenClaims = null;
  if (tokens.access_token.split('.').length === 3) accessTokenClaims = jwtParts(tokens.access_token).payload;
  return {
    id_token_claims: claims,
    id_token_header: jwtParts(tokens.id_token).header,
    userinfo,
    access_token_claims: accessTokenClaims,
    scope: tokens.scope ?? null,
    callback_iss: callbackUrl.searchParams.get('iss'),
    federation_callback: flow.federation_callback,
    hops: flow.hops,
    login_page_idp_links: flow.links,
    ...(flow.screenshot ? { screenshot: flow.screenshot } : {}),
  };
}

run(main);
