// RFC 8693 token exchange driven by openid-client (genericGrantRequest):
// the caller trades a user's access token for one aimed at `audience`.
//
//   node exchange.mjs '{"issuer": "...", "client_id": "...", "client_secret": "...", "redirect_uri": "unused",
//                       "username": "unused", "password": "unused", "subject_token": "...", "audience": "...",
//                       "scope": "..."}'

import * as client from 'openid-client';

import { check, configure, jwtParts, readConfig, run } from './lib.mjs';

async function main() {
  const cfg = readConfig();
  check(cfg.subject_token && cfg.audience, 'config.subject_token and config.audience are required');
  const config = await configure(cfg.issuer, cfg.client_id, cfg.client_secret);
  const parameters = {
    subject_token: cfg.subject_token,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    requested_token_type: 'urn:ietf:params:oauth:token-type:access_token',
    audience: cfg.audience,
  };
  if (cfg.scope) parameters.scope = cfg.scope;
  const tokens = await client.genericGrantRequest(config, 'urn:ietf:params:oauth:grant-type:token-exchange', parameters);
  return {
    issued_token_type: tokens.issued_token_type,
    token_type: tokens.token_type,
    expires_in: tokens.expires_in,
    scope: tokens.scope,
    access_token: tokens.access_token,
    claims: jwtParts(tokens.access_token).payload,
  };
}

run(main);
