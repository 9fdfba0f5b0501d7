// Shared SAML 2.0 building blocks for idp.mjs (the honest IdP) and forge.mjs
// (the attacker's toolkit), so that both emit Responses of exactly one shape:
//
//   <samlp:Response ID Version="2.0" IssueInstant Destination [InResponseTo]>
//     <saml:Issuer>                      (the IdP entity id)
//     [<ds:Signature>]                   (sign = response | both)
//     <samlp:Status><samlp:StatusCode Value="...:status:Success"/></samlp:Status>
//     <saml:Assertion ID Version="2.0" IssueInstant>
//       <saml:Issuer>
//       [<ds:Signature>]                 (sign = assertion | both)
//       <saml:Subject>
//         <saml:NameID Format>           (emailAddress unless configured)
//         <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
//           <saml:SubjectConfirmationData NotOnOrAfter Recipient [InResponseTo]/>
//       <saml:Conditions NotBefore NotOnOrAfter>
//         <saml:AudienceRestriction><saml:Audience>   (the SP entity id)
//       <saml:AuthnStatement AuthnInstant SessionIndex>
//         <saml:AuthnContext><saml:AuthnContextClassRef>...PasswordProtectedTransport
//       <saml:AttributeStatement>
//         <saml:Attribute Name NameFormat="...attrname-format:basic">
//           <saml:AttributeValue xsi:type="xs:string">
//
// Signatures (xml-crypto): enveloped, one Reference to the signed element's
// ID, transforms enveloped-signature + exclusive c14n (no comments),
// SignedInfo canonicalized with exclusive c14n, RSA-SHA256, SHA-256 digest,
// KeyInfo/X509Data/X509Certificate with the signer's certificate, placed
// right after the element's Issuer (as the SAML schema requires). With
// "both" the Assertion is signed first, then the Response (whose digest thus
// covers the Assertion's signature).

import { generateKeyPairSync, randomBytes } from 'node:crypto';

import { DOMParser, XMLSerializer } from '@xmldom/xmldom';
import forge from 'node-forge';
import { SignedXml } from 'xml-crypto';

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xs: 'http://www.w3.org/2001/XMLSchema',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
};

export const ALG = {
  rsaSha256: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
  sha256: 'http://www.w3.org/2001/04/xmlenc#sha256',
  excC14n: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  enveloped: 'http://www.w3.org/2000/09/xmldsig#enveloped-signature',
};

export const NAMEID_EMAIL = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';
export const BINDING_REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';
export const BINDING_POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST';
export const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
export const AC_PPT = 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport';
export const ATTRNAME_BASIC = 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic';

export const SIGN_MODES = new Set(['response', 'assertion', 'both', 'none']);

/** A fresh SAML ID: an xs:ID (NCName) with 160 bits of randomness. */
export function newId() {
  return `_${randomBytes(20).toString('hex')}`;
}

/** xs:dateTime in UTC without fractional seconds, e.g. 2024-05-01T12:00:00Z. */
export function samlTime(d) {
  const date = d instanceof Date ? d : new Date(d);
  if (Number.isNaN(date.getTime())) throw new Error(`not a date: ${d}`);
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function xmlEscape(s) {
  return String(s)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

export function htmlEscape(s) {
  return xmlEscape(s);
}

/** PEM -> the base64 body (as in ds:X509Certificate and metadata). */
export function pemBody(pem) {
  return String(pem)
    .replace(/-----(BEGIN|END)[^-]*-----/g, '')
    .replace(/\s+/g, '');
}

/** base64 body (or PEM) -> a CERTIFICATE PEM. */
export function certToPem(b64OrPem) {
  const body = pemBody(b64OrPem);
  const lines = body.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/**
 * An RSA-2048 key (Node's crypto) and a self-signed X.509 v3 certificate for
 * it (node-forge), SHA-256 with RSA, valid from 1 day ago for 10 years.
 * `subject` is a node-forge attribute list; default CN=<cn>.
 */
export function generateKeyAndCert({ cn = 'ScaiKey test SAML IdP', subject } = {}) {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }));
  // Positive serial: first byte < 0x80.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 86400e3);
  cert.validity.notAfter = new Date(Date.now() + 10 * 365 * 86400e3);
  const attrs = subject ?? [
    { name: 'commonName', value: cn },
    { name: 'organizationName', value: 'ScaiKey tests' },
  ];
  cert.setSubject(attrs);
  cert.setIssuer(attrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, nonRepudiation: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { keyPem, certPem: certToPem(forge.pki.certificateToPem(cert)) };
}

/** The subject attributes of a certificate PEM (to clone it onto a forged one). */
export function certSubject(certPem) {
  const c = forge.pki.certificateFromPem(certPem);
  return c.subject.attributes.map((a) => ({ type: a.type, value: a.value }));
}

function attributeXml(name, value) {
  const values = Array.isArray(value) ? value : [value];
  const vals = values
    .map((v) => `<saml:AttributeValue xsi:type="xs:string">${xmlEscape(v)}</saml:AttributeValue>`)
    .join('');
  return `<saml:Attribute Name="${xmlEscape(name)}" NameFormat="${ATTRNAME_BASIC}">${vals}</saml:Attribute>`;
}

/**
 * The unsigned Assertion element (as a string). The Assertion declares
 * xs/xsi for the typed attribute values; saml comes from the Response (or is
 * declared here when `standalone`).
 */
export function buildAssertionXml(p) {
  const now = p.issueInstant ?? samlTime(new Date());
  const irt = p.inResponseTo ? ` InResponseTo="${xmlEscape(p.inResponseTo)}"` : '';
  const samlNs = p.standalone ? ` xmlns:saml="${NS.saml}"` : '';
  const attrs = Object.entries(p.attributes ?? {}).filter(([, v]) => v !== undefined && v !== null);
  const attrStatement = attrs.length
    ? `<saml:AttributeStatement>${attrs.map(([k, v]) => attributeXml(k, v)).join('')}</saml:AttributeStatement>`
    : '';
  return (
    `<saml:Assertion${samlNs} xmlns:xs="${NS.xs}" xmlns:xsi="${NS.xsi}" ID="${xmlEscape(p.assertionId)}" Version="2.0" IssueInstant="${now}">` +
    `<saml:Issuer>${xmlEscape(p.issuer)}</saml:Issuer>` +
    `<saml:Subject>` +
    `<saml:NameID Format="${xmlEscape(p.nameIdFormat ?? NAMEID_EMAIL)}">${xmlEscape(p.nameId)}</saml:NameID>` +
    `<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">` +
    `<saml:SubjectConfirmationData NotOnOrAfter="${p.subjectNotOnOrAfter ?? p.notOnOrAfter}" Recipient="${xmlEscape(p.recipient ?? p.destination)}"${irt}/>` +
    `</saml:SubjectConfirmation>` +
    `</saml:Subject>` +
    `<saml:Conditions NotBefore="${p.notBefore}" NotOnOrAfter="${p.notOnOrAfter}">` +
    `<saml:AudienceRestriction><saml:Audience>${xmlEscape(p.audience)}</saml:Audience></saml:AudienceRestriction>` +
    `</saml:Conditions>` +
    `<saml:AuthnStatement AuthnInstant="${p.authnInstant ?? now}" SessionIndex="${xmlEscape(p.sessionIndex ?? p.assertionId)}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${AC_PPT}</saml:AuthnContextClassRef></saml:AuthnContext>` +
    `</saml:AuthnStatement>` +
    attrStatement +
    `</saml:Assertion>`
  );
}

/**
 * The unsigned Response (string). Parameters:
 *  issuer, destination, audience, inResponseTo (or null: unsolicited),
 *  nameId, nameIdFormat, attributes, notBefore, notOnOrAfter (xs:dateTime),
 *  responseId, assertionId, issueInstant, recipient, subjectNotOnOrAfter.
 */
export function buildResponseXml(p) {
  const now = p.issueInstant ?? samlTime(new Date());
  const irt = p.inResponseTo ? ` InResponseTo="${xmlEscape(p.inResponseTo)}"` : '';
  return (
    `<samlp:Response xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${xmlEscape(p.responseId)}" Version="2.0" IssueInstant="${now}" Destination="${xmlEscape(p.destination)}"${irt}>` +
    `<saml:Issuer>${xmlEscape(p.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status>` +
    buildAssertionXml({ ...p, issueInstant: now }) +
    `</samlp:Response>`
  );
}

const ASSERTION_XPATH = `//*[local-name(.)='Assertion' and namespace-uri(.)='${NS.saml}']`;

function signOne(xml, { keyPem, certPem, target }) {
  const sig = new SignedXml({
    privateKey: keyPem,
    publicCert: certPem,
    signatureAlgorithm: ALG.rsaSha256,
    canonicalizationAlgorithm: ALG.excC14n,
  });
  if (target === 'assertion') {
    // The first Assertion in document order (the only one in an honest Response).
    sig.addReference({
      xpath: `(${ASSERTION_XPATH})[1]`,
      transforms: [ALG.enveloped, ALG.excC14n],
      digestAlgorithm: ALG.sha256,
    });
    sig.computeSignature(xml, {
      prefix: 'ds',
      location: { reference: `(${ASSERTION_XPATH})[1]/*[local-name(.)='Issuer']`, action: 'after' },
    });
  } else {
    sig.addReference({
      xpath: '/*',
      transforms: [ALG.enveloped, ALG.excC14n],
      digestAlgorithm: ALG.sha256,
    });
    sig.computeSignature(xml, {
      prefix: 'ds',
      location: { reference: `/*/*[local-name(.)='Issuer']`, action: 'after' },
    });
  }
  return sig.getSignedXml();
}

/** Sign a Response per `sign` (response | assertion | both | none). */
export function signResponse(xml, { keyPem, certPem, sign }) {
  if (!SIGN_MODES.has(sign)) throw new Error(`sign must be one of ${[...SIGN_MODES].join(', ')}`);
  let out = xml;
  if (sign === 'assertion' || sign === 'both') out = signOne(out, { keyPem, certPem, target: 'assertion' });
  if (sign === 'response' || sign === 'both') out = signOne(out, { keyPem, certPem, target: 'response' });
  return out;
}

export function parseXml(xml) {
  const errors = [];
  const doc = new DOMParser({
    onError: (level, msg) => {
      if (level !== 'warning') errors.push(msg);
    },
  }).parseFromString(xml, 'text/xml');
  if (errors.length || !doc?.documentElement) throw new Error(`bad XML: ${errors.join('; ') || 'no root'}`);
  return doc;
}

export function serializeXml(node) {
  return new XMLSerializer().serializeToString(node);
}

/** The HTTP-POST binding page: an auto-submitting form to the ACS. */
export function autoPostHtml(acsUrl, samlResponseB64, relayState) {
  const rs =
    relayState !== undefined && relayState !== null
      ? `<input type="hidden" name="RelayState" value="${htmlEscape(relayState)}"/>`
      : '';
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SAML POST</title></head>
<body onload="document.getElementById('saml-post').submit()">
<form id="saml-post" method="post" action="${htmlEscape(acsUrl)}">
<input type="hidden" name="SAMLResponse" value="${htmlEscape(samlResponseB64)}"/>
${rs}
<noscript><p>JavaScript is off: press Continue.</p><button type="submit">Continue</button></noscript>
</form>
</body></html>
`;
}
