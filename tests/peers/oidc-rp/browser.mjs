// One end-to-end login in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core; never a browser download), with openid-client
// v6 building the authorization URL and redeeming the code.
//
//   node browser.mjs '{"issuer": "...", "client_id": "...", "client_secret": "...",
//                      "redirect_uri": "http://127.0.0.1:<port>/callback",
//                      "username": "...", "password": "...", "screenshot": "/abs/path.png"}'
//
// The redirect_uri must be served on 127.0.0.1 by the caller (the Rust test
// answers it), since Playwright cannot intercept a redirect's target. Prints
// one JSON object; exits 1 with "FAILED: ..." otherwise.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { check, configure, readConfig, run } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function main() {
  const cfg = readConfig();
  check(cfg.screenshot, 'config.screenshot is required');
  const config = await configure(cfg.issuer, cfg.client_id, cfg.client_secret, { idTokenAlg: cfg.id_token_alg });
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: 'openid profile email',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });

  const profile = mkdtempSync(join(tmpdir(), 'scaikey-chromium-'));
  const browser = await chromium
    .launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 800, height: 640 },
    })
    .catch((e) => {
      throw new Error(`cannot start ${CHROMIUM} (apt-get install chromium): ${e.message}`);
    });
  const out = {};
  try {
    const page = browser.pages()[0] ?? (await browser.newPage());
    const consoleErrors = [];
    // Browsers ask every origin for /favicon.ico on their own; a 404 there is noise, kept apart.
    const faviconMisses = [];
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const where = m.location().url;
      if (where.endsWith('/favicon.ico')) faviconMisses.push(where);
      else consoleErrors.push(`${m.text()} (${where})`);
    });
    const failedResponses = [];
    page.on('response', (r) => r.status() >= 400 && failedResponses.push(`${r.status()} ${r.url()}`));
    await page.goto(url.href);
    check(page.url().startsWith(`${cfg.issuer}/login?request=`), `authorize did not lead to the login page but to ${page.url()}`);
    out.login_title = await page.title();
    out.heading = (await page.locator('h1').textContent())?.trim();
    await page.fill('#username', cfg.username);
    await Promise.all([page.waitForLoadState('load'), page.click('#login-form button[type=submit]')]);
    await page.waitForSelector('#password', { timeout: 10_000 });
    out.password_step_shows_user = (await page.locator('.who').textContent())?.trim();
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
    out.screenshot = cfg.screenshot;
    await page.fill('#password', cfg.password);
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(cfg.redirect_uri), { timeout: 15_000 }),
      page.click('#login-form button[type=submit]'),
    ]);
    const callback = page.url();
    out.callback = callback;
    out.callback_page = (await page.locator('body').textContent())?.trim();
    out.cookies = (await browser.cookies(cfg.issuer)).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, path: c.path }));
    out.console_errors = consoleErrors;
    out.failed_responses = failedResponses;
    out.favicon_misses = faviconMisses;

    const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
      pkceCodeVerifier,
      expectedState: state,
      expectedNonce: nonce,
      idTokenExpected: true,
    });
    out.id_token = tokens.claims();
    out.userinfo = await client.fetchUserInfo(config, tokens.access_token, out.id_token.sub);
  } finally {
    await browser.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

run(main);
