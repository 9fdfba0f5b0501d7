// oidc-provider (panva) on loopback as an UPSTREAM identity provider for
// ScaiKey's federation tests, in three flavors:
//
//   plain   a generic OpenID Provider; issuer = http://127.0.0.1:<port>
//   google  like plain; accounts carry `hd`, the `hd` authorization parameter is accepted
//   entra   Microsoft Entra ID v2.0 look-alike: issuer <base>/<tenant>/v2.0, the
//           multi-tenant discovery documents (organizations, common) with the
//           `{tenantid}` template issuer, tid/oid/ver/groups (or the groups
//           overage) in ID tokens, a client-credentials token endpoint and a
//           Microsoft Graph stub for transitiveMemberOf with paging.
//
//   node op.mjs '{"flavor": "plain"|"entra"|"google", "tenant_id": "<guid>",
//                 "clients": [{"client_id", "client_secret", "redirect_uris": [...],
//                              "token_endpoint_auth_method": "client_secret_basic"|"client_secret_post"}],
//                 "accounts": {"<login>": {"email": ..., "name": ..., ...claims}},
//                 "groups": {"<login>": ["<group id>", ...]},
//                 "id_token_alg": "RS256",
//                 "authorization_response_iss": true}'   (RFC 9207 `iss`; default false for entra, as Microsoft)
//
// Listens on 127.0.0.1 (a free port), prints ONE line of JSON to stdout,
// {"port", "base", "issuer"}, and runs until stdin closes or SIGTERM.
// Everything else (oidc-provider's notices included) goes to stderr.
//
// Logins: oidc-provider's development interactions (a login form that takes
// any password, then a consent form). Unknown logins are refused with a 400.
// Every configured claim of an account is released in the ID token and at
// userinfo whatever the scope (`sub` = the login unless the claims set `sub`).
// `groups` (any flavor) adds a `groups` claim; in entra, more than 200 groups
// give the overage form (_claim_names/_claim_sources) instead.
//
// Entra extras (rooted at base): /organizations/v2.0 and /common/v2.0
// discovery (issuer `{base}/{tenantid}/v2.0`), POST /{tenant}/oauth2/v2.0/token
// (client_credentials, scope .../.default, Basic or form client auth), Graph
// GET /v1.0/users/{oid}/transitiveMemberOf[/microsoft.graph.group] (pages of
// min($top, 100), @odata.nextLink) and POST /v1.0/users/{oid}/getMemberObjects.
// GET /_stats (any flavor): request counters and every authorization request's query.

import { generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import querystring from 'node:querystring';

import Provider from 'oidc-provider';

// oidc-provider prints its notices with console.info (stdout): keep stdout
// for the single startup line.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const log = (...args) => console.error('[oidc-op]', ...args);

// ---------------------------------------------------------------- config

function fail(message) {
  process.stderr.write(`oidc-op: ${message}\n`);
  process.exit(2);
}

let cfg;
try {
  cfg = JSON.parse(process.argv[2] ?? '');
} catch (e) {
  fail(`usage: node op.mjs '<config json>' (${e.message})`);
}

const FLAVORS = new Set(['plain', 'entra', 'google']);
const flavor = cfg.flavor ?? 'plain';
if (!FLAVORS.has(flavor)) fail(`unknown flavor ${flavor}`);
const tenantId = cfg.tenant_id ? String(cfg.tenant_id).toLowerCase() : undefined;
if (flavor === 'entra' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tenantId ?? '')) {
  fail('entra needs tenant_id, a lowercase GUID');
}
const clients = cfg.clients ?? [];
if (!Array.isArray(clients) || !clients.length) fail('clients must be a non-empty array');
for (const c of clients) {
  if (!c.client_id || !Array.isArray(c.redirect_uris)) fail(`client ${JSON.stringify(c)} needs client_id and redirect_uris`);
}
const accounts = cfg.accounts ?? {};
const groups = cfg.groups ?? {};
const idTokenAlg = cfg.id_token_alg ?? 'RS256';
// RFC 9207 `iss` in authorization responses; Microsoft does not send it.
const issParam = cfg.authorization_response_iss ?? flavor !== 'entra';
const GROUPS_OVERAGE_LIMIT = 200;

// login -> { login, accountId, claims }; accountId (the sub) is the login unless the claims set `sub`.
const byLogin = new Map();
const byAccountId = new Map();
const byOid = new Map();
for (const [login, claims] of Object.entries(accounts)) {
  const accountId = String(claims.sub ?? login);
  const account = { login, accountId, claims };
  byLogin.set(login, account);
  byAccountId.set(accountId, account);
  if (flavor === 'entra') {
    if (!claims.oid) fail(`entra account ${login} needs an oid claim`);
    byOid.set(String(claims.oid).toLowerCase(), account);
  }
}

// ---------------------------------------------------------------- state

const stats = {
  graph_requests: 0,
  token_requests: 0,
  authorization_requests: 0,
  oidc_token_requests: 0,
  userinfo_requests: 0,
  logins: 0,
  refused_logins: 0,
  authorization_params: [], // the query of every authorization request, in order
};
const graphTokens = new Map(); // access token -> { client_id, exp }

let base;
let issuer;
let prefix = ''; // path under which oidc-provider is mounted
let provider;
let providerCallback;

// ---------------------------------------------------------------- helpers

function sendJson(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function htmlEscape(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function secretEquals(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && timingSafeEqual(x, y);
}

/// The claims of one account as released in ID tokens and userinfo.
function accountClaims(account) {
  const out = flavor === 'entra' ? { tid: tenantId, ver: '2.0', ...account.claims } : { ...account.claims };
  out.sub = account.accountId;
  const list = groups[account.login];
  if (Array.isArray(list)) {
    if (flavor === 'entra' && list.length > GROUPS_OVERAGE_LIMIT) {
      // Entra's groups overage: no groups claim, a pointer to Graph instead.
      delete out.groups;
      out._claim_names = { groups: 'src1' };
      out._claim_sources = { src1: { endpoint: `${base}/v1.0/users/${out.oid}/getMemberObjects` } };
    } else {
      out.groups = [...list];
    }
  }
  return out;
}

function findAccount(_ctx, id) {
  const account = byAccountId.get(id) ?? byLogin.get(id);
  if (!account) return undefined;
  return {
    accountId: account.accountId,
    // All configured claims, whatever the scope; the `claims` configuration
    // below maps every one of them to the `openid` scope.
    async claims(_use, _scope, _claims, _rejected) {
      return accountClaims(account);
    },
  };
}

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const ed = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, use: 'sig', kid: `rsa-${randomBytes(6).toString('hex')}` },
    { ...ec, use: 'sig', kid: `ec-${randomBytes(6).toString('hex')}` },
    { ...ed, use: 'sig', kid: `ed-${randomBytes(6).toString('hex')}` },
  ];
}

const PROFILE_CLAIMS = [
  'name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile',
  'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at',
];
const EMAIL_CLAIMS = ['email', 'email_verified'];

function claimsConfiguration() {
  const names = new Set([...PROFILE_CLAIMS, ...EMAIL_CLAIMS]);
  for (const claims of Object.values(accounts)) {
    for (const k of Object.keys(claims)) if (k !== 'sub' && !k.startsWith('_claim_')) names.add(k);
  }
  if (flavor === 'entra') ['tid', 'oid', 'ver', 'groups'].forEach((k) => names.add(k));
  if (flavor === 'google') names.add('hd');
  if (Object.keys(groups).length) names.add('groups');
  return {
    // Every configured claim rides on `openid`, so it lands in the ID token
    // whatever else was asked for (together with conformIdTokenClaims: false).
    openid: ['sub', ...names],
    email: EMAIL_CLAIMS,
    profile: PROFILE_CLAIMS,
  };
}

function createProvider(port) {
  const configuration = {
    clients: clients.map((c) => ({
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: idTokenAlg,
      ...c,
    })),
    findAccount,
    claims: claimsConfiguration(),
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    // Put the scope's claims in the ID token even when an access token is issued.
    conformIdTokenClaims: false,
    extraParams: ['hd', 'domain_hint'],
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    jwks: { keys: signingKeys() },
    // Browsers do not scope cookies by port: names of their own keep two
    // instances on 127.0.0.1 (and ScaiKey's sk_* cookies) apart.
    cookies: {
      keys: [randomBytes(32).toString('hex')],
      names: { session: `op${port}_session`, interaction: `op${port}_interaction`, resume: `op${port}_interaction_resume` },
    },
    ttl: {
      AccessToken: 600,
      AuthorizationCode: 60,
      IdToken: 600,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
      RefreshToken: 3600,
    },
    clientBasedCORS: () => false,
    renderError(ctx, out, error) {
      ctx.type = 'html';
      ctx.body = `<!DOCTYPE html><html><head><title>oidc-op error</title></head><body><h1>oops! something went wrong</h1>${Object.entries(out)
        .map(([k, v]) => `<pre><strong>${htmlEscape(k)}</strong>: ${htmlEscape(v)}</pre>`)
        .join('')}</body></html>`;
      log('rendered error', out, error?.message ?? '');
    },
  };
  const p = new Provider(issuer, configuration);
  p.proxy = false;
  if (!issParam) {
    p.on('authorization.success', (_ctx, out) => {
      delete out.iss;
    });
    p.use(async (ctx, next) => {
      await next();
      if (ctx.path === '/.well-known/openid-configuration' && ctx.body && typeof ctx.body === 'object') {
        delete ctx.body.authorization_response_iss_parameter_supported;
      }
    });
  }
  p.on('server_error', (_ctx, err) => log('server_error', err));
  p.on('authorization.error', (_ctx, err) => log('authorization.error', err.error, err.error_description ?? ''));
  p.on('grant.error', (_ctx, err) => log('grant.error', err.error, err.error_description ?? ''));
  return p;
}

// ---------------------------------------------------------------- oidc-provider

/// Hands a request to oidc-provider (mounted under `prefix`), after refusing
/// unknown logins at the development login form.
async function toProvider(req, res, path) {
  const sub = path.slice(prefix.length) || '/';
  if (req.method === 'GET' && sub === '/auth') {
    stats.authorization_requests += 1;
    stats.authorization_params.push(Object.fromEntries(new URL(req.url, base).searchParams));
  }
  if (sub === '/token') stats.oidc_token_requests += 1;
  if (sub === '/me') stats.userinfo_requests += 1;

  if (req.method === 'POST' && /^\/interaction\/[^/]+$/.test(sub)) {
    const body = querystring.parse(await readBody(req));
    if (body.prompt === 'login') {
      const account = byLogin.get(String(body.login ?? ''));
      if (!account) {
        stats.refused_logins += 1;
        log(`refused unknown login ${JSON.stringify(body.login)}`);
        res.writeHead(400, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
        res.end(`<!DOCTYPE html><html><head><title>Sign-in</title></head><body><h1>Sign-in</h1><p class="error">unknown login ${htmlEscape(body.login ?? '')}</p><p><a href="${htmlEscape(req.url)}">try again</a></p></body></html>`);
        return;
      }
      stats.logins += 1;
      body.login = account.accountId; // devInteractions takes the login as the accountId
    }
    // oidc-provider reads an already parsed body from req.body.
    req.body = body;
  }

  if (prefix) {
    req.originalUrl = req.url;
    req.url = req.url.slice(prefix.length) || '/';
    if (req.url.startsWith('?')) req.url = `/${req.url}`;
  }
  providerCallback(req, res);
}

// ---------------------------------------------------------------- Entra extras

/// The discovery document of the tenant, with the `{tenantid}` template issuer
/// (what Microsoft serves for /organizations and /common).
async function templateDiscovery(res) {
  const r = await fetch(`${issuer}/.well-known/openid-configuration`);
  const doc = await r.json();
  doc.issuer = `${base}/{tenantid}/v2.0`;
  sendJson(res, 200, doc);
}

/// POST /{tenant}/oauth2/v2.0/token, grant_type=client_credentials (for Graph).
async function clientCredentials(req, res) {
  stats.token_requests += 1;
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' });
  const form = querystring.parse(await readBody(req));
  let clientId;
  let secret;
  const auth = req.headers.authorization;
  if (auth?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(auth.slice(6).trim(), 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    const dec = (s) => decodeURIComponent(s.replace(/\+/g, ' '));
    try {
      clientId = dec(decoded.slice(0, i < 0 ? decoded.length : i));
      secret = i < 0 ? '' : dec(decoded.slice(i + 1));
    } catch {
      return sendJson(res, 401, { error: 'invalid_client', error_description: 'malformed Basic credentials' });
    }
  } else {
    clientId = form.client_id;
    secret = form.client_secret;
  }
  const client = clients.find((c) => c.client_id === clientId);
  if (!client || typeof secret !== 'string' || !client.client_secret || !secretEquals(secret, client.client_secret)) {
    log(`client credentials: invalid client ${JSON.stringify(clientId)}`);
    return sendJson(res, 401, { error: 'invalid_client', error_description: 'AADSTS7000215: Invalid client secret provided.' });
  }
  if (form.grant_type !== 'client_credentials') {
    return sendJson(res, 400, { error: 'unsupported_grant_type', error_description: `grant_type ${form.grant_type} is not supported here` });
  }
  if (typeof form.scope !== 'string' || !form.scope.endsWith('/.default')) {
    return sendJson(res, 400, { error: 'invalid_scope', error_description: 'AADSTS1002012: The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.' });
  }
  const token = randomBytes(32).toString('base64url');
  graphTokens.set(token, { client_id: clientId, exp: Date.now() + 3599 * 1000 });
  return sendJson(res, 200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
}

function graphError(res, status, code, message) {
  return sendJson(res, status, {
    error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomBytes(8).toString('hex') } },
  });
}

function graphAuthorized(req, res) {
  const auth = req.headers.authorization ?? '';
  const m = auth.match(/^Bearer\s+(\S+)$/i);
  const entry = m ? graphTokens.get(m[1]) : undefined;
  if (!entry || entry.exp < Date.now()) {
    graphError(res, 401, 'InvalidAuthenticationToken', m ? 'Access token validation failure. Invalid audience.' : 'Access token is empty.');
    return false;
  }
  return true;
}

/// GET /v1.0/users/{oid}/transitiveMemberOf[/microsoft.graph.group]?$select=id&$top=n[&$skiptoken=k]
function transitiveMemberOf(req, res, url, oid) {
  if (req.method !== 'GET') return graphError(res, 405, 'Request_BadRequest', 'Only GET is supported.');
  if (!graphAuthorized(req, res)) return;
  const account = byOid.get(oid.toLowerCase());
  if (!account) {
    return graphError(res, 404, 'Request_ResourceNotFound', `Resource '${oid}' does not exist or one of its queried reference-property objects are not present.`);
  }
  const list = groups[account.login] ?? [];
  const topRaw = url.searchParams.get('$top');
  let top = 100;
  if (topRaw !== null) {
    top = Number(topRaw);
    if (!Number.isInteger(top) || top < 1) return graphError(res, 400, 'Request_BadRequest', `Invalid value '${topRaw}' for $top.`);
  }
  const pageSize = Math.min(top, 100);
  // $skiptoken is opaque to clients, as Graph's is: they must follow @odata.nextLink.
  const skipRaw = url.searchParams.get('$skiptoken');
  const skip = skipRaw === null ? 0 : Number(/^skip-(\d+)$/.exec(Buffer.from(skipRaw, 'base64url').toString())?.[1] ?? NaN);
  if (!Number.isInteger(skip) || skip < 0) return graphError(res, 400, 'Directory_InvalidSkipToken', 'The specified page token value has expired or is invalid.');
  const page = list.slice(skip, skip + pageSize);
  const body = {
    '@odata.context': `${base}/v1.0/$metadata#directoryObjects(id)`,
    value: page.map((id) => ({ '@odata.type': '#microsoft.graph.group', id })),
  };
  if (skip + pageSize < list.length) {
    // Graph writes the `$` of system query options unescaped.
    const query = [...url.searchParams].filter(([k]) => k !== '$skiptoken').map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
    query.push(`$skiptoken=${Buffer.from(`skip-${skip + pageSize}`).toString('base64url')}`);
    body['@odata.nextLink'] = `${base}${url.pathname}?${query.join('&')}`;
  }
  return sendJson(res, 200, body, { 'odata-version': '4.0' });
}

/// POST /v1.0/users/{oid}/getMemberObjects (the overage claim source); all ids, one page.
async function getMemberObjects(req, res, oid) {
  if (req.method !== 'POST') return graphError(res, 405, 'Request_BadRequest', 'Only POST is supported.');
  await readBody(req);
  if (!graphAuthorized(req, res)) return;
  const account = byOid.get(oid.toLowerCase());
  if (!account) return graphError(res, 404, 'Request_ResourceNotFound', `Resource '${oid}' does not exist.`);
  return sendJson(res, 200, { '@odata.context': `${base}/v1.0/$metadata#Collection(Edm.String)`, value: [...(groups[account.login] ?? [])] });
}

// ---------------------------------------------------------------- routing

async function handle(req, res) {
  const url = new URL(req.url, base);
  const path = url.pathname;
  log(req.method, req.url);

  if (path === '/_stats') return sendJson(res, 200, stats);

  if (flavor === 'entra') {
    if (path === `/${tenantId}/oauth2/v2.0/token`) return clientCredentials(req, res);
    if (path === '/organizations/v2.0/.well-known/openid-configuration' || path === '/common/v2.0/.well-known/openid-configuration') {
      return templateDiscovery(res);
    }
    let m = path.match(/^\/v1\.0\/users\/([^/]+)\/transitiveMemberOf(?:\/microsoft\.graph\.group)?$/);
    if (m) {
      stats.graph_requests += 1;
      return transitiveMemberOf(req, res, url, decodeURIComponent(m[1]));
    }
    m = path.match(/^\/v1\.0\/users\/([^/]+)\/getMemberObjects$/);
    if (m) {
      stats.graph_requests += 1;
      return getMemberObjects(req, res, decodeURIComponent(m[1]));
    }
    if (path === prefix || path.startsWith(`${prefix}/`)) return toProvider(req, res, path);
    if (path.startsWith('/v1.0/')) return graphError(res, 404, 'Request_ResourceNotFound', `Unsupported Graph path ${path}`);
    return sendJson(res, 404, { error: 'not_found', path });
  }
  return toProvider(req, res, path);
}

const server = http.createServer((req, res) => {
  if (!provider) {
    sendJson(res, 503, { error: 'starting' });
    return;
  }
  handle(req, res).catch((e) => {
    log('handler error', e);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: String(e?.message ?? e) });
    else res.destroy();
  });
});

function shutdown(why) {
  log(`shutting down (${why})`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  if (flavor === 'entra') {
    prefix = `/${tenantId}/v2.0`;
    issuer = `${base}${prefix}`;
  } else {
    issuer = base;
  }
  try {
    provider = createProvider(port);
  } catch (e) {
    fail(`oidc-provider refused the configuration: ${e?.stack ?? e}`);
  }
  providerCallback = provider.callback();
  process.stdout.write(`${JSON.stringify({ port, base, issuer })}\n`);
  log(`${flavor} provider listening, issuer ${issuer}`);
});

process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
