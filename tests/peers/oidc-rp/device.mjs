// The device authorization grant (RFC 8628) driven by openid-client
// (initiateDeviceAuthorization, pollDeviceAuthorizationGrant), with the
// user's side on the device page in headless Chromium (Debian's chromium via
// playwright-core): verification_uri_complete, sign-in, approval.
//
//   node device.mjs '{"issuer": "...", "client_id": "...", "redirect_uri": "unused",
//                     "username": "...", "password": "...", "screenshot": "/abs/path.png"}'

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as client from 'openid-client';
import { chromium } from 'playwright-core';

import { check, configure, readConfig, run } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

async function main() {
  const cfg = readConfig();
  const config = await configure(cfg.issuer, cfg.client_id, cfg.client_secret);
  const device = await client.initiateDeviceAuthorization(config, { scope: 'openid profile' });
  const out = { user_code: device.user_code, interval: device.interval, console_errors: [] };
  const polling = client.pollDeviceAuthorizationGrant(config, device);

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
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) out.console_errors.push(m.text());
    });
    await page.goto(device.verification_uri_complete);
    out.prefilled = await page.inputValue('#user_code');
    await Promise.all([page.waitForNavigation(), page.click('#device-form button[type=submit]')]);
    await page.fill('#username', cfg.username);
    await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    await page.fill('#password', cfg.password);
    await Promise.all([page.waitForNavigation(), page.click('#login-form button[type=submit]')]);
    if (await page.locator('button[name=skip]').count()) {
      await Promise.all([page.waitForNavigation(), page.click('button[name=skip]')]);
    }
    out.app_name = (await page.locator('#device-app').textContent())?.trim();
    await page.screenshot({ path: cfg.screenshot, fullPage: true });
    await Promise.all([page.waitForNavigation(), page.click('button[value=allow]')]);
    out.done = (await page.locator('h1').textContent())?.trim();
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
  const tokens = await polling;
  check(tokens.access_token, 'no access token');
  out.claims = tokens.claims();
  out.token_type = tokens.token_type;
  return out;
}

run(main);
