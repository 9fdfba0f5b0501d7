// Passkeys end to end in headless Chromium (Debian's /usr/bin/chromium via
// playwright-core) with its virtual authenticator (DevTools
// WebAuthn.addVirtualAuthenticator: CTAP2, internal, resident keys, user
// verification), openid-client building the authorization URLs and
// redeeming the codes.
//
//   node passkey.mjs '{"issuer": "http://localhost:<port>/api/v1/auth/tenants/<slug>", "client_id": "...",
//                      "client_secret": "...", "redirect_uri": "http://127.0.0.1:<port>/callback",
//                      "username": "...", "password": "...", "screenshot": "/abs/path.png"}'
//
// mode "register" (default): signs in to the account page (password; the
// optional MFA enrollment skipped), adds a passkey there (screenshot of the
// account page), then signs in to the app with password + passkey (second
// factor) and with the passkey alone (passwordless: by the button, and by
// the identifier field's autofill). It prints the claims of the ID tokens and a copy of the credential taken right after its
// registration (signature counter as it was then).
// mode "cloned" (with "credential"): an authenticator holding a copy of a
// credential tries a passwordless sign-in; where it ended and the page's
// error are printed.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { check, configure, readConfig, run } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function authorizationUrl(config, cfg) {
  const pkceCodeVerifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: cfg.redirect_uri,
    scope: 'openid profile',
    code_challenge: await client.calculatePKCECodeChallenge(pkceCodeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  return { url, checks: { pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true } };
}

async function claimsAfter(page, config, cfg, checks, click) {
  try {
    await Promise.all([page.waitForURL((u) => u.href.startsWith(cfg.redirect_uri), { timeout: 15_000 }), click()]);
  } catch (e) {
    const shown = await page.locator('.error:not([hidden])').allTextContents().catch(() => []);
    throw new Error(`no redirect to the client (at ${page.url()}; the page says ${JSON.stringify(shown)}): ${e.message}`);
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(page.url()), checks);
  return tokens.claims();
}

async function main() {
  const cfg = readConfig();
  const mode = cfg.mode ?? 'register';
  const config = await configure(cfg.issuer, cfg.client_id, cfg.client_secret);
  const profile = mkdtempSync(join(tmpdir(), 'scaikey-chromium-'));
  const context = await chromium
    .launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 800, height: 900 },
    })
    .catch((e) => {
      throw new Error(`cannot start ${CHROMIUM} (apt-get install chromium): ${e.message}`);
    });
  const out = { console_errors: [] };
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) out.console_errors.push(`${m.text()} (${m.location().url})`);
    });
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    if (mode === 'cloned') {
      check(cfg.credential, 'config.credential is required in mode "cloned"');
      await cdp.send('WebAuthn.addCredential', { authenticatorId, credential: cfg.credential });
      const { url } = await authorizationUrl(config, cfg);
      // The identifier field's autofill offers the copy and posts its answer.
      // Either back at the client, or the login page's answer to the post.
      await page.goto(url.href);
      const done = (u) => u.href.startsWith(cfg.redirect_uri) || (u.pathname.endsWith('/login') && !u.search);
      await page.waitForURL(done, { timeout: 15_000 });
      await page.waitForLoadState('load');
      out.url = page.url();
      out.text = (await page.locator('main').textContent().catch(() => ''))?.replace(/\s+/g, ' ').trim();
      out.error = (await page.locator('.error[role=alert]').textContent().catch(() => null))?.trim() ?? null;
      return out;
    }

    // 1. The account page, reached through the login flow.
    await page.goto(`${cfg.issuer}/account`);
    check(page.url().startsWith(`${cfg.issuer}/login?request=`), `the account page did not ask for a sign-in: ${page.url()}`);
    await page.fill('#username', cfg.username);
    await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    await page.fill('#password', cfg.password);
    await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    if (await page.locator('button[name=skip]').count()) {
      await Promise.all([page.waitForNavigation(), page.click('button[name=skip]')]);
    }
    check(page.url() === `${cfg.issuer}/account`, `not on the account page after sign-in: ${page.url()}`);

    // 2. A passkey added on the account page.
    await page.waitForSelector('#passkey-add:not([hidden])', { timeout: 10_000 });
    await Promise.all([page.waitForNavigation(), page.click('#passkey-add')]);
    out.account_notice = (await page.locator('.notice').textContent().catch(() => null))?.trim() ?? null;
    out.account_error = (await page.locator('.error[role=alert]').textContent().catch(() => null))?.trim() ?? null;
    out.factors = await page.locator('tr.factor').evaluateAll((rows) => rows.map((r) => r.dataset.kind));
    out.recovery_codes_shown = await page.locator('#recovery-codes li').count();
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
    out.screenshot = cfg.screenshot;
    const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    check(credentials.length === 1, `the authenticator holds ${credentials.length} credentials`);
    out.registered = { ...credentials[0] };
    out.registered_resident = credentials[0].isResidentCredential;

    // With a discoverable credential on the authenticator, the identifier
    // page's autofill (conditional mediation) would sign in at once: it is
    // switched off for the steps that click, and on again for the last.
    await page.addInitScript(() => {
      if (localStorage.getItem('no-autofill') === '1' && window.PublicKeyCredential) {
        PublicKeyCredential.isConditionalMediationAvailable = async () => false;
      }
    });
    await page.evaluate(() => localStorage.setItem('no-autofill', '1'));

    // 3. Password, then the passkey as the second factor.
    await context.clearCookies();
    let { url, checks } = await authorizationUrl(config, cfg);
    await page.goto(url.href);
    await page.fill('#username', cfg.username);
    await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    await page.fill('#password', cfg.password);
    await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    await page.waitForSelector('#passkey-verify:not([hidden])', { timeout: 10_000 });
    out.second_factor = await claimsAfter(page, config, cfg, checks, () => page.click('#passkey-verify'));

    // 4. The passkey alone (discoverable credential, no username typed), by the button.
    await context.clearCookies();
    ({ url, checks } = await authorizationUrl(config, cfg));
    await page.goto(url.href);
    await page.waitForSelector('#passkey-signin:not([hidden])', { timeout: 10_000 });
    out.passwordless = await claimsAfter(page, config, cfg, checks, () => page.click('#passkey-signin'));

    // 5. The same from the identifier field's autofill, nothing clicked.
    await context.clearCookies();
    ({ url, checks } = await authorizationUrl(config, cfg));
    await page.goto(`${cfg.issuer}/account`);
    await page.evaluate(() => localStorage.removeItem('no-autofill'));
    out.autofill = await claimsAfter(page, config, cfg, checks, () => page.goto(url.href));
    const after = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
    out.current = after.credentials[0];
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  return out;
}

run(main);
