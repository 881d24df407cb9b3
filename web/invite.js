// @ts-check
/**
 * The invite page (`/invite/{id}`): a visitor gives a name and joins as someone new. The page
 * redeems one use of the invite (`POST /invite/{id}/join {name}`), which answers a join token
 * for a fresh user id, and goes to the meeting. An invite that no longer admits anyone gets a
 * sentence that says why, and no meeting is opened.
 * @module invite
 */
import { h, fill } from './ui.js';

/** What a visitor reads for each refusal of an invite (by its stable code). */
export const REFUSALS = {
  unknown_invite: 'This invite link is not valid. Check that you copied all of it, or ask for a new one.',
  invite_expired: 'This invite link has expired. Ask whoever sent it for a new one.',
  invite_revoked: 'This invite link was withdrawn by the organiser. Ask for a new one.',
  invite_used_up: 'This invite link has already been used as many times as it allows. Ask for a new one.',
};

/** Codes after which the form goes away: the same link will never work. */
const FINAL = ['unknown_invite', 'invite_expired', 'invite_revoked', 'invite_used_up'];

async function main() {
  const app = /** @type {HTMLElement} */ (document.getElementById('app'));
  const id = decodeURIComponent(location.pathname.split('/')[2] ?? '');
  const error = h('p', { class: 'form-error', role: 'alert', id: 'invite-error' });
  const name = /** @type {HTMLInputElement} */ (h('input', { id: 'name', name: 'name', autocomplete: 'name', placeholder: 'Your name', maxlength: 64, required: true }));
  const join = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'primary', id: 'join-invite' }, 'Join'));
  const card = h('section', { class: 'card', 'aria-labelledby': 'invite-title' });
  const form = h('form', {
    'aria-labelledby': 'invite-title',
    onsubmit: async (/** @type {SubmitEvent} */ e) => {
      e.preventDefault();
      fill(error);
      join.disabled = true;
      try {
        const res = await fetch(`/invite/${encodeURIComponent(id)}/join`, {
          method: 'POST', headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ name: name.value }),
        });
        const body = await res.json();
        if (res.ok) {
          location.href = body.url;
          return;
        }
        const code = body?.error?.code;
        const sentence = /** @type {Record<string, string>} */ (REFUSALS)[code];
        if (FINAL.includes(code)) {
          // Nothing more to try here: say why, without a form.
          fill(card, h('h2', { id: 'invite-title' }, 'You cannot join with this link'),
            h('p', { class: 'invite-refusal', id: 'invite-refusal', 'data-code': code, role: 'alert' }, sentence));
          return;
        }
        fill(error, body?.error?.message ? `Could not join: ${body.error.message}` : 'Could not join.');
      } catch (err) {
        fill(error, `Could not join: ${err instanceof Error ? err.message : err}`);
      }
      join.disabled = false;
    },
  },
  h('label', { for: 'name' }, 'Your name'), name,
  join, error);
  fill(card, h('h2', { id: 'invite-title' }, 'You are invited to a meeting'),
    h('p', null, 'Enter the name the others will see, then join.'), form);
  fill(app,
    h('header', { class: 'hero' }, h('h1', null, 'Caucus')),
    h('div', { class: 'cards' }, card));
  name.focus();
}

main();
