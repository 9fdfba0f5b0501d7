// A SAML 2.0 Identity Provider on loopback for ScaiKey's SAML service-provider
// tests (ScaiKey is the SP; this is the upstream IdP).
//
//   node idp.mjs '{"sp": {"entity_id": "<SP entity id>", "acs_url": "<SP ACS URL>",
//                         "metadata_xml": "<optional SP metadata: entity id, ACS and signing cert from it>",
//                         "certificate": "<optional SP signing cert PEM: verifies AuthnRequest signatures>"},
//                  "users": {"<login>": {"name_id": "...", "name_id_format": "<optional>",
//                                        "attributes": {"email": "...", "givenName": "...", ...}}},
//                  "sign": "response" | "assertion" | "both" | "none",   (default "both")
//                  "want_authn_requests_signed": true,                   (default false)
//                  "name_id_format": "<default NameID Format; emailAddress if absent>",
//                  "lifetime_seconds": 300,
//                  "strict_schema": false}'   (true: refuse AuthnRequests that fail the SAML XSD)
//
// Listens on 127.0.0.1 (a free port), prints ONE line of JSON to stdout,
//   {"port", "base", "entity_id", "sso_url", "metadata_url", "certificate", "key_pem", "metadata_xml"}
// (certificate/key_pem: the IdP signing certificate and private key, PEM; the
// key is there so tests can hand it to forge.mjs), and runs until stdin closes
// or SIGTERM. Logs go to stderr.
//
// Endpoints (rooted at base = http://127.0.0.1:<port>):
//   GET  /metadata      the IdP EntityDescriptor (samlify), entityID = <base>/metadata,
//                       one HTTP-Redirect SingleSignOnService <base>/sso, signing cert.
//   GET  /sso           HTTP-Redirect binding: SAMLRequest (base64 of raw DEFLATE of the
//                       AuthnRequest), RelayState, SigAlg, Signature. The signature is
//                       checked over the query's own octets
//                       "SAMLRequest=<raw>[&RelayState=<raw>]&SigAlg=<raw>" (values exactly
//                       as received, still URL-encoded) when an SP certificate is known
//                       (sp.certificate, else the SP metadata's signing cert). With
//                       want_authn_requests_signed, a missing or bad signature is a 400
//                       {"error": "bad AuthnRequest signature"}. An Issuer other than the SP
//                       entity id, or an AssertionConsumerServiceURL other than the SP's ACS,
//                       is a 400 too. Otherwise: the login page,
//                         <form id="idp-login" method="post" action="/sso/login">
//                           <input type="hidden" name="request_key">
//                           <input name="username"> <input type="password" name="password">
//                           <button type="submit">
//   POST /sso/login     form fields request_key, username, password (any password; unknown
//                       username: 401 with the login page again). Answers the HTTP-POST
//                       binding page:
//                         <form id="saml-post" method="post" action="<ACS URL>">
//                           <input type="hidden" name="SAMLResponse" value="<base64>">
//                           <input type="hidden" name="RelayState" value="...">  (if one came)
//                           <noscript><button type="submit">Continue</button></noscript>
//                       auto-submitted by onload. Each request_key works once.
//   GET  /idp-initiated?username=<login>[&RelayState=...]
//                       an unsolicited Response (no InResponseTo) for that user, same page.
//   GET  /_stats        {"authn_requests": [{"id", "issuer", "acs_url", "signature_verified":
//                       true|false|null, "relay_state", "sig_alg", "protocol_binding",
//                       "destination", "name_id_policy_format", "force_authn",
//                       "schema_valid", "error"}], "responses_issued": n,
//                       "responses": [{"id", "assertion_id", "in_response_to", "name_id"}]}
//
// The Response shape, algorithms and c14n: see lib.mjs. Times: IssueInstant now,
// Conditions NotBefore now-60s, NotOnOrAfter and SubjectConfirmationData
// NotOnOrAfter now+lifetime_seconds (300).

import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import http from 'node:http';
import querystring from 'node:querystring';
import { inflateRawSync } from 'node:zlib';

import * as xmllint from '@authenio/samlify-node-xmllint';
import * as samlify from 'samlify';

import {
  BINDING_REDIRECT,
  NAMEID_EMAIL,
  NS,
  buildResponseXml,
  certToPem,
  generateKeyAndCert,
  htmlEscape,
  newId,
  parseXml,
  samlTime,
  signResponse,
  autoPostHtml,
} from './lib.mjs';

// samlify reports missing optional endpoints with console.log: keep stdout for
// the single startup line.
console.log = console.error;
console.info = console.error;
console.debug = console.error;

const log = (...args) => console.error('[saml-idp]', ...args);

function fail(message) {
  process.stderr.write(`saml-idp: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- config

let cfg;
try {
  cfg = JSON.parse(process.argv[2] ?? '');
} catch (e) {
  fail(`usage: node idp.mjs '<config json>' (${e.message})`);
}

// samlify is used for metadata (generating ours, reading the SP's). Its schema
// validator (the SAML 2.0 XSDs in xmllint compiled to JS) also checks incoming
// AuthnRequests: the result is in /_stats (schema_valid), and with
// strict_schema a failing AuthnRequest is refused.
samlify.setSchemaValidator(xmllint);

const spCfg = cfg.sp ?? {};
let spEntityId = spCfg.entity_id;
let spAcsUrl = spCfg.acs_url;
let spCertPem = spCfg.certificate ? certToPem(spCfg.certificate) : undefined;
if (spCfg.metadata_xml) {
  try {
    const sp = samlify.ServiceProvider({ metadata: spCfg.metadata_xml });
    spEntityId = spEntityId ?? sp.entityMeta.getEntityID();
    if (!spAcsUrl) {
      const acs = sp.entityMeta.getAssertionConsumerService('post');
      spAcsUrl = Array.isArray(acs) ? acs[0] : acs;
    }
    if (!spCertPem) {
      let c = sp.entityMeta.getX509Certificate('signing');
      if (Array.isArray(c)) c = c[0];
      if (c) spCertPem = certToPem(c);
    }
  } catch (e) {
    fail(`cannot read sp.metadata_xml: ${e.message}`);
  }
}
if (!spEntityId || !spAcsUrl) fail('sp.entity_id and sp.acs_url (or sp.metadata_xml) are required');

const users = cfg.users ?? {};
const signMode = cfg.sign ?? 'both';
if (!['response', 'assertion', 'both', 'none'].includes(signMode)) fail(`bad sign ${signMode}`);
const wantSigned = cfg.want_authn_requests_signed === true;
const defaultNameIdFormat = cfg.name_id_format ?? NAMEID_EMAIL;
const lifetime = Number(cfg.lifetime_seconds ?? 300);
const strictSchema = cfg.strict_schema === true;

let spPublicKey;
if (spCertPem) {
  try {
    spPublicKey = createPublicKey(spCertPem);
  } catch (e) {
    fail(`bad SP certificate: ${e.message}`);
  }
}
if (wantSigned && !spPublicKey) log('want_authn_requests_signed without an SP certificate: signatures are not checked');

const { keyPem, certPem } = generateKeyAndCert({ cn: 'ScaiKey test SAML IdP' });

// ---------------------------------------------------------------- state

let base;
let entityId;
let ssoUrl;
let metadataXml;

const stats = { authn_requests: [], responses_issued: 0, responses: [] };
const pending = new Map(); // request_key -> {id, relayState}

// ---------------------------------------------------------------- helpers

function send(res, status, type, body) {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
const sendJson = (res, status, obj) => send(res, status, 'application/json', JSON.stringify(obj));
const sendHtml = (res, status, html) => send(res, status, 'text/html; charset=utf-8', html);

/** The raw (still URL-encoded) query parameters, in order, first occurrence wins. */
function rawQuery(url) {
  const q = url.indexOf('?');
  const out = new Map();
  if (q < 0) return out;
  for (const part of url.slice(q + 1).split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    const key = decodeFormComponent(k);
    if (!out.has(key)) out.set(key, v);
  }
  return out;
}

// application/x-www-form-urlencoded decoding ('+' is a space).
function decodeFormComponent(s) {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}
// For base64 values a '+' left unencoded by a sloppy encoder is still a '+'.
function decodeB64Component(s) {
  return decodeURIComponent(s);
}

const SIG_ALGS = {
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256': 'sha256',
  'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512': 'sha512',
  'http://www.w3.org/2000/09/xmldsig#rsa-sha1': 'sha1',
};

/** true/false: the redirect-binding signature over the raw query octets. */
function verifyRedirectSignature(raw) {
  const sigAlg = raw.has('SigAlg') ? decodeFormComponent(raw.get('SigAlg')) : undefined;
  const hash = SIG_ALGS[sigAlg];
  if (!raw.has('Signature') || !hash) return false;
  let octets = `SAMLRequest=${raw.get('SAMLRequest')}`;
  if (raw.has('RelayState')) octets += `&RelayState=${raw.get('RelayState')}`;
  octets += `&SigAlg=${raw.get('SigAlg')}`;
  try {
    const signature = Buffer.from(decodeB64Component(raw.get('Signature')), 'base64');
    return cryptoVerify(hash, Buffer.from(octets, 'utf8'), spPublicKey, signature);
  } catch {
    return false;
  }
}

function parseAuthnRequest(b64) {
  const deflated = Buffer.from(b64, 'base64');
  let xml;
  try {
    xml = inflateRawSync(deflated).toString('utf8');
  } catch {
    // Some SPs skip DEFLATE on the redirect binding: tolerate plain base64 XML.
    xml = deflated.toString('utf8');
  }
  const doc = parseXml(xml);
  const root = doc.documentElement;
  if (root.localName !== 'AuthnRequest' || root.namespaceURI !== NS.samlp) {
    throw new Error(`not a samlp:AuthnRequest but ${root.namespaceURI} ${root.localName}`);
  }
  let issuer = null;
  let nameIdPolicyFormat = null;
  for (let n = root.firstChild; n; n = n.nextSibling) {
    if (n.nodeType !== 1) continue;
    if (n.localName === 'Issuer' && n.namespaceURI === NS.saml) issuer = (n.textContent ?? '').trim();
    if (n.localName === 'NameIDPolicy' && n.namespaceURI === NS.samlp) nameIdPolicyFormat = n.getAttribute('Format') || null;
  }
  return {
    xml,
    id: root.getAttribute('ID') || null,
    issuer,
    acsUrl: root.getAttribute('AssertionConsumerServiceURL') || null,
    protocolBinding: root.getAttribute('ProtocolBinding') || null,
    destination: root.getAttribute('Destination') || null,
    forceAuthn: root.getAttribute('ForceAuthn') === 'true',
    nameIdPolicyFormat,
  };
}

function loginPage({ requestKey, error, issuer }) {
  const err = error ? `<p class="error" id="idp-error">${htmlEscape(error)}</p>` : '';
  const who = issuer ? `<p>Sign in to continue to <code>${htmlEscape(issuer)}</code></p>` : '';
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Test SAML IdP - sign in</title></head>
<body>
<h1>Test SAML IdP</h1>
${who}${err}
<form id="idp-login" method="post" action="/sso/login">
<input type="hidden" name="request_key" value="${htmlEscape(requestKey)}"/>
<label>Username <input type="text" name="username" id="username" autocomplete="username" autofocus/></label>
<label>Password <input type="password" name="password" id="password" autocomplete="current-password"/></label>
<button type="submit" id="idp-submit">Sign in</button>
</form>
</body></html>
`;
}

function issueResponse({ login, inResponseTo }) {
  const user = users[login];
  const now = Date.now();
  const responseId = newId();
  const assertionId = newId();
  const xml = buildResponseXml({
    responseId,
    assertionId,
    issuer: entityId,
    destination: spAcsUrl,
    audience: spEntityId,
    inResponseTo,
    nameId: user.name_id ?? user.attributes?.email ?? login,
    nameIdFormat: user.name_id_format ?? defaultNameIdFormat,
    attributes: user.attributes ?? {},
    issueInstant: samlTime(now),
    notBefore: samlTime(now - 60e3),
    notOnOrAfter: samlTime(now + lifetime * 1000),
  });
  const signed = signResponse(xml, { keyPem, certPem, sign: signMode });
  stats.responses_issued += 1;
  stats.responses.push({ id: responseId, assertion_id: assertionId, in_response_to: inResponseTo ?? null, name_id: user.name_id ?? login });
  log(`issued Response ${responseId} for ${login} (InResponseTo ${inResponseTo ?? 'none'}, sign ${signMode})`);
  return Buffer.from(signed, 'utf8').toString('base64');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > 1 << 20) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// ---------------------------------------------------------------- handlers

async function schemaValid(xml) {
  try {
    await xmllint.validate(xml);
    return true;
  } catch {
    return false;
  }
}

async function handleSso(req, res) {
  const raw = rawQuery(req.url);
  if (!raw.has('SAMLRequest')) return sendJson(res, 400, { error: 'missing SAMLRequest' });
  const relayState = raw.has('RelayState') ? decodeFormComponent(raw.get('RelayState')) : null;
  let ar;
  try {
    ar = parseAuthnRequest(decodeB64Component(raw.get('SAMLRequest')));
  } catch (e) {
    log('bad AuthnRequest:', e.message);
    stats.authn_requests.push({ id: null, issuer: null, acs_url: null, signature_verified: null, relay_state: relayState, error: 'bad AuthnRequest' });
    return sendJson(res, 400, { error: 'bad AuthnRequest', detail: e.message });
  }
  log(`AuthnRequest ${ar.id} from ${ar.issuer}:\n${ar.xml}`);

  const schemaOk = await schemaValid(ar.xml);
  if (!schemaOk) log(`AuthnRequest ${ar.id} fails the SAML 2.0 schema (details above)`);

  let signatureVerified = null;
  if (spPublicKey && (raw.has('Signature') || wantSigned)) signatureVerified = verifyRedirectSignature(raw);
  const entry = {
    id: ar.id,
    issuer: ar.issuer,
    acs_url: ar.acsUrl,
    signature_verified: signatureVerified,
    relay_state: relayState,
    sig_alg: raw.has('SigAlg') ? decodeFormComponent(raw.get('SigAlg')) : null,
    protocol_binding: ar.protocolBinding,
    destination: ar.destination,
    name_id_policy_format: ar.nameIdPolicyFormat,
    force_authn: ar.forceAuthn,
    schema_valid: schemaOk,
    error: null,
  };
  stats.authn_requests.push(entry);

  if (wantSigned && signatureVerified === false) {
    entry.error = 'bad AuthnRequest signature';
    return sendJson(res, 400, { error: 'bad AuthnRequest signature' });
  }
  if (strictSchema && !schemaOk) {
    entry.error = 'AuthnRequest fails the SAML schema';
    return sendJson(res, 400, { error: entry.error });
  }
  if (!ar.id) {
    entry.error = 'AuthnRequest without ID';
    return sendJson(res, 400, { error: entry.error });
  }
  if (ar.issuer !== spEntityId) {
    entry.error = 'unknown SP issuer';
    return sendJson(res, 400, { error: entry.error, issuer: ar.issuer, expected: spEntityId });
  }
  if (ar.acsUrl && ar.acsUrl !== spAcsUrl) {
    entry.error = 'unknown AssertionConsumerServiceURL';
    return sendJson(res, 400, { error: entry.error, acs_url: ar.acsUrl, expected: spAcsUrl });
  }
  const requestKey = newId().slice(1);
  pending.set(requestKey, { id: ar.id, relayState, issuer: ar.issuer });
  return sendHtml(res, 200, loginPage({ requestKey, issuer: ar.issuer }));
}

async function handleLogin(req, res) {
  const form = querystring.parse(await readBody(req));
  const requestKey = String(form.request_key ?? '');
  const username = String(form.username ?? '');
  const p = pending.get(requestKey);
  if (!p) return sendJson(res, 400, { error: 'unknown or used request_key' });
  if (!Object.hasOwn(users, username)) {
    return sendHtml(res, 401, loginPage({ requestKey, issuer: p.issuer, error: `unknown user ${username}` }));
  }
  pending.delete(requestKey);
  const b64 = issueResponse({ login: username, inResponseTo: p.id });
  return sendHtml(res, 200, autoPostHtml(spAcsUrl, b64, p.relayState));
}

function handleIdpInitiated(req, res) {
  const q = querystring.parse(req.url.split('?')[1] ?? '');
  const username = String(q.username ?? '');
  if (!Object.hasOwn(users, username)) return sendJson(res, 400, { error: `unknown user ${username}` });
  const b64 = issueResponse({ login: username, inResponseTo: null });
  return sendHtml(res, 200, autoPostHtml(spAcsUrl, b64, q.RelayState !== undefined ? String(q.RelayState) : null));
}

const server = http.createServer(async (req, res) => {
  const path = req.url.split('?')[0];
  try {
    if (req.method === 'GET' && path === '/metadata') {
      return send(res, 200, 'application/samlmetadata+xml', metadataXml);
    }
    if (req.method === 'GET' && path === '/sso') return await handleSso(req, res);
    if (req.method === 'POST' && path === '/sso/login') return await handleLogin(req, res);
    if (req.method === 'GET' && path === '/idp-initiated') return handleIdpInitiated(req, res);
    if (req.method === 'GET' && path === '/_stats') return sendJson(res, 200, stats);
    return sendJson(res, 404, { error: 'not found' });
  } catch (e) {
    log('error:', e.stack ?? e);
    if (!res.headersSent) sendJson(res, 500, { error: String(e.message ?? e) });
    else res.end();
  }
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  base = `http://127.0.0.1:${port}`;
  entityId = `${base}/metadata`;
  ssoUrl = `${base}/sso`;
  const idp = samlify.IdentityProvider({
    entityID: entityId,
    signingCert: certPem,
    wantAuthnRequestsSigned: wantSigned,
    nameIDFormat: [defaultNameIdFormat],
    singleSignOnService: [{ Binding: BINDING_REDIRECT, Location: ssoUrl }],
  });
  metadataXml = idp.getMetadata();
  log(`listening on ${base}; SP ${spEntityId} ACS ${spAcsUrl}; sign ${signMode}; want_authn_requests_signed ${wantSigned}`);
  process.stdout.write(
    `${JSON.stringify({
      port,
      base,
      entity_id: entityId,
      sso_url: ssoUrl,
      metadata_url: entityId,
      certificate: certPem,
      key_pem: keyPem,
      metadata_xml: metadataXml,
    })}\n`,
  );
});

let closing = false;
function shutdown(why) {
  if (closing) return;
  closing = true;
  log(`shutting down (${why})`);
  server.close();
  server.closeAllConnections?.();
  process.exit(0);
}
process.stdin.on('end', () => shutdown('stdin closed'));
process.stdin.on('error', () => shutdown('stdin error'));
process.stdin.resume();
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
