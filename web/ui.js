// @ts-check
/**
 * Small DOM helpers shared by the app modules: element creation, toasts, time formatting.
 * @module ui
 */

/**
 * Creates an element. `attrs` keys starting with `on` become listeners; `class`, `for`,
 * `aria-*`, `data-*` and other strings become attributes; booleans toggle attributes.
 * @param {string} tag
 * @param {Record<string, any>|null} [attrs]
 * @param {...(Node|string|number|null|undefined|false|(Node|string|null|undefined|false)[])} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in el) /** @type {any} */ (el).value = v;
    else if (k === 'checked' || k === 'selected' || k === 'muted' || k === 'autoplay') /** @type {any} */ (el)[k] = !!v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/**
 * @param {HTMLElement} el
 * @param {any[]} children
 */
function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/**
 * Replaces the children of `el`.
 * @param {HTMLElement} el
 * @param {...any} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * Shows a short message in the toast area.
 * @param {string} text
 * @param {'info'|'error'|'ok'} [kind]
 * @param {number} [ms]
 */
export function toast(text, kind = 'info', ms = 5000) {
  if (kind === 'error') console.warn(`caucus: ${text}`);
  const area = document.getElementById('toasts');
  if (!area) return;
  const t = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text,
    h('button', { class: 'icon', 'aria-label': 'Dismiss', onclick: () => t.remove() }, '×'));
  area.append(t);
  setTimeout(() => t.remove(), ms);
}

/**
 * `m:ss` (or `h:mm:ss`).
 * @param {number} ms
 */
export function clock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/**
 * Initials for an avatar.
 * @param {string} name
 */
export function initials(name) {
  return name.split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join('') || '?';
}
