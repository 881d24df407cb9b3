// @ts-check
/**
 * The moderator's console (for roles with `manage_breakouts`): create, rename, size and remove
 * breakout rooms, assign people (select or drag and drop), auto-assign, open with a timer,
 * extend, close one or all with a countdown, broadcast, the help queue, listen-in, lock and end.
 * @module console
 */
import { h, fill, clock } from './ui.js';

/** The roles of the built-in template. */
export const ROLES = ['host', 'co-host', 'moderator', 'guest', 'breakout'];

/** @typedef {import('./caucus.js').CaucusClient} CaucusClient */
/** @typedef {import('./caucus.js').PeerInfo} PeerInfo */

/**
 * @param {HTMLElement} panel
 * @param {CaucusClient} client
 * @param {{act: <T>(fn: () => Promise<T>, ok?: string) => Promise<T|undefined>, roomName: (loc: string) => string}} helpers
 * @returns {() => void} re-renders the dynamic parts
 */
export function mountConsole(panel, client, { act, roomName }) {
  const num = (/** @type {string} */ id, /** @type {string} */ label, /** @type {number} */ value, /** @type {number} */ min, /** @type {number} */ max) =>
    /** @type {HTMLInputElement} */ (h('input', { id, type: 'number', min, max, value, 'aria-label': label, class: 'num' }));

  const count = num('bo-count', 'Number of rooms', 2, 1, 50);
  const capacity = num('bo-capacity', 'Capacity per room (empty: unlimited)', 0, 0, 1000);
  capacity.value = '';
  const duration = num('bo-duration', 'Duration in minutes (empty: no timer)', 0, 0, 600);
  duration.value = '';
  const countdown = num('bo-countdown', 'Closing countdown in seconds', 30, 0, 600);
  const extendBy = num('bo-extend', 'Extend by minutes', 5, 1, 120);
  const broadcastText = /** @type {HTMLInputElement} */ (h('input', { id: 'bo-broadcast-text', 'aria-label': 'Message to all rooms', placeholder: 'Message to every room', maxlength: 500 }));
  const excludeBox = h('fieldset', { class: 'inline' }, h('legend', null, 'Keep in main'),
    ROLES.map((r) => h('label', { class: 'toggle' }, h('input', { type: 'checkbox', name: 'exclude', value: r, checked: r !== 'guest' && r !== 'breakout' }), ` ${r}`)));

  const optSelf = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'opt-self' }));
  const optReturn = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'opt-return' }));
  const optAuto = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'opt-auto' }));

  const phaseEl = h('p', { class: 'phase', id: 'console-phase', role: 'status' });
  const roomsEl = h('div', { class: 'console-rooms', id: 'console-rooms' });
  const helpEl = h('div', { id: 'console-help' });
  const roomStateEl = h('div', { class: 'row' });
  const bulkFrom = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'Change everyone with role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'guest' }, r))));
  const bulkTo = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'to the role' }, ROLES.map((r) => h('option', { value: r, selected: r === 'breakout' }, r))));

  const saveOptions = () => {
    const b = client.breakouts;
    if (!b) return;
    act(() => client.setBreakoutOptions({
      ...b.options,
      allow_self_select: optSelf.checked,
      allow_return_to_main: optReturn.checked,
      auto_move_on_open: optAuto.checked,
      countdown_s: Number(countdown.value) || 0,
    }), 'Options saved.');
  };
  for (const o of [optSelf, optReturn, optAuto]) o.addEventListener('change', saveOptions);

  fill(panel,
    h('h2', null, 'Breakout rooms'), phaseEl,
    h('section', { class: 'console-block', 'aria-labelledby': 'c-create' },
      h('h3', { id: 'c-create' }, 'Rooms'),
      h('div', { class: 'row' },
        h('label', { for: 'bo-count' }, 'Rooms'), count,
        h('label', { for: 'bo-capacity' }, 'Capacity'), capacity,
        h('button', {
          id: 'bo-create',
          onclick: () => act(() => client.createBreakouts({ count: Number(count.value) || 1, ...(capacity.value ? { capacity: Number(capacity.value) } : {}) }), 'Rooms created.'),
        }, 'Create rooms')),
      roomsEl),
    h('section', { class: 'console-block', 'aria-labelledby': 'c-assign' },
      h('h3', { id: 'c-assign' }, 'Assign'),
      excludeBox,
      h('div', { class: 'row' },
        h('button', {
          id: 'bo-auto',
          onclick: () => {
            const exclude = [...excludeBox.querySelectorAll('input:checked')].map((i) => /** @type {HTMLInputElement} */ (i).value);
            act(() => client.autoAssign({ exclude_roles: exclude, seed: Math.floor(Math.random() * 1e9) }), 'Assigned evenly.');
          },
        }, 'Auto-assign evenly'),
        h('button', { id: 'bo-keep', onclick: () => act(() => client.autoAssign({ keep_previous: true }), 'Previous groups restored.') }, 'Keep previous groups')),
      h('p', { class: 'muted-text' }, 'Or pick a room for each person below (or drag a name onto a room).')),
    h('section', { class: 'console-block', 'aria-labelledby': 'c-run' },
      h('h3', { id: 'c-run' }, 'Run'),
      h('div', { class: 'row' },
        h('label', { class: 'toggle' }, optSelf, ' People may choose a room'),
        h('label', { class: 'toggle' }, optReturn, ' May return to main'),
        h('label', { class: 'toggle' }, optAuto, ' Move people when opening')),
      h('div', { class: 'row' },
        h('label', { for: 'bo-duration' }, 'Minutes'), duration,
        h('button', { id: 'bo-open', class: 'primary', onclick: () => act(() => client.openBreakouts(Number(duration.value) * 60 || undefined), 'Rooms are open.') }, 'Open rooms'),
        h('span', { class: 'pill', id: 'console-timer' }, 'no timer')),
      h('div', { class: 'row' },
        h('label', { for: 'bo-extend' }, 'Extend by (min)'), extendBy,
        h('button', { id: 'bo-extend-button', onclick: () => act(() => client.extendBreakouts((Number(extendBy.value) || 1) * 60), 'Timer extended.') }, 'Extend')),
      h('div', { class: 'row' },
        h('label', { for: 'bo-countdown' }, 'Countdown (s)'), countdown,
        h('button', { id: 'bo-close-all', class: 'danger', onclick: () => act(() => client.closeBreakouts({ countdown_s: Number(countdown.value) || 0 }), 'Closing every room.') }, 'Close all rooms')),
      h('form', {
        class: 'row',
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          const text = broadcastText.value.trim();
          if (text) act(() => client.broadcast(text), 'Sent to every room.').then(() => { broadcastText.value = ''; });
        },
      }, broadcastText, h('button', { type: 'submit', id: 'bo-broadcast' }, 'Broadcast'))),
    h('section', { class: 'console-block', 'aria-labelledby': 'c-help' }, h('h3', { id: 'c-help' }, 'Help queue'), helpEl),
    h('section', { class: 'console-block', 'aria-labelledby': 'c-room' },
      h('h3', { id: 'c-room' }, 'Meeting'),
      h('div', { class: 'row' }, 'Everyone with', bulkFrom, 'becomes', bulkTo,
        h('button', { onclick: () => act(() => client.changeRoles([bulkFrom.value], bulkTo.value), 'Roles changed.') }, 'Change roles')),
      roomStateEl));

  /** @param {PeerInfo} p @param {string} to */
  const place = (p, to) => {
    const b = client.breakouts;
    if (!b) return;
    if (b.phase !== 'draft' || p.location !== 'main') {
      return act(() => client.movePeer(p.id, to, true), `${p.name} → ${roomName(to)}`);
    }
    return act(() => client.assign({ [p.id]: to }));
  };

  const update = () => {
    const b = client.breakouts;
    if (!b) return;
    const left = client.timeLeftMs();
    fill(phaseEl, `Phase: ${b.phase}`, ` · version ${b.version}`, client.listeningTo ? ` · listening to ${roomName(client.listeningTo)}` : '');
    const timer = panel.querySelector('#console-timer');
    if (timer) timer.textContent = left != null ? `${clock(left)} left` : 'no timer';
    if (document.activeElement !== optSelf) optSelf.checked = b.options.allow_self_select;
    if (document.activeElement !== optReturn) optReturn.checked = b.options.allow_return_to_main;
    if (document.activeElement !== optAuto) optAuto.checked = b.options.auto_move_on_open;

    // Rooms: skip while someone is typing in them.
    if (!(roomsEl.contains(document.activeElement) && document.activeElement?.tagName === 'INPUT')) renderRooms();
    renderHelp();
    fill(roomStateEl,
      client.permissions?.lock_room ? h('button', { id: 'lock-button', 'aria-pressed': String(client.locked), onclick: () => act(() => client.setLocked(!client.locked)) }, client.locked ? '🔓 Unlock room' : '🔒 Lock room') : null,
      client.permissions?.broadcast ? h('button', {
        id: 'broadcasting-button', 'aria-pressed': String(!!client.self?.broadcasting),
        onclick: () => act(() => client.setBroadcasting(!client.self?.broadcasting)),
      }, client.self?.broadcasting ? 'Stop speaking to all rooms' : 'Speak to all rooms') : null,
      client.permissions?.end_room ? h('button', {
        id: 'end-button', class: 'danger',
        onclick: () => { if (confirm('End the meeting for everyone?')) act(() => client.endSession({ reason: 'the host ended the meeting' })); },
      }, 'End meeting for all') : null);
  };

  const renderRooms = () => {
    const b = client.breakouts;
    if (!b) return;
    const everyone = [/** @type {PeerInfo} */ (client.self), ...client.peers.values()];
    /** @param {string} loc */
    const dropZone = (loc) => ({
      ondragover: (/** @type {DragEvent} */ e) => { e.preventDefault(); },
      ondrop: (/** @type {DragEvent} */ e) => {
        e.preventDefault();
        const id = e.dataTransfer?.getData('text/plain');
        const p = everyone.find((x) => x.id === id);
        if (p) place(p, loc);
      },
    });
    /** @param {PeerInfo} p */
    const chip = (p) => {
      const sel = /** @type {HTMLSelectElement} */ (h('select', {
        'aria-label': `Room for ${p.name}`, 'data-peer': p.id, class: 'assign-select',
        onchange: () => place(p, sel.value),
      }, h('option', { value: 'main' }, 'Main room'), b.rooms.map((r) => h('option', { value: r.id }, r.name))));
      const assigned = b.rooms.find((r) => r.assigned.includes(p.id))?.id;
      sel.value = p.location !== 'main' ? p.location : assigned ?? 'main';
      return h('li', { class: 'chip', draggable: 'true', 'data-peer': p.id, ondragstart: (/** @type {DragEvent} */ e) => e.dataTransfer?.setData('text/plain', p.id) },
        h('span', { class: 'name' }, p.name, p.id === client.peerId ? ' (you)' : ''), h('span', { class: `badge role-${p.acting_role}` }, p.role), sel);
    };
    const where = (/** @type {PeerInfo} */ p) => (p.location !== 'main' ? p.location : b.phase === 'draft' ? b.rooms.find((r) => r.assigned.includes(p.id))?.id ?? 'main' : 'main');
    fill(roomsEl,
      h('div', { class: 'room-card main-card', ...dropZone('main') }, h('h4', null, 'Main room'),
        h('ul', { class: 'chips' }, everyone.filter((p) => where(p) === 'main').map(chip))),
      b.rooms.map((r) => {
        const name = /** @type {HTMLInputElement} */ (h('input', { value: r.name, 'aria-label': `Name of ${r.name}`, class: 'room-name-input' }));
        name.addEventListener('change', () => act(() => client.updateBreakout(r.id, { name: name.value })));
        const cap = /** @type {HTMLInputElement} */ (h('input', { type: 'number', min: 1, value: r.capacity ?? '', 'aria-label': `Capacity of ${r.name}`, class: 'num', placeholder: '∞' }));
        cap.addEventListener('change', () => act(() => client.updateBreakout(r.id, { capacity: cap.value ? Number(cap.value) : null })));
        const stage = typeof r.visibility === 'object';
        const listening = client.listeningTo === r.id;
        return h('div', { class: `room-card state-${r.state}`, 'data-room': r.id, ...dropZone(r.id) },
          h('div', { class: 'row' }, name, h('label', null, 'Cap ', cap), h('span', { class: 'pill' }, b.phase === 'draft' ? 'not open yet' : r.state),
            r.closes_in_ms != null ? h('span', { class: 'pill warn' }, 'closing') : null),
          h('div', { class: 'row' },
            h('label', { class: 'toggle' }, h('input', {
              type: 'checkbox', checked: stage,
              onchange: (/** @type {Event} */ e) => act(() => client.updateBreakout(r.id, {
                visibility: /** @type {HTMLInputElement} */ (e.target).checked ? { main_stage: { roles: ['host', 'co-host'] } } : 'isolated',
              })),
            }), ' Sees the main stage'),
            b.phase === 'open' ? h('button', { 'aria-pressed': String(listening), onclick: () => act(() => client.listenIn(listening ? null : r.id)) }, listening ? 'Stop listening' : 'Listen in') : null,
            b.phase === 'open' && r.state === 'open' ? h('button', { onclick: () => act(() => client.closeBreakouts({ breakout_id: r.id, countdown_s: Number(countdown.value) || 0 }), `Closing ${r.name}.`) }, 'Close') : null,
            h('button', { class: 'danger', 'aria-label': `Remove ${r.name}`, onclick: () => act(() => client.removeBreakout(r.id)) }, 'Remove')),
          h('ul', { class: 'chips' }, everyone.filter((p) => where(p) === r.id).map(chip)));
      }));
  };

  const renderHelp = () => {
    const help = client.breakouts?.help ?? [];
    fill(helpEl, help.length ? h('ul', { class: 'help-list' }, help.map((x) => {
      const who = client.peerOrSelf(x.peer_id)?.name ?? x.peer_id;
      const claimer = x.claimed_by ? client.peerOrSelf(x.claimed_by)?.name ?? x.claimed_by : null;
      return h('li', null, h('span', null, `${who}${x.breakout_id ? ` in ${roomName(x.breakout_id)}` : ''}`),
        claimer ? h('span', { class: 'pill' }, `claimed by ${claimer}`) : h('button', { onclick: () => act(() => client.claimHelp(x.id)) }, 'Claim'),
        x.breakout_id ? h('button', { onclick: () => act(() => client.movePeer(/** @type {string} */ (client.peerId), /** @type {string} */ (x.breakout_id), true)) }, 'Go there') : null,
        h('button', { onclick: () => act(() => client.dismissHelp(x.id)) }, 'Dismiss'));
    })) : h('p', { class: 'muted-text' }, 'Nobody is asking for help.'));
  };

  client.addEventListener('change', () => { if (!panel.hidden) update(); });
  return update;
}
