// Shared helpers of the openid-client peers: configuration, a cookie jar and
// a fetch-based "browser" that walks ScaiKey's hosted login form.

import { createHash } from 'node:crypto';
import * as client from 'openid-client';

export class Failure extends Error {}

export function check(cond, message) {
  if (!cond) throw new Failure(message);
}

/// The JSON config given as the first argument.
export function readConfig() {
  const raw = process.argv[2];
  if (!raw) throw new Failure('usage: node <script>.mjs \'{"issuer": ..., "client_id": ..., ...}\'');
  const cfg = JSON.parse(raw);
  for (const k of ['issuer', 'client_id', 'redirect_uri', 'username', 'password']) {
    check(typeof cfg[k] === 'string' && cfg[k], `config.${k} is required`);
  }
  return cfg;
}

/// Client authentication by name (openid-client's own implementations).
function authFor(secret, method) {
  if (!secret) return client.None();
  switch (method ?? 'client_secret_basic') {
    case 'client_secret_basic':
      return client.ClientSecretBasic(secret);
    case 'client_secret_post':
      return client.ClientSecretPost(secret);
    default:
      throw new Failure(`unknown auth method ${method}`);
  }
}

/// Discovery of `issuer` for one client; plain http on 127.0.0.1 needs allowInsecureRequests.
export async function configure(issuer, clientId, secret, { authMethod, idTokenAlg } = {}) {
  const metadata = {};
  if (secret) metadata.client_secret = secret;
  if (idTokenAlg) metadata.id_token_signed_response_alg = idTokenAlg;
  return client.discovery(new URL(issuer), clientId, metadata, authFor(secret, authMethod), {
    execute: [client.allowInsecureRequests],
  });
}

/// OIDC Core §3.1.3.6: at_hash is the left half of the hash of the access token.
export function expectedAtHash(accessToken, alg) {
  const hash = alg === 'EdDSA' ? 'sha512' : alg.endsWith('384') ? 'sha384' : alg.endsWith('512') ? 'sha512' : 'sha256';
  const digest = createHash(hash).update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export function jwtParts(jwt) {
  const [h, p] = jwt.split('.');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()),
  };
}

/// A minimal cookie jar: name/value/path per host, Max-Age/Expires honoured.
export class CookieJar {
  constructor() {
    this.cookies = new Map(); // `${host}|${path}|${name}` -> {host, path, name, value, attrs}
  }

  store(url, response) {
    const u = new URL(url);
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrParts] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attrs = {};
      for (const a of attrParts) {
        const i = a.indexOf('=');
        attrs[(i < 0 ? a : a.slice(0, i)).toLowerCase()] = i < 0 ? true : a.slice(i + 1);
      }
      const path = typeof attrs.path === 'string' ? attrs.path : '/';
      const key = `${u.host}|${path}|${name}`;
      const expired =
        (attrs['max-age'] !== undefined && Number(attrs['max-age']) <= 0) ||
        (typeof attrs.expires === 'string' && Date.parse(attrs.expires) <= Date.now()) ||
        value === '';
      if (expired) this.cookies.delete(key);
      else this.cookies.set(key, { host: u.host, path, name, value, attrs });
    }
  }

  header(url) {
    const u = new URL(url);
    const pairs = [...this.cookies.values()]
      .filter((c) => c.host === u.host && (u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)))
      .map((c) => `${c.name}=${c.value}`);
    return pairs.length ? pairs.join('; ') : undefined;
  }

  get(name) {
    return [...this.cookies.values()].find((c) => c.name === name);
  }

  names() {
    return [...this.cookies.values()].map((c) => c.name).sort();
  }
}

/// A fetch that keeps cookies and never follows redirects.
export class Browser {
  constructor() {
    this.jar = new CookieJar();
  }

  async request(url, { method = 'GET', form } = {}) {
    const headers = { accept: 'text/html' };
    const cookie = this.jar.header(url);
    if (cookie) headers.cookie = cookie;
    let body;
    if (form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    this.jar.store(url, res);
    const text = await res.text();
    const location = res.headers.get('location');
    return { status: res.status, text, location: location ? new URL(location, url).href : null, headers: res.headers };
  }
}

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`, 'i'));
  return m ? decodeEntities(m[1]) : null;
}

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/// The login form of a page: action, hidden fields, and which visible inputs it asks for.
export function parseLoginForm(html, pageUrl) {
  const form = html.match(/<form\b[^>]*id="login-form"[^>]*>([\s\S]*?)<\/form>/i);
  check(form, `no #login-form on the page:\n${html.slice(0, 2000)}`);
  const formTag = form[0].match(/<form\b[^>]*>/i)[0];
  const action = new URL(attr(formTag, 'action') ?? pageUrl, pageUrl).href;
  const hidden = {};
  const visible = [];
  for (const input of form[1].match(/<input\b[^>]*>/gi) ?? []) {
    const name = attr(input, 'name');
    const type = (attr(input, 'type') ?? 'text').toLowerCase();
    if (!name) continue;
    if (type === 'hidden') hidden[name] = attr(input, 'value') ?? '';
    else visible.push(name);
  }
  check(hidden.request && hidden.csrf_token, `the login form lacks the hidden request/csrf_token fields: ${formTag}`);
  const error = html.match(/<div class="error"[^>]*>([\s\S]*?)<\/div>/i);
  return { action, hidden, visible, error: error ? decodeEntities(error[1].trim()) : null };
}

/// Starts at the authorization URL and signs in through the hosted pages;
/// returns the final redirect to the client (never followed) and notes.
export async function login(browser, authorizationUrl, { username, password, wrongPasswordFirst = false }) {
  const notes = {};
  let r = await browser.request(authorizationUrl);
  check(r.status === 303, `authorize answered ${r.status}, expected 303 to the login page:\n${r.text.slice(0, 1000)}`);
  notes.login_page = r.location;
  notes.login_cookie = browser.jar.get('sk_login')?.attrs ?? null;
  check(browser.jar.get('sk_login'), `authorize set no sk_login cookie (cookies: ${browser.jar.names()})`);
  let pageUrl = r.location;
  r = await browser.request(pageUrl);
  check(r.status === 200, `login page answered ${r.status}:\n${r.text.slice(0, 1000)}`);
  let form = parseLoginForm(r.text, pageUrl);
  check(form.visible.includes('username'), `step 1 does not ask for a username: ${form.visible}`);

  r = await browser.request(form.action, { method: 'POST', form: { ...form.hidden, username } });
  check(r.status === 200, `posting the username answered ${r.status}:\n${r.text.slice(0, 1000)}`);
  const step1Csrf = form.hidden.csrf_token;
  form = parseLoginForm(r.text, form.action);
  check(form.visible.includes('password'), `step 2 does not ask for a password: ${form.visible}`);
  notes.csrf_rotated = form.hidden.csrf_token !== step1Csrf;

  if (wrongPasswordFirst) {
    r = await browser.request(form.action, { method: 'POST', form: { ...form.hidden, password: `${password}-wrong` } });
    check(r.status === 200 || r.status === 401, `a wrong password answered ${r.status}:\n${r.text.slice(0, 1000)}`);
    form = parseLoginForm(r.text, form.action);
    notes.wrong_password_status = r.status;
    notes.wrong_password_error = form.error;
    check(form.visible.includes('password'), `after a wrong password the page does not ask for the password again`);
  }

  r = await browser.request(form.action, { method: 'POST', form: { ...form.hidden, password } });
  check(r.status === 303, `posting the password answered ${r.status}, expected 303 to the client:\n${r.text.slice(0, 1000)}`);
  notes.session_cookies = browser.jar.names().filter((n) => n.startsWith('sk_sid_'));
  return { callback: r.location, notes };
}

export function errorInfo(e) {
  if (e instanceof client.ResponseBodyError) return { error: e.error, error_description: e.error_description, status: e.status };
  if (e instanceof client.AuthorizationResponseError) return { error: e.error, error_description: e.error_description };
  if (e instanceof client.WWWAuthenticateChallengeError) {
    const c = e.cause?.[0];
    return { error: c?.parameters?.error, error_description: c?.parameters?.error_description, status: e.status, scheme: c?.scheme };
  }
  return { error: e?.code ?? e?.name ?? 'unknown', error_description: String(e?.message ?? e), cause: e?.cause ? String(e.cause?.message ?? e.cause) : undefined };
}

/// Runs `main`, prints its JSON result, and exits non-zero with a clear message on failure.
export function run(main) {
  main()
    .then((result) => {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    })
    .catch((e) => {
      process.stderr.write(`FAILED: ${e?.message ?? e}\n`);
      if (!(e instanceof Failure)) {
        process.stderr.write(`${JSON.stringify(errorInfo(e))}\n${e?.stack ?? ''}\n`);
      }
      process.exitCode = 1;
    });
}
