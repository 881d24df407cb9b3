// @ts-check
/**
 * The meeting view (`/rooms/{room}?token=…`; the token then leaves the address bar): device
 * preview, the video grid, screen share, chat, raised hands, the peer list, requests, the
 * breakout banner and room chooser, and — for managers — the console (`console.js`).
 *
 * For tests and debugging the running app is exposed as `window.caucusApp` (`{client}`).
 * @module meeting
 */
import { CaucusClient, CaucusError, describeError } from './caucus.js';
import { h, fill, toast, clock, initials } from './ui.js';
import { mountConsole, peopleRoles } from './console.js';

/** @typedef {import('./caucus.js').PeerInfo} PeerInfo */
/** @typedef {import('./caucus.js').SlotInfo} SlotInfo */
/** @typedef {import('./caucus.js').Source} Source */

const app = /** @type {HTMLElement} */ (document.getElementById('app'));
const roomId = decodeURIComponent(location.pathname.split('/')[2] ?? '');
const token = takeToken();

/**
 * The join token, read from `?token=` and then taken out of the address bar, so that it stays
 * out of the history, bookmarks, a shared screen and a copied address. This tab keeps it in
 * its session storage, so a reload (the Rejoin button) still joins.
 * @returns {string}
 */
function takeToken() {
  const key = `caucus.token:${roomId}`;
  const url = new URL(location.href);
  const fromLink = url.searchParams.get('token');
  if (!fromLink) {
    try {
      return sessionStorage.getItem(key) ?? '';
    } catch {
      return '';
    }
  }
  try {
    sessionStorage.setItem(key, fromLink);
  } catch {
    // No storage (a privacy setting): a reload then needs the link again.
  }
  url.searchParams.delete('token');
  history.replaceState(history.state, '', `${url.pathname}${url.search}${url.hash}`);
  return fromLink;
}

/** Claims of the join token, for the preview screen only (the server verifies it). */
function claims() {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(decodeURIComponent(escape(atob(part))));
  } catch {
    return null;
  }
}

/**
 * Runs a UI action; a refusal becomes a toast with a clear sentence.
 * @template T
 * @param {() => Promise<T>} fn
 * @param {string} [ok] a toast on success
 * @returns {Promise<T|undefined>}
 */
async function act(fn, ok) {
  try {
    const r = await fn();
    if (ok) toast(ok, 'ok', 3000);
    return r;
  } catch (e) {
    toast(refusalText(e), 'error', 7000);
    return undefined;
  }
}

/**
 * A refusal for people: the sentence for its code, and the server's own sentence when it
 * says more (e.g. which permission the role lacks).
 * @param {any} e
 */
function refusalText(e) {
  const text = describeError(e);
  const detail = e instanceof CaucusError ? e.message : '';
  // What was not found, or a raw value in quotes, stays out; ids become names.
  const plain = detail && !String(e.code).startsWith('unknown_') && !/["'`]/.test(detail);
  return plain && detail !== text && detail !== e.code ? `${text} (${namesForIds(detail)})` : text;
}

/**
 * A server sentence with its room and peer ids (`breakout b15`, `p5`) replaced by names.
 * @param {string} sentence
 */
function namesForIds(sentence) {
  return sentence
    .replace(/\b(?:breakout )?(b\d+)\b/g, (_, id) => roomName(id))
    .replace(/\b(?:peer )?(p\d+)\b/g, (_, id) => client.peerOrSelf(id)?.name ?? 'someone who left');
}

// ── the preview ────────────────────────────────────────────────────────────────────────────

/** Local devices and the user's wishes. */
const local = {
  /** @type {MediaStream|null} */
  stream: null,
  micOn: true,
  camOn: true,
  /** @type {MediaStream|null} */
  screen: null,
};

async function preview() {
  document.title = `Caucus — ${roomId}`;
  if (!token) {
    fill(app, h('section', { class: 'card center' }, h('h1', null, 'No join token'),
      h('p', null, 'This link is missing its token. Ask the host for a join link, or '), h('a', { href: '/' }, 'go to the start page')));
    return;
  }
  const c = claims();
  const video = /** @type {HTMLVideoElement} */ (h('video', { autoplay: true, muted: true, playsinline: true, class: 'preview-video', 'aria-label': 'Your camera preview' }));
  const status = h('p', { class: 'muted-text', role: 'status' }, 'Asking for your camera and microphone…');
  const cam = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'pre-cam', checked: true }));
  const mic = /** @type {HTMLInputElement} */ (h('input', { type: 'checkbox', id: 'pre-mic', checked: true }));
  const joinButton = /** @type {HTMLButtonElement} */ (h('button', { class: 'primary', id: 'join-button', type: 'submit' }, 'Join meeting'));
  const error = h('p', { class: 'form-error', role: 'alert' });
  fill(app, h('form', {
    class: 'card prejoin', 'aria-labelledby': 'prejoin-title',
    onsubmit: (/** @type {Event} */ e) => {
      e.preventDefault();
      joinButton.disabled = true;
      // Join once the devices have answered (or failed), so that what is published is known.
      devices.then(() => {
        local.camOn = cam.checked;
        local.micOn = mic.checked;
        return join(error);
      }).finally(() => { joinButton.disabled = false; });
    },
  },
  h('h1', { id: 'prejoin-title' }, `Join “${roomId}”`),
  c ? h('p', null, 'You join as ', h('strong', null, c.name || c.user_id), ' ', h('span', { class: 'badge' }, c.role)) : null,
  h('div', { class: 'preview' }, video),
  status,
  h('div', { class: 'row' },
    h('label', { class: 'toggle' }, cam, ' Camera'),
    h('label', { class: 'toggle' }, mic, ' Microphone')),
  joinButton, error));
  /** @type {() => void} */
  let ready = () => {};
  const devices = new Promise((resolve) => { ready = () => resolve(undefined); });
  try {
    local.stream = await navigator.mediaDevices.getUserMedia({
      audio: true,
      video: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } },
    });
    video.srcObject = local.stream;
    fill(status, 'Camera and microphone ready.');
  } catch (e) {
    fill(status, `No camera or microphone (${e instanceof Error ? e.message : e}); you can still join to watch and chat.`);
    cam.checked = false;
    mic.checked = false;
  }
  ready();
  const apply = () => {
    local.stream?.getVideoTracks().forEach((t) => { t.enabled = cam.checked; });
    local.stream?.getAudioTracks().forEach((t) => { t.enabled = mic.checked; });
  };
  cam.addEventListener('change', apply);
  mic.addEventListener('change', apply);
  joinButton.focus();
}

// ── the meeting ────────────────────────────────────────────────────────────────────────────

/** @type {CaucusClient} */
let client;
/** Sources the role refused to publish here (cleared on a role change). @type {Set<Source>} */
const refused = new Set();
/** Publishes in flight. @type {Set<Source>} */
const publishing = new Set();
/** @type {{from: string, name: string, scope: string, text: string, at: Date, kind: 'chat'|'broadcast'|'system'}[]} */
const messages = [];
/** @type {Set<string>} peers speaking now */
let speaking = new Set();
let unreadChat = 0;
/** Who had a hand up at the last update: a hand newly raised is announced once. */
const handsUp = new Set();

/** @type {Record<string, HTMLElement>} */
const el = {};
/** Tiles by key (`self`, peer id, `peerId:screen`). @type {Map<string, {root: HTMLElement, video: HTMLVideoElement, label: HTMLElement}>} */
const tiles = new Map();
/** Audio elements by mid. @type {Map<string, HTMLAudioElement>} */
const audios = new Map();
/** @type {(() => void)|null} */
let updateConsole = null;
let activeTab = 'people';

/** @param {HTMLElement} error */
async function join(error) {
  fill(error);
  client = new CaucusClient({ token, room: roomId });
  /** @type {any} */ (window).caucusApp = { client };
  try {
    await client.connect();
  } catch (e) {
    fill(error, describeError(e));
    client.close();
    return;
  }
  // A role that joins muted (a class's students) starts with microphone and camera off.
  if (!client.resumed && client.roles.find((r) => r.name === client.self?.role)?.join_muted) {
    setWish('audio', false);
    setWish('video', false);
  }
  buildLayout();
  wire();
  render();
  syncPublishing();
  setInterval(tick, 500);
}

function buildLayout() {
  el.title = h('h1', { class: 'room-title' }, roomId);
  el.where = h('span', { class: 'where', id: 'where' });
  el.status = h('span', { class: 'status', role: 'status', id: 'conn-status' });
  el.banner = h('section', { class: 'banner', id: 'banner', hidden: true, 'aria-live': 'polite', 'aria-label': 'Breakout room' });
  el.grid = h('div', { class: 'grid', id: 'grid', 'aria-label': 'Participants in this room', role: 'list' });
  el.stage = h('aside', { class: 'mainstage', id: 'mainstage', hidden: true, 'aria-labelledby': 'mainstage-title' },
    h('h2', { id: 'mainstage-title' }, 'Main stage'), el.stageGrid = h('div', { class: 'grid small', role: 'list' }));
  el.note = h('p', { class: 'note', id: 'publish-note', role: 'status' });
  el.tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Panels' });
  el.panels = h('div', { class: 'panels' });
  el.people = h('section', { id: 'panel-people', role: 'tabpanel', 'aria-labelledby': 'tab-people', class: 'panel' });
  el.chat = h('section', { id: 'panel-chat', role: 'tabpanel', 'aria-labelledby': 'tab-chat', class: 'panel', hidden: true });
  el.rooms = h('section', { id: 'panel-rooms', role: 'tabpanel', 'aria-labelledby': 'tab-rooms', class: 'panel', hidden: true });
  el.console = h('section', { id: 'panel-console', role: 'tabpanel', 'aria-labelledby': 'tab-console', class: 'panel', hidden: true });
  el.panels.append(el.people, el.chat, el.rooms, el.console);
  el.controls = h('footer', { class: 'controls', 'aria-label': 'Meeting controls' });
  el.audio = h('div', { hidden: true });
  el.dialog = h('dialog', { id: 'request-dialog', 'aria-labelledby': 'request-title' });
  el.passwordDialog = h('dialog', { id: 'password-dialog', 'aria-labelledby': 'password-title' });
  el.overlay = h('div', { class: 'overlay', hidden: true, role: 'alert' });
  el.reconnect = h('div', { class: 'reconnect-banner', id: 'reconnect-banner', role: 'status', hidden: true },
    'Connection lost — reconnecting…');
  fill(app,
    h('header', { class: 'topbar' }, el.title, el.where, h('span', { class: 'spacer' }), el.status),
    el.reconnect,
    el.banner,
    h('div', { class: 'body' },
      h('section', { class: 'stage', 'aria-label': 'Videos' }, el.grid, el.stage, el.note),
      h('aside', { class: 'side', 'aria-label': 'Side panel' }, el.tabs, el.panels)),
    el.controls, el.audio, el.dialog, el.passwordDialog, el.overlay);
  buildChat();
}

/** @param {string} name */
function selectTab(name) {
  activeTab = name;
  if (name === 'chat') unreadChat = 0;
  renderTabs();
  el.people.hidden = name !== 'people';
  el.chat.hidden = name !== 'chat';
  el.rooms.hidden = name !== 'rooms';
  el.console.hidden = name !== 'console';
  app.querySelector('.body')?.classList.toggle('wide-side', name === 'console');
  if (name === 'console' && updateConsole) updateConsole();
}

function renderTabs() {
  const hands = mayLowerHands() ? [...client.peers.values()].filter((p) => p.hand_raised).length : 0;
  const tabs = [['people', `People (${client.peers.size + 1})${hands ? ` · ✋ ${hands}` : ''}`], ['chat', unreadChat ? `Chat (${unreadChat})` : 'Chat']];
  if (showRoomsTab()) tabs.push(['rooms', 'Rooms']);
  if (client.permissions?.manage_breakouts) tabs.push(['console', 'Breakouts']);
  if (!tabs.some(([n]) => n === activeTab)) activeTab = 'people';
  fill(el.tabs, tabs.map(([name, label]) => h('button', {
    role: 'tab', id: `tab-${name}`, 'aria-controls': `panel-${name}`, 'aria-selected': String(name === activeTab),
    tabindex: name === activeTab ? 0 : -1, class: name === activeTab ? 'tab active' : 'tab',
    onclick: () => selectTab(name),
    onkeydown: (/** @type {KeyboardEvent} */ e) => {
      const i = tabs.findIndex(([n]) => n === name);
      const next = e.key === 'ArrowRight' ? tabs[(i + 1) % tabs.length] : e.key === 'ArrowLeft' ? tabs[(i + tabs.length - 1) % tabs.length] : null;
      if (next) { selectTab(next[0]); document.getElementById(`tab-${next[0]}`)?.focus(); }
    },
  }, label)));
}

/** Whoever may lower other people's hands is told when a hand goes up. */
function mayLowerHands() {
  return !!client.permissions?.mute_others;
}

/**
 * A hand newly raised: a toast and a short chime for those who may lower hands (the People
 * tab counts the raised hands too).
 * @param {PeerInfo} peer
 */
function handNews(peer) {
  if (peer.id === client.peerId) return;
  const was = handsUp.has(peer.id);
  if (peer.hand_raised) handsUp.add(peer.id); else handsUp.delete(peer.id);
  if (!peer.hand_raised || was || !mayLowerHands()) return;
  const where = peer.location !== (client.self?.location ?? 'main') ? ` in ${roomName(peer.location)}` : '';
  toast(`✋ ${peer.name} raised a hand${where}.`, 'info', 8000);
  chime();
}

/** A short, quiet two-note chime (Web Audio; nothing to download). */
function chime() {
  try {
    const audio = new AudioContext();
    const gain = audio.createGain();
    gain.gain.value = 0.05;
    gain.connect(audio.destination);
    [660, 880].forEach((f, i) => {
      const osc = audio.createOscillator();
      osc.frequency.value = f;
      osc.connect(gain);
      osc.start(audio.currentTime + i * 0.12);
      osc.stop(audio.currentTime + i * 0.12 + 0.1);
    });
    setTimeout(() => audio.close().catch(() => {}), 600);
  } catch {
    // No audio output: the toast and the count say it.
  }
}

function showRoomsTab() {
  const b = client.breakouts;
  if (!b || !b.rooms.length || client.permissions?.manage_breakouts) return false;
  return b.phase === 'open' && (b.options.allow_self_select || b.rooms.some((r) => r.assigned.includes(client.peerId ?? '')));
}

/** My own role (not the one I act as) at the last `role_changed`. */
let myRole = '';

function wire() {
  myRole = client.self?.role ?? '';
  client.addEventListener('change', () => render());
  // A slot names the track it now carries: a screen share gets its tile when its slot arrives,
  // which may be after the last event (renderTiles attaches the media too).
  client.addEventListener('slot', () => renderTiles());
  client.addEventListener('connection', (e) => renderStatus(/** @type {CustomEvent} */ (e).detail.state));
  client.addEventListener('role_changed', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    refused.clear();
    // A move changes how one acts (a guest acts as `breakout` in a breakout room): the move says
    // where one went; only a new role of one's own is news.
    if (d.role !== myRole) toast(`Your role is now ${d.role}.`, 'info', 3000);
    myRole = d.role;
    syncPublishing({ moved: true });
  });
  client.addEventListener('peers_moved', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    const mine = d.moves.find((/** @type {any} */ g) => g.peers.includes(client.peerId));
    if (mine) {
      toast(mine.to === 'main' ? 'You are back in the main room.' : `You moved to ${roomName(mine.to)}.`, 'info', 4000);
      syncPublishing({ moved: true });
    }
  });
  client.addEventListener('peer_updated', (e) => handNews(/** @type {CustomEvent} */ (e).detail.peer));
  client.addEventListener('peer_left', (e) => handsUp.delete(/** @type {CustomEvent} */ (e).detail.peer_id));
  client.addEventListener('chat', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    pushMessage({ from: d.from, name: d.from_name, scope: scopeLabel(d.to), text: d.text, kind: 'chat' });
  });
  client.addEventListener('broadcast', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    const name = client.peerOrSelf(d.from)?.name ?? 'A moderator';
    toast(`📣 ${name}: ${d.text}`, 'info', 12000);
    pushMessage({ from: d.from, name, scope: 'all rooms', text: d.text, kind: 'broadcast' });
  });
  client.addEventListener('breakout_invite', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    invite = d;
    toast(`You are invited to ${d.name}. Open the Rooms tab to go there.`, 'info', 8000);
    render();
  });
  client.addEventListener('breakouts_closing', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    const which = d.breakout_id ? roomName(d.breakout_id) : 'Breakout rooms';
    toast(`${which} close in ${clock(d.countdown_ms)}.`, 'info', 5000);
  });
  client.addEventListener('timer_warning', (e) => {
    toast(`Breakout rooms end in ${clock(/** @type {CustomEvent} */ (e).detail.remaining_ms)}.`, 'info', 6000);
  });
  client.addEventListener('help_requested', (e) => {
    const help = /** @type {CustomEvent} */ (e).detail.help;
    toast(`${client.peerOrSelf(help.peer_id)?.name ?? 'Someone'} asks for help${help.breakout_id ? ` in ${roomName(help.breakout_id)}` : ''}.`, 'info', 8000);
  });
  client.addEventListener('track_muted', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    if (d.peer_id === client.peerId && d.by && d.muted) {
      // Muted by a moderator: the wish follows, so nothing sends it again later (a rejoin).
      for (const [source, own] of client.published) {
        if (own.trackId === d.track_id && (source === 'audio' || source === 'video')) setWish(source, false);
      }
      const who = client.peerOrSelf(d.by)?.name ?? 'A moderator';
      toast(`${who} muted you.`, 'info', 5000);
    }
  });
  client.addEventListener('track_unpublished', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    if (d.peer_id === client.peerId && d.reason === 'role_revoked') syncPublishing({ moved: true });
  });
  client.addEventListener('request_received', () => showRequest());
  client.addEventListener('request_resolved', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    if (d.outcome === 'expired') toast('A request expired.', 'info', 3000);
    showRequest();
  });
  client.addEventListener('listening_to', (e) => {
    const id = /** @type {CustomEvent} */ (e).detail.breakout_id;
    toast(id ? `Listening in to ${roomName(id)}.` : 'Stopped listening in.', 'info', 3000);
  });
  client.addEventListener('recordings', () => {
    const now = client.isRecordedHere();
    if (now !== wasRecorded) toast(now ? 'This room is being recorded.' : 'Recording stopped.', 'info', 4000);
    wasRecorded = now;
    renderWhere();
  });
  client.addEventListener('room_locked', (e) => {
    toast(/** @type {CustomEvent} */ (e).detail.locked ? 'The room is now locked: nobody new can join.' : 'The room is unlocked.', 'info', 4000);
  });
  client.addEventListener('removed', (e) => ended(`You were removed from the meeting${reasonText(/** @type {CustomEvent} */ (e).detail.reason)}.`));
  client.addEventListener('session_ended', (e) => ended(`The meeting has ended${reasonText(/** @type {CustomEvent} */ (e).detail.reason)}.`));
  client.addEventListener('error', (e) => toast(describeError(/** @type {CustomEvent} */ (e).detail), 'error'));
  client.addEventListener('closed', (e) => {
    const d = /** @type {CustomEvent} */ (e).detail;
    if (!el.overlay.hidden) return;
    if (d.code === 4000) ended('You joined from another tab or device; this one is disconnected.');
    else if (d.resumable) reconnect();
  });
  // The network changed under a live meeting (UDP blocked, a new address): rejoin, which
  // finds the path that works now and keeps the place.
  client.addEventListener('media_lost', () => {
    if (el.overlay.hidden) reconnect();
  });
}

/** How long the page keeps trying to rejoin: the server's default reconnect grace. */
const RECONNECT_GRACE_MS = 30000;
let reconnecting = false;

/**
 * Rejoins after a lost connection: the server resumes the same peer, role and location
 * within its grace period; media starts afresh and own tracks are published again.
 */
async function reconnect() {
  if (reconnecting) return;
  reconnecting = true;
  el.reconnect.hidden = false;
  renderStatus('reconnecting');
  const started = performance.now();
  let delay = 200;
  try {
    while (performance.now() - started < RECONNECT_GRACE_MS) {
      try {
        await client.reconnect();
        el.reconnect.hidden = true;
        toast('Reconnected.', 'ok', 3000);
        render();
        await syncPublishing();
        return;
      } catch (e) {
        const transient = !(e instanceof CaucusError) || ['not_connected', 'timeout', 'rate_limited', 'shutting_down', 'too_many_connections'].includes(e.code);
        if (!transient) {
          client.close();
          ended(`Could not rejoin: ${refusalText(e)}`, true);
          return;
        }
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 3000);
    }
    ended('The connection to the server was lost.', true);
  } finally {
    reconnecting = false;
    if (!el.overlay.hidden) el.reconnect.hidden = true;
  }
}

/** @param {string|undefined|null} reason */
function reasonText(reason) {
  return reason ? `: ${reason}` : '';
}

/** @param {string} text @param {boolean} [rejoin] */
function ended(text, rejoin = false) {
  for (const t of local.stream?.getTracks() ?? []) t.stop();
  for (const t of local.screen?.getTracks() ?? []) t.stop();
  el.overlay.hidden = false;
  fill(el.overlay, h('div', { class: 'card center' }, h('h2', null, text),
    rejoin ? h('button', { class: 'primary', onclick: () => location.reload() }, 'Rejoin') : null,
    h('a', { href: '/' }, 'Back to the start page')));
}

/** @param {string} loc */
function roomName(loc) {
  if (loc === 'main') return 'the main room';
  return client.breakouts?.rooms.find((r) => r.id === loc)?.name ?? 'a breakout room';
}

/** @param {any} to */
function scopeLabel(to) {
  if (to === 'everyone') return 'everyone';
  if (to.location) return to.location === 'main' ? 'main room' : roomName(to.location);
  if (to.role) return `role ${to.role}`;
  if (to.peer_id) return to.peer_id === client.peerId ? 'private' : `private, to ${client.peerOrSelf(to.peer_id)?.name ?? 'someone who left'}`;
  return '';
}

// ── publishing ─────────────────────────────────────────────────────────────────────────────

/**
 * Publishes what the user wants and the role allows; stops what the role no longer allows.
 * `moved`: called because the place or the acting role changed, not by the user — a source
 * that becomes shareable then starts off (the controls showed it off), so a move never turns a
 * microphone or camera on by itself; what is already shared keeps its mute state.
 * @param {{moved?: boolean}} [opts]
 */
async function syncPublishing({ moved = false } = {}) {
  for (const source of /** @type {("audio"|"video")[]} */ (['audio', 'video'])) {
    const track = source === 'audio' ? local.stream?.getAudioTracks()[0] : local.stream?.getVideoTracks()[0];
    if (!track || publishing.has(source)) continue;
    const allowed = client.mayPublishSource(source) && !refused.has(source);
    const published = client.published.has(source);
    if (!published && allowed) {
      if (moved) setWish(source, false);
      publishing.add(source);
      try {
        await client.publish(source, track, { muted: source === 'audio' ? !local.micOn : !local.camOn });
      } catch (e) {
        if (e instanceof CaucusError && e.code === 'publish_not_allowed') refused.add(source);
        else toast(describeError(e), 'error');
      } finally {
        publishing.delete(source);
      }
    } else if (published && client.mayPublish && !client.mayPublish.includes(source)) {
      await client.unpublish(source).catch(() => {});
    }
  }
  renderControls();
  renderTiles();
}

/** @param {'audio'|'video'} source */
async function toggleSource(source) {
  const on = source === 'audio' ? !local.micOn : !local.camOn;
  if (!local.stream || (source === 'audio' ? !local.stream.getAudioTracks().length : !local.stream.getVideoTracks().length)) {
    toast(`No ${source === 'audio' ? 'microphone' : 'camera'} available.`, 'error');
    return;
  }
  if (client.published.has(source)) {
    await act(() => client.setMuted(source, !on));
    if (client.published.get(source)?.muted === !on) setWish(source, on);
  } else {
    setWish(source, on);
    if (on && (refused.has(source) || !client.mayPublishSource(source))) {
      toast(`Your role (${client.self?.acting_role}) may not share ${source === 'audio' ? 'audio' : 'video'} here.`, 'error');
    }
    await syncPublishing();
  }
  renderControls();
  renderTiles();
}

/** @param {'audio'|'video'} source @param {boolean} on */
function setWish(source, on) {
  if (source === 'audio') local.micOn = on; else local.camOn = on;
  const tracks = source === 'audio' ? local.stream?.getAudioTracks() : local.stream?.getVideoTracks();
  for (const t of tracks ?? []) t.enabled = on;
}

async function toggleScreen() {
  if (client.published.has('screen')) {
    await act(() => client.unpublish('screen'));
    for (const t of local.screen?.getTracks() ?? []) t.stop();
    local.screen = null;
    renderControls();
    renderTiles();
    return;
  }
  if (!client.mayPublishSource('screen')) {
    toast('Your role may not share the screen here.', 'error');
    return;
  }
  try {
    local.screen = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: 15 }, audio: false });
  } catch {
    toast('Screen sharing was cancelled or is not available.', 'info');
    return;
  }
  const track = local.screen.getVideoTracks()[0];
  track.addEventListener('ended', () => {
    if (client.published.has('screen')) client.unpublish('screen').catch(() => {}).finally(() => { renderControls(); renderTiles(); });
  });
  const id = await act(() => client.publish('screen', track));
  if (!id) {
    track.stop();
    local.screen = null;
  }
  renderControls();
  renderTiles();
}

// ── rendering ──────────────────────────────────────────────────────────────────────────────

function render() {
  if (!client.self) return;
  renderStatus(client.state);
  renderWhere();
  renderTabs();
  renderBanner();
  renderTiles();
  renderPeople();
  renderChatScopes();
  renderRooms();
  renderControls();
  if (client.permissions?.manage_breakouts) {
    if (!updateConsole) updateConsole = mountConsole(el.console, client, { act, roomName });
    if (activeTab === 'console') updateConsole();
  }
  showRequest();
}

/** @param {string} state */
function renderStatus(state) {
  const text = { connecting: reconnecting ? 'Reconnecting…' : 'Connecting…', connected: 'Connected', disconnected: 'Reconnecting media…', closed: reconnecting ? 'Reconnecting…' : 'Disconnected', reconnecting: 'Reconnecting…' }[state] ?? state;
  fill(el.status, text);
  el.status.dataset.state = state;
}

function renderWhere() {
  const loc = client.self?.location ?? 'main';
  fill(el.where, loc === 'main' ? 'Main room' : roomName(loc), client.locked ? ' · 🔒 locked' : '',
    client.isRecordedHere() ? h('span', { class: 'rec', role: 'status', 'aria-label': 'This room is being recorded' }, ' · ● Recording') : null,
    listenersNotice(loc));
  el.where.dataset.location = loc;
}

/**
 * Who listens in to this room from outside (a manager hears and sees it without being in it),
 * said in the room: "Mo Moderator is listening in".
 * @param {string} loc
 */
function listenersNotice(loc) {
  if (loc === 'main') return null;
  const names = [...client.peers.values()].filter((p) => p.listening_to === loc).map((p) => p.name);
  if (!names.length) return null;
  const who = names.length === 1 ? `${names[0]} is` : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]} are`;
  return h('span', { class: 'listeners', id: 'listeners', role: 'status' }, ` · ${who} listening in`);
}

/** What the banner's buttons and text were built for; a tick only updates its clocks. */
let bannerShape = '';

function renderBanner() {
  const room = client.currentBreakout();
  const closing = client.closingInMs();
  const b = client.breakouts;
  const left = room ? client.timeLeftMs() : null;
  const choose = !room && b?.phase === 'open' && showRoomsTab();
  if (!room && closing == null && !choose) {
    el.banner.hidden = true;
    bannerShape = '';
    return;
  }
  el.banner.hidden = false;
  const shape = JSON.stringify([room?.id, room?.name, closing != null, left != null, choose, b?.options.allow_return_to_main, b?.options.allow_self_select]);
  if (shape === bannerShape) {
    const t = document.getElementById('time-left');
    if (t && left != null) t.textContent = `${clock(left)} left`;
    const c = document.getElementById('closing-countdown');
    if (c && closing != null) c.textContent = `Closing in ${clock(closing)}`;
    return;
  }
  bannerShape = shape;
  if (!room && closing == null) {
    fill(el.banner, h('span', null, 'Breakout rooms are open.'), h('span', { class: 'spacer' }),
      h('button', { id: 'choose-room', class: 'primary', onclick: () => { selectTab('rooms'); document.getElementById('tab-rooms')?.focus(); } },
        b?.options.allow_self_select ? 'Choose a room' : 'See your room'));
    return;
  }
  fill(el.banner,
    room ? h('span', null, 'You are in ', h('strong', { id: 'banner-room' }, room.name)) : h('span', null, 'Breakout rooms are closing'),
    left != null ? h('span', { class: 'pill', id: 'time-left', role: 'timer', 'aria-label': 'Time left' }, `${clock(left)} left`) : null,
    closing != null ? h('span', { class: 'pill warn', id: 'closing-countdown', role: 'timer' }, `Closing in ${clock(closing)}`) : null,
    h('span', { class: 'spacer' }),
    room && b?.options.allow_return_to_main ? h('button', { id: 'return-main', onclick: () => act(() => client.returnToMain()) }, 'Return to main room') : null,
    room ? h('button', { id: 'ask-help', onclick: () => act(() => client.requestHelp(), 'A moderator has been asked to help.') }, '🙋 Ask for help') : null);
}

/** Updates only the countdowns, twice a second. */
function tick() {
  if (!client?.self) return;
  if (client.currentBreakout() || client.closingInMs() != null || !el.banner.hidden) renderBanner();
  if (activeTab === 'console' && updateConsole) {
    const t = document.getElementById('console-timer');
    const left = client.timeLeftMs();
    if (t) t.textContent = left != null ? `${clock(left)} left` : 'no timer';
  }
  pollSpeaking();
}

let polling = false;
async function pollSpeaking() {
  if (polling) return;
  polling = true;
  try {
    const stats = await client.receiveStats();
    const now = new Set(stats.filter((s) => s.kind === 'audio' && s.peerId && s.audioLevel > 0.03).map((s) => /** @type {string} */ (s.peerId)));
    const changed = now.size !== speaking.size || [...now].some((p) => !speaking.has(p));
    speaking = now;
    if (changed) renderTiles();
  } finally {
    polling = false;
  }
}

/** The tiles: me, peers in my location, screens; main stage (and listened-in rooms) aside. */
function renderTiles() {
  const me = client.self;
  if (!me) return;
  const loc = me.location;
  /** @type {{key: string, peer: PeerInfo, screen: boolean, aside: boolean}[]} */
  const want = [];
  const videoSlots = [...client.slots.values()].filter((s) => s.kind === 'video' && s.track);
  for (const s of videoSlots) {
    if (s.track?.source === 'screen') {
      const peer = client.peerOrSelf(s.track.peer_id);
      if (peer) want.push({ key: `${peer.id}:screen`, peer, screen: true, aside: peer.location !== loc });
    }
  }
  if (client.published.has('screen')) want.push({ key: 'self:screen', peer: me, screen: true, aside: false });
  want.push({ key: 'self', peer: me, screen: false, aside: false });
  for (const p of client.peers.values()) {
    if (p.location === loc) want.push({ key: p.id, peer: p, screen: false, aside: false });
    else if (videoSlots.some((s) => s.track?.peer_id === p.id && s.track.source === 'video')) want.push({ key: p.id, peer: p, screen: false, aside: true });
  }
  const keys = new Set(want.map((w) => w.key));
  for (const [key, t] of tiles) {
    if (!keys.has(key)) {
      t.root.remove();
      tiles.delete(key);
    }
  }
  for (const w of want) {
    let t = tiles.get(w.key);
    if (!t) {
      const video = /** @type {HTMLVideoElement} */ (h('video', { autoplay: true, playsinline: true, muted: true }));
      const label = h('div', { class: 'tile-label' });
      t = { root: h('figure', { class: 'tile', role: 'listitem', 'data-key': w.key }, video, h('div', { class: 'avatar', 'aria-hidden': 'true' }), label), video, label };
      tiles.set(w.key, t);
    }
    const parent = w.aside ? el.stageGrid : el.grid;
    if (t.root.parentElement !== parent) parent.append(t.root);
    updateTile(t, w.peer, w.key, w.screen);
  }
  // Screens first.
  for (const w of want.filter((x) => x.screen && !x.aside)) el.grid.prepend(/** @type {any} */ (tiles.get(w.key)).root);
  el.stage.hidden = !want.some((w) => w.aside);
  const asideLocs = new Set(want.filter((w) => w.aside).map((w) => w.peer.location));
  const title = el.stage.querySelector('h2');
  if (title) title.textContent = [...asideLocs].every((l) => l === 'main') ? 'Main stage' : [...asideLocs].map((l) => (l === 'main' ? 'Main stage' : `Listening: ${roomName(l)}`)).join(' · ');
  renderMedia();
  renderNote();
}

/**
 * @param {{root: HTMLElement, video: HTMLVideoElement, label: HTMLElement}} t
 * @param {PeerInfo} peer
 * @param {string} key
 * @param {boolean} screen
 */
function updateTile(t, peer, key, screen) {
  const self = key === 'self' || key === 'self:screen';
  const audio = peer.tracks.find((x) => x.source === 'audio');
  const video = peer.tracks.find((x) => x.source === (screen ? 'screen' : 'video'));
  const hasVideo = self ? (screen ? !!local.screen : client.published.has('video') ? !client.published.get('video')?.muted : false) : !!video && !video.muted;
  const micOff = self ? !(client.published.has('audio') && !client.published.get('audio')?.muted) : !audio || audio.muted;
  t.root.classList.toggle('screen', screen);
  t.root.classList.toggle('speaking', !screen && speaking.has(peer.id));
  t.root.classList.toggle('no-video', !hasVideo);
  t.root.classList.toggle('disconnected', !peer.connected);
  t.root.dataset.peer = peer.id;
  t.root.setAttribute('aria-label', `${peer.name}${self ? ' (you)' : ''}${screen ? ', screen' : ''}`);
  const avatar = t.root.querySelector('.avatar');
  if (avatar) avatar.textContent = initials(peer.name);
  fill(t.label,
    h('span', { class: 'name' }, peer.name, self ? ' (you)' : '', screen ? ' — screen' : ''),
    h('span', { class: `badge role-${peer.acting_role}` }, peer.acting_role),
    !screen && peer.hand_raised ? h('span', { class: 'icon-flag', title: 'Hand raised', 'aria-label': 'Hand raised' }, '✋') : null,
    !screen && micOff ? h('span', { class: 'icon-flag', title: 'Microphone off', 'aria-label': 'Microphone off' }, '🔇') : null,
    !screen && speaking.has(peer.id) ? h('span', { class: 'sr-only' }, 'speaking') : null,
    !peer.connected ? h('span', { class: 'icon-flag' }, 'reconnecting…') : null);
  if (self) {
    const stream = screen ? local.screen : local.stream;
    if (stream && t.video.srcObject !== stream) t.video.srcObject = stream;
    t.root.classList.toggle('mirror', !screen);
  }
}

/**
 * Remote camera tiles tell the server their size (in device pixels), so a simulcast camera
 * arrives at the layer that fits: a small tile never costs a 720p stream. Sizes are sent a
 * quarter of a second after the last change of a tile.
 */
const sizeTimers = new Map();
/** Whether my place was being recorded at the last `recordings` event. */
let wasRecorded = false;
const sizeWatch = new ResizeObserver((entries) => {
  for (const entry of entries) {
    const video = /** @type {HTMLVideoElement} */ (entry.target);
    const trackId = video.dataset.trackId;
    if (!trackId) continue;
    const dpr = window.devicePixelRatio || 1;
    const width = Math.max(16, Math.min(7680, Math.round(entry.contentRect.width * dpr)));
    const height = Math.max(16, Math.min(4320, Math.round(entry.contentRect.height * dpr)));
    clearTimeout(sizeTimers.get(video));
    sizeTimers.set(video, setTimeout(() => {
      sizeTimers.delete(video);
      const size = `${width}x${height}`;
      if (video.dataset.sentSize === size || video.dataset.trackId !== trackId) return;
      video.dataset.sentSize = size;
      client.setVideoSize(trackId, width, height).catch(() => { delete video.dataset.sentSize; });
    }, 250));
  }
});

/** Attaches slot tracks to tiles and audio elements. */
function renderMedia() {
  for (const slot of client.slots.values()) {
    if (!slot.mediaTrack) continue;
    if (slot.kind === 'audio') {
      let a = audios.get(slot.mid);
      if (!a) {
        a = /** @type {HTMLAudioElement} */ (h('audio', { autoplay: true }));
        audios.set(slot.mid, a);
        el.audio.append(a);
      }
      const current = /** @type {MediaStream|null} */ (a.srcObject);
      if (!current || current.getAudioTracks()[0] !== slot.mediaTrack) {
        a.srcObject = new MediaStream([slot.mediaTrack]);
        a.play().catch(() => {});
      }
      continue;
    }
    if (!slot.track) continue;
    const key = slot.track.source === 'screen' ? `${slot.track.peer_id}:screen` : slot.track.peer_id;
    const t = tiles.get(key);
    if (!t) continue;
    const current = /** @type {MediaStream|null} */ (t.video.srcObject);
    if (!current || current.getVideoTracks()[0] !== slot.mediaTrack) {
      t.video.srcObject = new MediaStream([slot.mediaTrack]);
      t.video.play().catch(() => {});
    }
    t.root.dataset.mid = slot.mid;
    if (slot.track.source === 'video' && t.video.dataset.trackId !== slot.track.track_id) {
      t.video.dataset.trackId = slot.track.track_id;
      delete t.video.dataset.sentSize;
      sizeWatch.unobserve(t.video);
      sizeWatch.observe(t.video);
    }
  }
}

/** What my role may not share here (known from `joined`/`role_changed`, or learnt from a refusal). */
function blockedSources() {
  return /** @type {Source[]} */ (['audio', 'video', 'screen']).filter((s) => refused.has(s) || !client.mayPublishSource(s));
}

/** @param {Source} s */
function sourceWord(s) {
  return s === 'audio' ? 'audio' : s === 'video' ? 'video' : 'the screen';
}

function renderNote() {
  const blocked = blockedSources();
  const role = client.self?.acting_role;
  const talk = blocked.filter((s) => s !== 'screen');
  const words = blocked.map(sourceWord);
  const list = words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}` : words[0];
  const text = talk.length ? `You are watching: your role (${role}) does not share ${list} here.`
    : blocked.length ? `Your role (${role}) does not share ${list} here.` : '';
  fill(el.note, text);
}

/**
 * A control for a source the role may not share is disabled and says why (no refusal after a click).
 * @param {Source} source
 */
function blockedAttrs(source) {
  if (!blockedSources().includes(source)) return {};
  return { disabled: true, 'aria-describedby': 'publish-note', title: `Your role (${client.self?.acting_role}) may not share ${sourceWord(source)} here` };
}

function renderControls() {
  const pubA = client.published.get('audio');
  const pubV = client.published.get('video');
  const micLive = !!pubA && !pubA.muted;
  const camLive = !!pubV && !pubV.muted;
  const hand = !!client.self?.hand_raised;
  const sharing = client.published.has('screen');
  fill(el.controls,
    h('button', { id: 'mic-button', 'aria-pressed': String(micLive), class: micLive ? 'on' : 'off', onclick: () => toggleSource('audio'), ...blockedAttrs('audio') }, micLive ? '🎙 Mute' : '🔇 Unmute'),
    h('button', { id: 'cam-button', 'aria-pressed': String(camLive), class: camLive ? 'on' : 'off', onclick: () => toggleSource('video'), ...blockedAttrs('video') }, camLive ? '📷 Stop video' : '📷 Start video'),
    h('button', { id: 'screen-button', 'aria-pressed': String(sharing), onclick: () => toggleScreen(), ...(sharing ? {} : blockedAttrs('screen')) }, sharing ? '🖥 Stop sharing' : '🖥 Share screen'),
    h('button', { id: 'hand-button', 'aria-pressed': String(hand), onclick: () => act(() => client.setHand(!hand)) }, hand ? '✋ Lower hand' : '✋ Raise hand'),
    h('span', { class: 'spacer' }),
    h('button', { id: 'leave-button', class: 'danger', onclick: async () => { await client.leave(); ended('You left the meeting.', true); } }, 'Leave'));
}

// ── people ─────────────────────────────────────────────────────────────────────────────────

function renderPeople() {
  if (el.people.contains(document.activeElement) && document.activeElement?.tagName === 'SELECT') return;
  const me = /** @type {PeerInfo} */ (client.self);
  const perms = client.permissions;
  if (!perms?.see_peer_list && !perms?.manage_breakouts) {
    fill(el.people, h('p', { class: 'muted-text' }, 'Your role does not see the participant list.'));
    return;
  }
  const all = [me, ...[...client.peers.values()].sort((a, b) => a.name.localeCompare(b.name))];
  const open = new Set([...el.people.querySelectorAll('details[open]')].map((d) => /** @type {HTMLElement} */ (d).dataset.peer));
  fill(el.people, h('h2', { class: 'sr-only' }, 'People'), h('ul', { class: 'people', id: 'people-list' }, all.map((p) => {
    const audio = p.tracks.find((t) => t.source === 'audio');
    return h('li', { 'data-peer': p.id },
      h('div', { class: 'person' },
        h('span', { class: 'avatar small', 'aria-hidden': 'true' }, initials(p.name)),
        h('span', { class: 'name' }, p.name, p.id === me.id ? ' (you)' : ''),
        h('span', { class: `badge role-${p.acting_role}` }, p.acting_role),
        p.location !== 'main' ? h('span', { class: 'pill' }, roomName(p.location)) : null,
        p.hand_raised ? h('span', { 'aria-label': 'Hand raised', title: 'Hand raised' }, '✋') : null,
        audio && !audio.muted ? h('span', { 'aria-label': 'Microphone on', title: 'Microphone on' }, '🎙') : null,
        !p.connected ? h('span', { class: 'muted-text' }, 'offline') : null),
      p.id !== me.id ? peerActions(p, open.has(p.id)) : null);
  })));
}

/** Choices made in the People panel's selects, kept across re-renders (key: `role:p3`, `move:p3`). @type {Map<string, string>} */
const choices = new Map();

/**
 * The actions the role allows on a peer.
 * @param {PeerInfo} p
 * @param {boolean} open
 */
function peerActions(p, open) {
  const perms = /** @type {import('./caucus.js').Permissions} */ (client.permissions);
  const items = [];
  if (perms.mute_others) {
    items.push(h('button', { 'aria-label': `Mute ${p.name}`, onclick: () => act(() => client.mutePeer(p.id, 'audio'), `${p.name} is muted.`) }, 'Mute'));
    items.push(h('button', { 'aria-label': `Stop the camera of ${p.name}`, onclick: () => act(() => client.mutePeer(p.id, 'video'), `${p.name}'s camera is off.`) }, 'Stop camera'));
    if (p.hand_raised) items.push(h('button', { 'aria-label': `Lower the hand of ${p.name}`, onclick: () => act(() => client.setHand(false, p.id)) }, 'Lower hand'));
  }
  if (perms.ask_unmute) items.push(h('button', { 'aria-label': `Ask ${p.name} to unmute`, onclick: () => act(() => client.askUnmute(p.id, 'audio'), `Asked ${p.name} to unmute.`) }, 'Ask to unmute'));
  if (perms.change_role) {
    const chosen = choices.get(`role:${p.id}`) ?? p.role;
    const sel = /** @type {HTMLSelectElement} */ (h('select', { id: `role-${p.id}`, 'aria-label': `New role for ${p.name}`, onchange: () => choices.set(`role:${p.id}`, sel.value) },
      peopleRoles(client.roles).map((r) => h('option', { value: r.name, selected: r.name === chosen }, r.name))));
    items.push(h('div', { class: 'row' }, sel,
      h('button', { 'aria-label': `Ask ${p.name} to take this role`, onclick: () => act(() => client.changeRole(p.id, sel.value, false), `Asked ${p.name} to become ${sel.value}.`) }, 'Ask'),
      h('button', { 'aria-label': `Give ${p.name} this role now`, onclick: () => act(() => client.changeRole(p.id, sel.value, true), `${p.name} is now ${sel.value}.`) }, 'Set')));
  }
  if (perms.move_peers) {
    const rooms = client.breakouts?.rooms ?? [];
    const chosen = choices.get(`move:${p.id}`) ?? p.location;
    const sel = /** @type {HTMLSelectElement} */ (h('select', { id: `move-${p.id}`, 'aria-label': `Move ${p.name} to`, onchange: () => choices.set(`move:${p.id}`, sel.value) },
      h('option', { value: 'main', selected: chosen === 'main' }, 'Main room'),
      rooms.map((r) => h('option', { value: r.id, selected: chosen === r.id }, r.name))));
    items.push(h('div', { class: 'row' }, sel, h('button', { 'aria-label': `Move ${p.name} now`, onclick: () => act(() => client.movePeer(p.id, sel.value, true), `${p.name} moved.`) }, 'Move')));
  }
  if (perms.remove_peers) {
    items.push(h('button', {
      class: 'danger', 'aria-label': `Remove ${p.name} from the meeting`,
      onclick: () => { if (confirm(`Remove ${p.name} from the meeting?`)) act(() => client.removePeer(p.id), `${p.name} was removed.`); },
    }, 'Remove'));
  }
  if (!items.length) return null;
  return h('details', { class: 'actions', 'data-peer': p.id, open }, h('summary', { 'aria-label': `Actions for ${p.name}` }, 'Actions'), h('div', { class: 'action-list' }, items));
}

// ── chat ───────────────────────────────────────────────────────────────────────────────────

function buildChat() {
  el.chatList = h('ol', { class: 'chat-list', id: 'chat-list', 'aria-live': 'polite', 'aria-label': 'Messages' });
  el.chatScope = h('select', { id: 'chat-scope', 'aria-label': 'Send to' });
  const input = /** @type {HTMLInputElement} */ (h('input', { id: 'chat-input', 'aria-label': 'Message', placeholder: 'Write a message', maxlength: 2000, autocomplete: 'off' }));
  fill(el.chat, h('h2', { class: 'sr-only' }, 'Chat'), el.chatList, h('form', {
    class: 'chat-form',
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      const scope = /** @type {HTMLSelectElement} */ (el.chatScope).value;
      const to = scope === 'everyone' ? 'everyone' : JSON.parse(scope);
      const ok = await act(() => client.chat(to, text).then(() => true));
      // The server sends every message back to its sender too: it shows when it arrives.
      if (ok) input.value = '';
    },
  }, el.chatScope, input, h('button', { type: 'submit' }, 'Send')));
}

function renderChatScopes() {
  const sel = /** @type {HTMLSelectElement} */ (el.chatScope);
  if (document.activeElement === sel) return;
  const prev = sel.value;
  const loc = client.self?.location ?? 'main';
  /** @type {[string, string][]} */
  const options = [[JSON.stringify({ location: loc }), loc === 'main' ? 'Main room' : `This room (${roomName(loc)})`]];
  if (client.permissions?.broadcast) options.push(['everyone', 'Everyone, all rooms']);
  for (const r of peopleRoles(client.roles)) options.push([JSON.stringify({ role: r.name }), `Role: ${r.name}`]);
  for (const p of client.peers.values()) options.push([JSON.stringify({ peer_id: p.id }), `Private: ${p.name}`]);
  fill(sel, options.map(([v, l]) => h('option', { value: v, selected: v === prev }, l)));
}

/** @param {{from: string, name: string, scope: string, text: string, kind: 'chat'|'broadcast'|'system'}} m */
function pushMessage(m) {
  messages.push({ ...m, at: new Date() });
  el.chatList.append(h('li', { class: `msg msg-${m.kind}` },
    h('span', { class: 'msg-from' }, m.name), h('span', { class: 'msg-scope' }, m.scope),
    h('time', null, new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
    h('p', null, m.text)));
  el.chatList.scrollTop = el.chatList.scrollHeight;
  if (activeTab !== 'chat' && m.from !== client.peerId) {
    unreadChat++;
    renderTabs();
  }
}

// ── breakout rooms for participants ────────────────────────────────────────────────────────

/** @type {{breakout_id: string, name: string}|null} */
let invite = null;

/** The last refusal of a room choice, shown in the Rooms panel until the next try. */
let roomsError = '';

/**
 * Goes to a breakout room myself; a refusal (full, wrong password, not allowed) is shown in
 * the panel with the server's reason.
 * @param {string} id
 * @param {string} [password]
 * @returns {Promise<boolean>}
 */
async function chooseRoom(id, password) {
  roomsError = '';
  try {
    await client.joinBreakout(id, password);
    renderRooms();
    return true;
  } catch (e) {
    roomsError = refusalText(e);
    toast(roomsError, 'error', 7000);
    renderRooms();
    return false;
  }
}

/**
 * Asks for a room's password in a dialog, then joins; a wrong password keeps the dialog open.
 * @param {import('./caucus.js').BreakoutRoom} room
 */
function askPassword(room) {
  const dialog = /** @type {HTMLDialogElement} */ (el.passwordDialog);
  const input = /** @type {HTMLInputElement} */ (h('input', { type: 'password', id: 'room-password', autocomplete: 'off', required: true }));
  const error = h('p', { class: 'form-error', role: 'alert', id: 'room-password-error' });
  fill(dialog, h('form', {
    method: 'dialog',
    onsubmit: async (/** @type {Event} */ e) => {
      e.preventDefault();
      fill(error);
      if (await chooseRoom(room.id, input.value)) dialog.close();
      else fill(error, roomsError);
    },
  },
  h('h2', { id: 'password-title' }, `${room.name} is protected`),
  h('label', { for: 'room-password' }, `Password for ${room.name}`), input, error,
  h('div', { class: 'row' },
    h('button', { class: 'primary', type: 'submit' }, 'Join room'),
    h('button', { type: 'button', onclick: () => dialog.close() }, 'Cancel'))));
  dialog.showModal();
  input.focus();
}

function renderRooms() {
  const b = client.breakouts;
  if (!b || !showRoomsTab()) {
    fill(el.rooms);
    return;
  }
  const here = client.self?.location;
  const self = b.options.allow_self_select && client.permissions?.self_select_breakout;
  fill(el.rooms, h('h2', null, self ? 'Choose a room' : 'Breakout rooms'),
    invite && here !== invite.breakout_id ? h('p', { class: 'invite' }, `You are invited to ${invite.name}. `,
      h('button', { class: 'primary', onclick: () => { const id = invite?.breakout_id ?? ''; chooseRoom(id); } }, 'Go there')) : null,
    self ? null : h('p', { class: 'muted-text' }, 'Choosing a room yourself is not enabled.'),
    roomsError ? h('p', { class: 'form-error', role: 'alert', id: 'rooms-error' }, roomsError) : null,
    here !== 'main' && b.options.allow_return_to_main ? h('p', null, h('button', { onclick: () => act(() => client.returnToMain()) }, 'Return to main room')) : null,
    h('ul', { class: 'room-list', id: 'room-list' }, b.rooms.map((r) => {
      const full = r.capacity != null && r.peers.length >= r.capacity;
      const mine = r.assigned.includes(client.peerId ?? '');
      const locked = r.has_password && !mine;
      return h('li', { 'data-room': r.id },
        h('span', { class: 'name' }, r.name),
        h('span', { class: 'muted-text' }, `${r.peers.length}${r.capacity != null ? ` of ${r.capacity}` : ''} inside`),
        full ? h('span', { class: 'pill warn' }, 'full') : null,
        locked ? h('span', { class: 'pill', title: 'Needs a password' }, '🔒 password') : null,
        r.state !== 'open' ? h('span', { class: 'pill' }, r.state) : null,
        here === r.id ? h('span', { class: 'pill' }, 'you are here') : (self || mine) && r.state === 'open' ? h('button', {
          'aria-label': `Join ${r.name}`,
          onclick: () => (locked ? askPassword(r) : chooseRoom(r.id)),
        }, 'Join') : null);
    })));
}

// ── requests addressed to me ───────────────────────────────────────────────────────────────

/** @type {string|null} */
let shownRequest = null;

function showRequest() {
  const dialog = /** @type {HTMLDialogElement} */ (el.dialog);
  const req = [...client.requests.values()][0];
  if (!req) {
    if (dialog.open) dialog.close();
    shownRequest = null;
    return;
  }
  if (shownRequest === req.id && dialog.open) return;
  shownRequest = req.id;
  const from = req.from ? client.peerOrSelf(req.from)?.name ?? 'A moderator' : 'The organiser';
  const what = req.kind === 'change_role' ? `to take the role “${req.role}”`
    : req.kind === 'move' ? `to go to ${roomName(req.to)}`
      : req.kind === 'unmute' ? `to turn on your ${req.source === 'audio' ? 'microphone' : req.source}` : 'something';
  const expires = h('p', { class: 'muted-text' });
  const timer = setInterval(() => {
    const left = req.expires_in_ms - (performance.now() - req.receivedAt);
    expires.textContent = `Expires in ${clock(left)}`;
    if (left <= 0 || !dialog.open) clearInterval(timer);
  }, 250);
  const answer = async (/** @type {boolean} */ accept) => {
    dialog.close();
    await act(() => client.respondRequest(req.id, accept));
    client.requests.delete(req.id);
    if (accept && req.kind === 'unmute' && (req.source === 'audio' || req.source === 'video')) {
      setWish(req.source, true);
      if (client.published.has(req.source)) await act(() => client.setMuted(req.source, false));
      else await syncPublishing();
      renderControls();
    }
    showRequest();
  };
  fill(dialog, h('h2', { id: 'request-title' }, 'Request'),
    h('p', { id: 'request-text' }, `${from} asks you ${what}.`), expires,
    h('div', { class: 'row' },
      h('button', { class: 'primary', id: 'request-accept', onclick: () => answer(true) }, 'Accept'),
      h('button', { id: 'request-decline', onclick: () => answer(false) }, 'Decline')));
  if (!dialog.open) dialog.showModal();
}

preview();
