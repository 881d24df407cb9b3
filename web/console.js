// @ts-check
/**
 * The moderator's console (for roles with `manage_breakouts`): create, rename, size and remove
 * breakout rooms, assign people (select or drag and drop), auto-assign, open with a timer,
 * extend, close one or all with a countdown, broadcast, the help queue, listen-in, lock and end.
 * Every control has a label, and the parts that follow the session keep keyboard focus when
 * they are re-rendered (controls carry stable ids).
 * @module console
 */
import { h, fill, clock } from './ui.js';

/** @typedef {import('./caucus.js').CaucusClient} CaucusClient */
/** @typedef {import('./caucus.js').PeerInfo} PeerInfo */
/** @typedef {import('./caucus.js').RoleInfo} RoleInfo */

/**
 * The roles "Sees the main stage" shows a breakout room: those that may share a screen (the
 * presenters; `host` and `co-host` in the built-in template), else every role that publishes.
 * @param {readonly RoleInfo[]} roles
 * @returns {string[]}
 */
export function mainStageRoles(roles) {
  const presenters = roles.filter((r) => r.publish.includes('screen'));
  return (presenters.length ? presenters : roles.filter((r) => r.publish.length > 0)).map((r) => r.name);
}

/**
 * The roles in the order people read them: the roles people join with first (highest priority
 * first), then those only acted as in breakout rooms (`breakout` in the built-in template).
 * @param {readonly RoleInfo[]} roles
 * @returns {RoleInfo[]}
 */
export function peopleRoles(roles) {
  const actedOnly = (/** @type {RoleInfo} */ r) => roles.some((o) => o.breakout_role === r.name);
  return [...roles.filter((r) => !actedOnly(r)), ...roles.filter(actedOnly)];
}

/**
 * The bulk role change's first choice: a role that acts as another in breakout rooms becomes
 * that role (`guest` → `breakout` in the built-in template); else the lowest becomes the highest.
 * @param {readonly RoleInfo[]} roles
 * @returns {{from: string, to: string}}
 */
export function bulkRoleDefault(roles) {
  const split = roles.find((r) => r.breakout_role && roles.some((t) => t.name === r.breakout_role));
  if (split?.breakout_role) return { from: split.name, to: split.breakout_role };
  return { from: roles[roles.length - 1]?.name ?? '', to: roles[0]?.name ?? '' };
}

/** What the phase of the breakout rooms means, in words. @type {Record<string, string>} */
const PHASE_TEXT = {
  draft: 'Breakout rooms are being prepared: nobody has moved yet.',
  open: 'Breakout rooms are open.',
  closing: 'Breakout rooms are closing.',
  closed: 'Breakout rooms are closed.',
};

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
  const excludeBox = h('fieldset', { class: 'inline', id: 'bo-exclude' }, h('legend', null, 'Auto-assign leaves these roles in main'),
    // Checked as the server's own default: roles that manage breakouts stay in main.
    peopleRoles(client.roles).map((r) => h('label', { class: 'toggle' }, h('input', { type: 'checkbox', name: 'exclude', value: r.name, checked: r.permissions.manage_breakouts }), ` ${r.name}`)));
  const preUser = /** @type {HTMLInputElement} */ (h('input', { id: 'pre-user', autocomplete: 'off', placeholder: 'user id', maxlength: 128 }));
  const preRoom = /** @type {HTMLSelectElement} */ (h('select', { id: 'pre-room' }));
  const preList = h('ul', { class: 'help-list', id: 'pre-list', 'aria-label': 'Pre-assignments' });

  const optSelf = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'opt-self' }));
  const optReturn = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'opt-return' }));
  const optAuto = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'opt-auto' }));

  const phaseEl = h('p', { class: 'phase', id: 'console-phase', role: 'status' });
  const roomsEl = h('div', { class: 'console-rooms', id: 'console-rooms' });
  const helpEl = h('div', { id: 'console-help' });
  const roomStateEl = h('div', { class: 'row', id: 'console-meeting' });
  const bulk = bulkRoleDefault(client.roles);
  const bulkFrom = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'Change everyone with role' }, peopleRoles(client.roles).map((r) => h('option', { value: r.name, selected: r.name === bulk.from }, r.name))));
  const bulkTo = /** @type {HTMLSelectElement} */ (h('select', { 'aria-label': 'to the role' }, peopleRoles(client.roles).map((r) => h('option', { value: r.name, selected: r.name === bulk.to }, r.name))));

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
      h('p', { class: 'muted-text' }, 'Or pick a room for each person above (or drag a name onto a room).')),
    h('section', { class: 'console-block', 'aria-labelledby': 'c-pre' },
      h('h3', { id: 'c-pre' }, 'Pre-assign by user id'),
      h('p', { class: 'muted-text' }, 'People who have not joined yet go straight to their room when they arrive (or when the rooms open).'),
      h('form', {
        class: 'row',
        onsubmit: (/** @type {Event} */ e) => {
          e.preventDefault();
          const user = preUser.value.trim();
          if (!user || !preRoom.value) return;
          const next = { ...(client.breakouts?.preassignments ?? {}), [user]: preRoom.value };
          act(() => client.preassign(next).then(() => true), `${user} is pre-assigned to ${roomName(preRoom.value)}.`).then((ok) => { if (ok) preUser.value = ''; });
        },
      },
      h('label', { for: 'pre-user' }, 'User id'), preUser,
      h('label', { for: 'pre-room' }, 'Room'), preRoom,
      h('button', { type: 'submit', id: 'pre-add' }, 'Pre-assign')),
      preList),
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
    // Re-rendering replaces elements: keep the keyboard focus on the control with the same
    // id, and what someone is typing there (an input whose value differs from the one rendered).
    const active = document.activeElement;
    const focused = active && panel.contains(active) ? active.id : '';
    const typing = active instanceof HTMLInputElement && active.dataset.value != null && active.value !== active.dataset.value
      ? { value: active.value, start: active.selectionStart, end: active.selectionEnd } : null;
    render(b);
    const now = focused ? document.getElementById(focused) : null;
    if (!now) return;
    if (now !== document.activeElement) now.focus();
    if (typing && now instanceof HTMLInputElement && now !== active) {
      now.value = typing.value;
      if (typing.start != null && now.type !== 'number') now.setSelectionRange(typing.start, typing.end);
    }
  };

  /** @param {import('./caucus.js').BreakoutSet} b */
  const render = (b) => {
    const left = client.timeLeftMs();
    fill(phaseEl, PHASE_TEXT[b.phase] ?? '', client.listeningTo ? ` · You are listening in to ${roomName(client.listeningTo)}.` : '');
    const timer = panel.querySelector('#console-timer');
    if (timer) timer.textContent = left != null ? `${clock(left)} left` : 'no timer';
    if (document.activeElement !== optSelf) optSelf.checked = b.options.allow_self_select;
    if (document.activeElement !== optReturn) optReturn.checked = b.options.allow_return_to_main;
    if (document.activeElement !== optAuto) optAuto.checked = b.options.auto_move_on_open;

    renderRooms();
    renderHelp();
    renderPreassignments();
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
        id: `assign-${p.id}`, 'aria-label': `Room for ${p.name}`, 'data-peer': p.id, class: 'assign-select',
        onchange: () => place(p, sel.value),
      }, h('option', { value: 'main' }, 'Main room'), b.rooms.map((r) => h('option', { value: r.id }, r.name))));
      const assigned = b.rooms.find((r) => r.assigned.includes(p.id))?.id;
      sel.value = p.location !== 'main' ? p.location : assigned ?? 'main';
      return h('li', { class: 'chip', draggable: 'true', 'data-peer': p.id, ondragstart: (/** @type {DragEvent} */ e) => e.dataTransfer?.setData('text/plain', p.id) },
        h('span', { class: 'name' }, p.name, p.id === client.peerId ? ' (you)' : ''), h('span', { class: `badge role-${p.acting_role}` }, p.role), sel);
    };
    const where = (/** @type {PeerInfo} */ p) => (p.location !== 'main' ? p.location : b.phase === 'draft' ? b.rooms.find((r) => r.assigned.includes(p.id))?.id ?? 'main' : 'main');
    const pre = b.preassignments ?? {};
    const present = new Set(everyone.map((p) => p.user_id));
    fill(roomsEl,
      h('div', { class: 'room-card main-card', ...dropZone('main') }, h('h4', null, 'Main room'),
        h('ul', { class: 'chips' }, everyone.filter((p) => where(p) === 'main').map(chip))),
      b.rooms.map((r) => {
        const name = /** @type {HTMLInputElement} */ (h('input', { id: `room-name-${r.id}`, value: r.name, 'data-value': r.name, 'aria-label': `Name of ${r.name}`, class: 'room-name-input', maxlength: 64 }));
        name.addEventListener('change', () => act(() => client.updateBreakout(r.id, { name: name.value.trim() }), 'Room renamed.'));
        const cap = /** @type {HTMLInputElement} */ (h('input', { id: `room-cap-${r.id}`, type: 'number', min: 1, value: r.capacity ?? '', 'data-value': r.capacity ?? '', 'aria-label': `Capacity of ${r.name}`, class: 'num', placeholder: '∞' }));
        cap.addEventListener('change', () => act(() => client.updateBreakout(r.id, { capacity: cap.value ? Number(cap.value) : null }), cap.value ? `${r.name} holds at most ${cap.value}.` : `${r.name} has no limit.`));
        const pw = /** @type {HTMLInputElement} */ (h('input', {
          id: `room-password-${r.id}`, type: 'password', autocomplete: 'new-password', class: 'pw', 'data-value': '',
          'aria-label': `Password of ${r.name}`, placeholder: r.has_password ? 'set (type to change)' : 'none',
        }));
        pw.addEventListener('change', () => {
          const password = pw.value;
          pw.value = '';
          if (password) act(() => client.updateBreakout(r.id, { password }), `${r.name} now needs a password to choose it.`);
        });
        const stage = typeof r.visibility === 'object';
        const listening = client.listeningTo === r.id;
        const waiting = Object.keys(pre).filter((u) => pre[u] === r.id && !present.has(u));
        return h('div', { class: `room-card state-${r.state}`, 'data-room': r.id, role: 'group', 'aria-label': r.name, ...dropZone(r.id) },
          h('div', { class: 'row' }, name, h('label', null, 'Capacity ', cap),
            h('span', { class: 'pill' }, b.phase === 'draft' ? 'not open yet' : r.state),
            h('span', { class: 'muted-text', 'data-count': r.peers.length }, `${r.peers.length}${r.capacity != null ? ` of ${r.capacity}` : ''} inside`),
            r.closes_in_ms != null ? h('span', { class: 'pill warn' }, 'closing') : null),
          h('div', { class: 'row' },
            h('label', null, 'Password ', pw),
            r.has_password ? h('button', {
              id: `room-password-clear-${r.id}`, 'aria-label': `Remove the password of ${r.name}`,
              onclick: () => act(() => client.updateBreakout(r.id, { password: null }), `${r.name} is open to everyone.`),
            }, 'No password') : null),
          h('div', { class: 'row' },
            h('label', { class: 'toggle' }, h('input', {
              id: `room-stage-${r.id}`, type: 'checkbox', checked: stage,
              onchange: (/** @type {Event} */ e) => act(() => client.updateBreakout(r.id, {
                visibility: /** @type {HTMLInputElement} */ (e.target).checked ? { main_stage: { roles: mainStageRoles(client.roles) } } : 'isolated',
              })),
            }), ' Sees the main stage'),
            b.phase === 'open' || b.phase === 'closing' ? h('button', {
              id: `room-listen-${r.id}`, 'aria-pressed': String(listening), 'aria-label': `${listening ? 'Stop listening to' : 'Listen in to'} ${r.name}`,
              onclick: () => act(() => client.listenIn(listening ? null : r.id)),
            }, listening ? 'Stop listening' : 'Listen in') : null,
            b.phase === 'open' && r.state === 'open' ? h('button', {
              id: `room-close-${r.id}`, 'aria-label': `Close ${r.name}`,
              onclick: () => act(() => client.closeBreakouts({ breakout_id: r.id, countdown_s: Number(countdown.value) || 0 }), `Closing ${r.name}.`),
            }, 'Close') : null,
            h('button', { id: `room-remove-${r.id}`, class: 'danger', 'aria-label': `Remove ${r.name}`, onclick: () => act(() => client.removeBreakout(r.id)) }, 'Remove')),
          h('ul', { class: 'chips' }, everyone.filter((p) => where(p) === r.id).map(chip),
            waiting.map((u) => h('li', { class: 'chip waiting', 'data-user': u }, h('span', { class: 'name' }, u), h('span', { class: 'muted-text' }, 'pre-assigned, not here yet')))));
      }));
  };

  const renderPreassignments = () => {
    const b = client.breakouts;
    if (!b) return;
    const pre = b.preassignments ?? {};
    if (document.activeElement !== preRoom) {
      const prev = preRoom.value;
      fill(preRoom, b.rooms.map((r) => h('option', { value: r.id, selected: r.id === prev }, r.name)));
    }
    const users = Object.keys(pre).sort();
    fill(preList, users.length ? users.map((u) => h('li', { 'data-user': u },
      h('span', { class: 'name' }, u), h('span', null, `→ ${roomName(pre[u])}`),
      h('button', {
        id: `pre-remove-${u}`, 'aria-label': `Remove the pre-assignment of ${u}`,
        onclick: () => {
          const next = { ...pre };
          delete next[u];
          act(() => client.preassign(next));
        },
      }, 'Remove'))) : h('li', { class: 'muted-text' }, 'No pre-assignments.'));
  };

  const renderHelp = () => {
    const help = client.breakouts?.help ?? [];
    fill(helpEl, help.length ? h('ul', { class: 'help-list' }, help.map((x) => {
      const who = client.peerOrSelf(x.peer_id)?.name ?? x.peer_id;
      const claimer = x.claimed_by ? client.peerOrSelf(x.claimed_by)?.name ?? x.claimed_by : null;
      return h('li', null, h('span', null, `${who}${x.breakout_id ? ` in ${roomName(x.breakout_id)}` : ''}`),
        claimer ? h('span', { class: 'pill' }, `claimed by ${claimer}`) : h('button', {
          id: `help-claim-${x.id}`, 'aria-label': `Claim: help ${who}${x.breakout_id ? ` in ${roomName(x.breakout_id)}` : ''}`,
          onclick: () => act(() => claim(x), x.breakout_id ? `You joined ${roomName(x.breakout_id)} to help ${who}.` : `You help ${who}.`),
        }, x.breakout_id ? 'Claim and go there' : 'Claim'),
        claimer && x.breakout_id && client.self?.location !== x.breakout_id ? h('button', {
          id: `help-go-${x.id}`, 'aria-label': `Go to ${roomName(x.breakout_id)}`,
          onclick: () => act(() => client.movePeer(/** @type {string} */ (client.peerId), /** @type {string} */ (x.breakout_id), true)),
        }, 'Go there') : null,
        h('button', { id: `help-dismiss-${x.id}`, 'aria-label': `Dismiss: help ${who}`, onclick: () => act(() => client.dismissHelp(x.id)) }, 'Dismiss'));
    })) : h('p', { class: 'muted-text' }, 'Nobody is asking for help.'));
  };

  /**
   * Joins the asker's room, then claims the help request (a manager stands where it helps):
   * a move that is refused leaves the request unclaimed for someone else.
   * @param {import('./caucus.js').HelpRequest} x
   */
  const claim = async (x) => {
    if (x.breakout_id && client.self?.location !== x.breakout_id) {
      if (client.listeningTo) await client.listenIn(null);
      await client.movePeer(/** @type {string} */ (client.peerId), x.breakout_id, true);
    }
    await client.claimHelp(x.id);
  };

  client.addEventListener('change', () => { if (!panel.hidden) update(); });
  return update;
}
