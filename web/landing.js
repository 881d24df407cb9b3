// @ts-check
/**
 * The landing page (`/`): join the demo room in one click (the server mints the token through
 * `POST /demo/token`), or open a join link.
 * @module landing
 */
import { h, fill } from './ui.js';

/** A line about each role of the built-in templates; other roles show their name alone. */
const ROLE_HELP = {
  host: 'Runs the meeting: everything, including ending it.',
  'co-host': 'Like the host, on the main stage.',
  moderator: 'Manages breakout rooms and participants.',
  guest: 'Watches the main stage; talks in breakout rooms.',
  breakout: 'May talk everywhere, with a small picture.',
  teacher: 'Runs the class: everything, including ending it.',
  ta: 'Seen by everyone; runs breakout rooms and answers help.',
  student: 'Sees and hears the class; joins with microphone and camera off.',
  panelist: 'On stage beside the host, seen by everyone.',
  attendee: 'Watches the stage; talks in breakout rooms.',
  discussion: 'Talks in a breakout room, with a small picture.',
  member: 'Everyone equal: talks, shows and shares.',
};

async function main() {
  const app = /** @type {HTMLElement} */ (document.getElementById('app'));
  /** @type {{enabled: boolean, room: string|null, roles: string[]}} */
  let demo = { enabled: false, room: null, roles: [] };
  try {
    const res = await fetch('/demo');
    if (res.ok) demo = await res.json();
  } catch {
    // the server is unreachable: the link form still works
  }
  const error = h('p', { class: 'form-error', role: 'alert', id: 'join-error' });
  const name = /** @type {HTMLInputElement} */ (h('input', { id: 'name', name: 'name', autocomplete: 'name', placeholder: 'Your name', maxlength: 64, required: true }));
  // The server's list of the demo room's roles (the form only shows when the demo is enabled).
  const roles = demo.roles;
  const roleInputs = roles.map((role, i) => h('label', { class: 'role-choice' },
    h('input', { type: 'radio', name: 'role', value: role, checked: role === 'guest' || (i === 0 && !roles.includes('guest')) }),
    h('span', { class: 'role-name' }, role),
    h('span', { class: 'role-help' }, /** @type {any} */ (ROLE_HELP)[role] ?? '')));

  const form = h('form', {
    class: 'card', 'aria-labelledby': 'demo-title',
    onsubmit: async (/** @type {SubmitEvent} */ e) => {
      e.preventDefault();
      const data = new FormData(/** @type {HTMLFormElement} */ (e.currentTarget));
      fill(error);
      try {
        const res = await fetch('/demo/token', {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ role: data.get('role'), name: data.get('name') }),
        });
        const body = await res.json();
        if (!res.ok) throw new Error(body.message || 'the server refused');
        location.href = body.url;
      } catch (err) {
        fill(error, `Could not join: ${err instanceof Error ? err.message : err}`);
      }
    },
  },
  h('h2', { id: 'demo-title' }, `Join the demo room${demo.room ? ` “${demo.room}”` : ''}`),
  h('label', { for: 'name' }, 'Your name'), name,
  h('fieldset', { class: 'roles' }, h('legend', null, 'Join as'), roleInputs),
  h('button', { type: 'submit', class: 'primary', id: 'join-demo' }, 'Join'),
  error);

  const link = /** @type {HTMLInputElement} */ (h('input', { id: 'link', type: 'url', placeholder: 'http://…/rooms/…?token=…' }));
  const linkForm = h('form', {
    class: 'card', 'aria-labelledby': 'link-title',
    onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      try {
        const u = new URL(link.value, location.href);
        if (!u.pathname.startsWith('/rooms/') || !u.searchParams.get('token')) throw new Error();
        location.href = u.pathname + u.search;
      } catch {
        link.setCustomValidity('This is not a Caucus join link.');
        link.reportValidity();
      }
    },
  },
  h('h2', { id: 'link-title' }, 'Have a join link?'),
  h('label', { for: 'link' }, 'Paste it here'), link,
  h('button', { type: 'submit' }, 'Open'));
  link.addEventListener('input', () => link.setCustomValidity(''));

  fill(app,
    h('header', { class: 'hero' }, h('h1', null, 'Caucus'), h('p', null, 'Video meetings with breakout rooms the server owns.')),
    h('div', { class: 'cards' },
      demo.enabled ? form : h('section', { class: 'card' }, h('h2', null, 'Demo setup'), h('p', null, 'The demo room is not enabled on this server. Ask your host for a join link.')),
      linkForm));
  if (demo.enabled) name.focus();
}

main();
