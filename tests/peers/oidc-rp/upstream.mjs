// Walking the development login and consent pages of an upstream
// oidc-provider (tests/peers/oidc-op) with lib.mjs's fetch-based Browser.
//
// oidc-provider's devInteractions render, at GET <issuer>/interaction/<uid>:
//   login:   <form autocomplete="off" action="<issuer>/interaction/<uid>" method="post">
//              <input type="hidden" name="prompt" value="login"/>
//              <input required type="text" name="login" ...>
//              <input required type="password" name="password" ...>
//              <button type="submit" class="login login-submit">Sign-in</button></form>
//   consent: <form autocomplete="off" action="<issuer>/interaction/<uid>" method="post">
//              <input type="hidden" name="prompt" value="consent"/>
//              <button autofocus type="submit" class="login login-submit">Continue</button></form>
// Each POST answers 303 to <issuer>/auth/<uid> (resume), which answers 303
// to the next interaction or to the client's redirect_uri.

import { check } from './lib.mjs';

export function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>"']+))`, 'i'));
  return m ? decodeEntities(m[1] ?? m[2] ?? m[3]) : null;
}

/// Every <form> of a page: absolute action, method, hidden fields (with
/// values) and the names of the other inputs.
export function parseForms(html, pageUrl) {
  const forms = [];
  for (const m of html.matchAll(/<form\b[^>]*>([\s\S]*?)<\/form>/gi)) {
    const tag = m[0].match(/<form\b[^>]*>/i)[0];
    const hidden = {};
    const inputs = [];
    for (const input of m[1].match(/<input\b[^>]*>/gi) ?? []) {
      const name = attr(input, 'name');
      if (!name) continue;
      const type = (attr(input, 'type') ?? 'text').toLowerCase();
      if (type === 'hidden') hidden[name] = attr(input, 'value') ?? '';
      else inputs.push(name);
    }
    forms.push({
      id: attr(tag, 'id'),
      action: new URL(attr(tag, 'action') ?? pageUrl, pageUrl).href,
      method: (attr(tag, 'method') ?? 'get').toUpperCase(),
      hidden,
      inputs,
    });
  }
  return forms;
}

/// The visible text of a page: tags, scripts and styles stripped, whitespace collapsed.
export function visibleText(html, max = 500) {
  const text = decodeEntities(
    html
      .replace(/<(script|style|head|template)\b[\s\S]*?<\/\1>/gi, ' ')
      .replace(/<\/?(?:a|b|i|em|strong|span|code|small|abbr|kbd|mark|s|u|sub|sup|label)\b[^>]*>/gi, '')
      .replace(/<[^>]+>/g, ' '),
  )
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > max ? text.slice(0, max) : text;
}

/// Which development interaction a page of oidc-provider is, if any.
export function upstreamInteraction(html, pageUrl) {
  for (const form of parseForms(html, pageUrl)) {
    if (form.method !== 'POST') continue;
    if (form.hidden.prompt === 'login' && form.inputs.includes('login')) return { kind: 'login', form };
    if (form.hidden.prompt === 'consent') return { kind: 'consent', form };
  }
  return null;
}

export const isRedirect = (status) => status >= 301 && status <= 308 && status !== 304;

/// One step at an upstream oidc-provider page (status 200, HTML): submits the
/// login form with `login`/`password`, or the consent form. Returns the
/// response to the POST, or null when the page is neither.
export async function submitUpstreamPage(browser, page, pageUrl, { login, password }, hops) {
  const found = upstreamInteraction(page.text, pageUrl);
  if (!found) return null;
  const { kind, form } = found;
  const fields = kind === 'login' ? { ...form.hidden, login, password } : { ...form.hidden };
  const r = await browser.request(form.action, { method: 'POST', form: fields });
  hops?.push(`POST ${r.status} ${form.action}`);
  return { kind, response: r, url: form.action };
}

/// Follows redirects from `startUrl` and signs in at the upstream's
/// development interactions until a redirect's Location satisfies `stop`.
/// Returns { location, hops, interactions }.
export async function walkUpstream(browser, startUrl, { login, password, stop, maxSteps = 30, hops = [] }) {
  let url = startUrl;
  let r = await browser.request(url);
  hops.push(`GET ${r.status} ${url}`);
  const interactions = [];
  for (let i = 0; i < maxSteps; i += 1) {
    if (isRedirect(r.status)) {
      check(r.location, `${r.status} without Location at ${url}`);
      if (stop(r.location)) return { location: r.location, hops, interactions };
      url = r.location;
      r = await browser.request(url);
      hops.push(`GET ${r.status} ${url}`);
      continue;
    }
    check(r.status === 200, `upstream answered ${r.status} at ${url}:\n${r.text.slice(0, 1000)}`);
    const step = await submitUpstreamPage(browser, r, url, { login, password }, hops);
    check(step, `no login or consent form at ${url} (status ${r.status}):\n${r.text.slice(0, 1000)}`);
    interactions.push(step.kind);
    r = step.response;
    url = step.url;
  }
  throw new Error(`no end after ${maxSteps} steps (last: ${r.status} ${url})`);
}
