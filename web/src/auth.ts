/**
 * The browser side of API tokens (docs/security.md). A kiosk with KIOSK_AUTH=tokens answers 401 without
 * one: the UI then asks for a token once, keeps it in localStorage, and sends it with every request —
 * `Authorization: Bearer` on fetch and XMLHttpRequest, `?token=` on the URLs a browser opens without
 * headers (EventSource streams, download links). A kiosk without authentication never answers 401, so
 * nothing is asked and nothing is sent.
 */

const KEY = 'cellkiosk.token';

/** The stored token, if any. */
export function storedToken(): string | undefined {
  try {
    return localStorage.getItem(KEY) || undefined;
  } catch {
    return undefined; // storage disabled: work without a token
  }
}

/** Stores a token (or forgets it with ''). */
export function storeToken(token: string): void {
  try {
    if (token) localStorage.setItem(KEY, token);
    else localStorage.removeItem(KEY);
  } catch {
    // storage disabled: the token lasts until the page reloads
  }
}

/** Headers that carry the stored token (none without one). */
export function authHeaders(): Record<string, string> {
  const t = storedToken();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** Adds the token to an XMLHttpRequest (after open()). */
export function authorizeXhr(xhr: XMLHttpRequest): void {
  const t = storedToken();
  if (t) xhr.setRequestHeader('authorization', `Bearer ${t}`);
}

/**
 * A same-origin path the browser opens without headers (EventSource, `<a href>`), with `?token=` when a
 * token is stored. Links the API signed already (`signature=`) are left as they are.
 */
export function withToken(url: string): string {
  const t = storedToken();
  // Only this kiosk's own paths: a token never goes to another origin (a cloud bucket's signed URL).
  if (!t || !url.startsWith('/') || url.startsWith('//') || /[?&]signature=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(t)}`;
}

let asked = false;

/**
 * Shows the token form at the top of the page (once per page load), with the kiosk's reason. Saving the
 * token reloads the page, so every request and stream starts again with it.
 */
export function askForToken(reason: string): void {
  if (asked || typeof document === 'undefined') return;
  asked = true;
  const form = document.createElement('form');
  form.id = 'token-form';
  form.className = 'token-form';
  form.setAttribute('role', 'alertdialog');
  form.setAttribute('aria-labelledby', 'token-form-title');
  const had = storedToken();
  const title = document.createElement('p');
  title.id = 'token-form-title';
  title.textContent = had
    ? `The kiosk refused the stored API token: ${reason}`
    : 'This kiosk needs an API token (ask your lab admin for one: npx kiosk token create --lab LAB).';
  const label = document.createElement('label');
  label.textContent = 'API token ';
  const input = document.createElement('input');
  input.type = 'password';
  input.name = 'token';
  input.id = 'token-input';
  input.autocomplete = 'off';
  input.placeholder = 'ck_…';
  input.required = true;
  label.append(input);
  const save = document.createElement('button');
  save.type = 'submit';
  save.textContent = 'Use token';
  form.append(title, label, save);
  if (had) {
    const forget = document.createElement('button');
    forget.type = 'button';
    forget.textContent = 'Forget token';
    forget.addEventListener('click', () => {
      storeToken('');
      location.reload();
    });
    form.append(forget);
  }
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    storeToken(input.value.trim());
    location.reload();
  });
  document.body.prepend(form);
  input.focus();
}
