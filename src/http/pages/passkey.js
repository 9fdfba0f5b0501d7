// ScaiKey passkeys for the login and account pages. A button marked
// data-passkey="get" (sign in) or "create" (register) asks its
// data-options URL for WebAuthn options (posting the form's request and
// csrf_token), lets the browser sign them, and submits the form with the
// answer in its "passkey" field. The identifier step also offers passkeys
// as autofill (conditional mediation). Without WebAuthn the buttons stay
// hidden and the pages work as before.
(() => {
  'use strict';
  const buttons = document.querySelectorAll('[data-passkey]');
  if (!window.PublicKeyCredential || !PublicKeyCredential.parseRequestOptionsFromJSON) return;

  const fields = (form) =>
    new URLSearchParams([...new FormData(form)].filter(([k]) => k === 'request' || k === 'csrf_token'));

  async function options(button, form) {
    const r = await fetch(button.dataset.options, { method: 'POST', body: fields(form), credentials: 'same-origin' });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.error || `the server answered ${r.status}`);
    return body;
  }

  function submit(form, credential) {
    form.querySelector('input[name=passkey]').value = JSON.stringify(credential.toJSON());
    form.querySelectorAll('[required]').forEach((e) => e.removeAttribute('required'));
    form.submit();
  }

  function report(error) {
    const box = document.querySelector('[data-passkey-error]');
    if (!box || error.name === 'AbortError') return;
    box.textContent = error.name === 'NotAllowedError' ? 'No passkey was used.' : `Passkey: ${error.message}`;
    box.hidden = false;
  }

  // The autofill request waiting in the background, if any: a second
  // request is refused while it is pending, so a click ends it first.
  let autofill = null;
  let pending = null;

  async function signIn(button, form, conditional) {
    const opts = await options(button, form);
    const request = { publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(opts.publicKey) };
    if (conditional) {
      autofill = new AbortController();
      request.mediation = 'conditional';
      request.signal = autofill.signal;
    }
    const asked = navigator.credentials.get(request);
    if (conditional) pending = asked;
    const credential = await asked;
    if (credential) submit(form, credential);
  }

  async function register(button, form) {
    const opts = await options(button, form);
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(opts.publicKey);
    const credential = await navigator.credentials.create({ publicKey });
    if (credential) submit(form, credential);
  }

  for (const button of buttons) {
    const form = document.getElementById(button.dataset.form);
    if (!form) continue;
    button.hidden = false;
    button.addEventListener('click', async (event) => {
      event.preventDefault();
      if (autofill) {
        autofill.abort();
        await pending?.catch(() => {});
        autofill = null;
      }
      try {
        await (button.dataset.passkey === 'create' ? register(button, form) : signIn(button, form, false));
      } catch (e) {
        report(e);
      }
    });
    if (button.dataset.autofill === 'true' && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable()
        .then((available) => available && signIn(button, form, true))
        .catch(report);
    }
  }
})();
