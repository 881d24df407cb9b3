// @ts-check
/**
 * # caucus.js — the browser SDK of Caucus
 *
 * A thin client over the signaling protocol (`docs/protocol.md`): one WebSocket to `/v1/rtc`,
 * one `RTCPeerConnection` to the server, made after the `joined` event so that it uses the
 * STUN/TURN servers the event names (`ice_servers`). The client offers first, with three `sendonly`
 * m-lines (microphone, camera, screen) and a `recvonly` receive-slot pool; the server fills
 * slots in place and labels them with `slot` messages, and renegotiates (`offer`) only when
 * the pool runs out.
 *
 * ```js
 * import { CaucusClient } from '/assets/caucus.js';
 * const client = new CaucusClient({ token });
 * client.addEventListener('slot', (e) => render(e.detail));
 * await client.connect();
 * await client.publish('video', cameraTrack);
 * await client.setHand(true);
 * ```
 *
 * Every server `event` is re-dispatched as a `CustomEvent` of the same type (`peer_joined`,
 * `breakouts`, `chat`, …) whose `detail` is the event body; the client's own view of the
 * session (`self`, `peers`, `breakouts`, `permissions`, …) is updated *before* dispatch, and a
 * `change` event follows every update. SDK-level events: `slot` ({@link SlotInfo}),
 * `connection` (`{state}`), `published` / `unpublished` (`{source, trackId}`), `closed`
 * (`{code, reason}`), `media_lost` (`{state}`: the media connection stayed down; call
 * {@link CaucusClient#reconnect}), `error` ({@link CaucusErrorBody}, pushed errors).
 *
 * @module caucus
 */

/** @typedef {'audio'|'video'|'screen'|'screen_audio'} Source */
/** @typedef {'main'|string} Location */
/** @typedef {{max_width: number, max_height: number, max_fps: number, max_bitrate: number}} SourceCaps */

/**
 * @typedef {object} Permissions
 * @property {boolean} end_room
 * @property {boolean} remove_peers
 * @property {boolean} mute_others
 * @property {boolean} ask_unmute
 * @property {boolean} change_role
 * @property {boolean} manage_breakouts
 * @property {boolean} move_peers
 * @property {boolean} self_select_breakout
 * @property {boolean} broadcast
 * @property {boolean} record
 * @property {boolean} see_peer_list
 * @property {boolean} lock_room
 * @property {boolean} send_chat
 */

/**
 * @typedef {object} TrackInfo
 * @property {string} id
 * @property {Source} source
 * @property {boolean} muted
 */

/**
 * @typedef {object} PeerInfo
 * @property {string} id
 * @property {string} user_id
 * @property {string} name
 * @property {string} role
 * @property {string} acting_role
 * @property {Location} location
 * @property {TrackInfo[]} tracks
 * @property {any} [metadata]
 * @property {boolean} hand_raised
 * @property {boolean} connected
 * @property {boolean} broadcasting
 * @property {string} [listening_to] the breakout room a manager listens in to from outside
 */

/**
 * @typedef {'isolated'|{main_stage: {roles: string[]}}} Visibility
 */

/**
 * Every server event type (`caucus_proto::ServerEvent::NAMES`, checked by
 * `crates/caucus-server/tests/names.rs`); the client re-dispatches each under its own name.
 */
export const SERVER_EVENTS = /** @type {const} */ ([
  'joined', 'peer_joined', 'peer_left', 'peer_updated', 'role_changed', 'peers_moved',
  'track_published', 'track_unpublished', 'track_muted', 'request_received', 'request_resolved',
  'breakouts', 'breakout_invite', 'breakouts_closing', 'timer_warning', 'broadcast', 'chat',
  'help_requested', 'listening_to', 'room_locked', 'recordings', 'removed', 'session_ended',
]);
/** @typedef {typeof SERVER_EVENTS[number]} ServerEventType */

/**
 * One role of the session's template (`caucus_proto::RoleInfo`), highest priority first.
 * @typedef {object} RoleInfo
 * @property {string} name
 * @property {number} priority
 * @property {Source[]} publish the sources it may publish in main
 * @property {Permissions} permissions
 * @property {string} [breakout_role] the role it acts as in a breakout room
 * @property {boolean} [join_muted] its peers start with microphone and camera off
 */

/**
 * @typedef {object} BreakoutRoom
 * @property {string} id
 * @property {string} name
 * @property {number|null} capacity
 * @property {boolean} has_password
 * @property {Visibility} visibility
 * @property {'draft'|'open'|'closing'|'closed'} state
 * @property {string[]} peers
 * @property {string[]} assigned
 * @property {number} [closes_in_ms]
 */

/**
 * @typedef {object} BreakoutOptions
 * @property {boolean} allow_self_select
 * @property {boolean} allow_return_to_main
 * @property {boolean} auto_move_on_open
 * @property {number} countdown_s
 * @property {number|null} duration_s
 * @property {number} warning_s
 */

/**
 * @typedef {object} HelpRequest
 * @property {string} id
 * @property {string} peer_id
 * @property {string|null} breakout_id
 * @property {string|null} claimed_by
 */

/**
 * @typedef {object} BreakoutSet
 * @property {'draft'|'open'|'closing'|'closed'} phase
 * @property {number} version
 * @property {BreakoutOptions} options
 * @property {BreakoutRoom[]} rooms
 * @property {HelpRequest[]} [help]
 * @property {Record<string, string>} [preassignments]
 * @property {number} [ends_in_ms]
 */

/**
 * @typedef {object} CaucusErrorBody
 * @property {string} code
 * @property {string} message
 * @property {string} [field]
 */

/**
 * What a receive slot (a server `sendonly` m-line) shows now.
 * @typedef {object} SlotInfo
 * @property {string} mid
 * @property {'audio'|'video'} kind
 * @property {{peer_id: string, track_id: string, source: Source}|null} track  null: the slot is free
 * @property {MediaStreamTrack|null} mediaTrack  the browser track of the m-line (null until negotiated)
 */

/**
 * A chat recipient: my location, a role, a peer, or everyone (needs `broadcast`).
 * @typedef {{location: string}|{role: string}|{peer_id: string}|'everyone'} ChatTarget
 */

/**
 * Receive statistics of one slot, from `RTCPeerConnection.getStats()`.
 * @typedef {object} SlotStats
 * @property {string} mid
 * @property {'audio'|'video'} kind
 * @property {string|null} peerId
 * @property {Source|null} source
 * @property {number} framesDecoded
 * @property {number} packetsReceived
 * @property {number} bytesReceived
 * @property {number} audioLevel
 */

/** A refusal from the server: `code` is the stable contract, `message` a human sentence. */
export class CaucusError extends Error {
  /**
   * @param {CaucusErrorBody} body
   */
  constructor(body) {
    super(body.message || body.code);
    this.name = 'CaucusError';
    /** @type {string} */
    this.code = body.code;
    /** @type {string|undefined} */
    this.field = body.field;
  }
}

/** Sending m-lines of the first offer, in order. */
const SEND_SOURCES = /** @type {const} */ (['audio', 'video', 'screen']);
/** A media connection `disconnected` this long (browsers say so after ~5 s without answers to
 * their consent checks) counts as lost; `failed` counts at once. */
const MEDIA_LOST_AFTER_MS = 4000;

/**
 * @typedef {object} ClientOptions
 * @property {string} token  a join token (JWT)
 * @property {string} [url]  `ws(s)://HOST/v1/rtc`; default: this page's host
 * @property {string} [room]  sent as `?room=` so the server refuses a token for another room
 * @property {string} [password]  the room password, if any
 * @property {number} [recvAudio]  `recvonly` audio m-lines offered up front (default 3)
 * @property {number} [recvVideo]  `recvonly` video m-lines offered up front (default 6)
 * @property {RTCIceServer[]} [iceServers]  STUN/TURN servers of the app's own, used before the
 *   ones the server names in `joined` (`ice_servers`: its STUN servers and TURN with a
 *   credential minted for this join); default `[]`
 * @property {RTCIceTransportPolicy} [iceTransportPolicy]  `'all'` (default) or `'relay'`: only
 *   TURN relays, for deployments that force TURN (and tests that prove it works)
 * @property {number} [requestTimeoutMs]  deadline of each request (default 10 s)
 */

/**
 * The Caucus browser client. See the module documentation.
 */
export class CaucusClient extends EventTarget {
  /** @param {ClientOptions} options */
  constructor(options) {
    super();
    /** @type {Required<Omit<ClientOptions, 'room'|'password'>> & {room?: string, password?: string}} */
    this.options = {
      url: defaultUrl(),
      recvAudio: 3,
      recvVideo: 6,
      iceServers: [],
      iceTransportPolicy: 'all',
      requestTimeoutMs: 10000,
      ...options,
    };
    /** @type {WebSocket|null} */
    this.ws = null;
    /** @type {RTCPeerConnection|null} */
    this.pc = null;
    /** This peer's id (after join). @type {string|null} */
    this.peerId = null;
    /** Whether the join resumed an earlier peer. */
    this.resumed = false;
    /** This peer as the server sees it. @type {PeerInfo|null} */
    this.self = null;
    /** Peers this one may see, by id. @type {Map<string, PeerInfo>} */
    this.peers = new Map();
    /** @type {Permissions|null} */
    this.permissions = null;
    /**
     * The roles of the session's template, highest priority first (from `joined`).
     * @type {readonly RoleInfo[]}
     */
    this.roles = [];
    /** Sources the acting role may publish where I stand (from `joined` and `role_changed`). @type {Source[]|null} */
    this.mayPublish = null;
    /**
     * How my acting role publishes (from `joined` and `role_changed`): per-source caps and
     * whether the camera goes out as simulcast.
     * @type {{allowed?: Source[], video?: SourceCaps, screen?: SourceCaps, simulcast?: boolean}|null}
     */
    this.publishSpec = null;
    /**
     * The STUN/TURN servers of the last `joined` event (TURN credentials expire: each join
     * brings fresh ones, and the media connection is made after it).
     * @type {RTCIceServer[]}
     */
    this.serverIceServers = [];
    /** Resolves `connect`'s wait for the `joined` event. @type {((v: unknown) => void)|null} */
    this.onJoinedEvent = null;
    /** @type {BreakoutSet|null} */
    this.breakouts = null;
    /** `performance.now()` when {@link breakouts} arrived (for the relative `*_in_ms`). */
    this.breakoutsAt = 0;
    /** The `breakouts_closing` countdown: when it ends, in `performance.now()` time. @type {{breakoutId: string|null, endsAt: number}|null} */
    this.closing = null;
    this.locked = false;
    /** Recordings in progress (from `joined` and `recordings`). @type {{id: string, location: string}[]} */
    this.recordings = [];
    this.isBreakout = false;
    /** The breakout this manager listens to. @type {string|null} */
    this.listeningTo = null;
    /** Requests addressed to me that are pending, by id. @type {Map<string, any>} */
    this.requests = new Map();
    /** Receive slots by mid. @type {Map<string, SlotInfo>} */
    this.slots = new Map();
    /** Own published tracks by source: track id and the browser track. @type {Map<Source, {trackId: string, track: MediaStreamTrack, muted: boolean}>} */
    this.published = new Map();
    /** `connecting` | `connected` | `disconnected` | `closed` */
    this.state = 'new';
    /** @type {Map<number, {resolve: (v: any) => void, reject: (e: any) => void, timer: any}>} */
    this.pending = new Map();
    this.nextId = 1;
    /** @type {Map<Source, RTCRtpTransceiver>} */
    this.senders = new Map();
    /** Our own offer is in flight (glare: server offers are ignored meanwhile). */
    this.offering = false;
    /** {@link close} or {@link leave} was called: a closed socket is not a lost one. */
    this.closedByUs = false;
    /** The server said the session ended or removed us: the close that follows (1001 when the
     * server itself stops) is not a lost connection to resume. */
    this.endedByServer = false;
    /** Fires `media_lost` when the media connection stays down. @type {any} */
    this.mediaLostTimer = undefined;
  }

  // ── connection ─────────────────────────────────────────────────────────────────────────

  /**
   * Opens the WebSocket, joins, and negotiates the media connection (resolves when the
   * server has answered the first offer).
   * @returns {Promise<{peer_id: string, resumed: boolean}>}
   */
  async connect() {
    this.closedByUs = false;
    this.endedByServer = false;
    this.setState('connecting');
    const url = new URL(this.options.url);
    if (this.options.room) url.searchParams.set('room', this.options.room);
    const ws = new WebSocket(url.toString());
    this.ws = ws;
    await new Promise((resolve, reject) => {
      ws.onopen = () => resolve(undefined);
      ws.onerror = () => reject(new CaucusError({ code: 'not_connected', message: 'cannot reach the server' }));
    });
    ws.onmessage = (m) => this.onMessage(String(m.data));
    ws.onclose = (e) => this.onClose(e.code, e.reason);
    ws.onerror = null;
    /** @type {any} */
    const join = { type: 'join', token: this.options.token };
    if (this.options.password) join.password = this.options.password;
    // The `joined` event (right after the reply) says how my role publishes and which
    // STUN/TURN servers to use: media waits for it.
    const joinedEvent = new Promise((resolve) => {
      this.onJoinedEvent = resolve;
      setTimeout(resolve, 5000);
    });
    const data = await this.request(join);
    this.peerId = data.joined.peer_id;
    this.resumed = data.joined.resumed;
    await joinedEvent;
    this.onJoinedEvent = null;
    await this.startMedia();
    return data.joined;
  }

  /** Leaves the session (`leave`) and closes everything. */
  async leave() {
    try {
      await this.command({ type: 'leave' });
    } catch {
      // already gone
    }
    this.close();
  }

  /** Closes the socket and the media connection without `leave` (the server keeps the peer for its reconnect grace). */
  close() {
    this.closedByUs = true;
    this.ws?.close();
    this.pc?.close();
    this.pc = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new CaucusError({ code: 'not_connected', message: 'the connection is closed' }));
    }
    this.pending.clear();
    this.setState('closed');
  }

  /**
   * Sends one message and resolves with the reply's `data` (or rejects with a {@link CaucusError}).
   * @param {Record<string, any>} body  the message without `id`
   * @returns {Promise<any>}
   */
  request(body) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new CaucusError({ code: 'not_connected', message: 'not connected to the server' }));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new CaucusError({ code: 'timeout', message: 'the server did not answer in time' }));
      }, this.options.requestTimeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      ws.send(JSON.stringify({ id, ...body }));
    });
  }

  /**
   * Sends a session command (`{"type":"command","command":…}`).
   * @param {Record<string, any>} command
   * @returns {Promise<any>} the reply data (often undefined)
   */
  command(command) {
    return this.request({ type: 'command', command });
  }

  /** @param {string} state */
  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('connection', { state });
  }

  /**
   * @param {string} type
   * @param {any} [detail]
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** @param {string} text */
  onMessage(text) {
    /** @type {any} */
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    switch (msg.type) {
      case 'reply': {
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.ok) p.resolve(msg.data);
        else p.reject(new CaucusError(msg.error));
        return;
      }
      case 'event':
        this.onEvent(msg.event);
        return;
      case 'offer':
        this.onServerOffer(msg.sdp).catch((e) => this.emit('error', { code: 'media', message: String(e) }));
        return;
      case 'slot':
        this.onSlot(msg.mid, msg.track ?? null);
        return;
      case 'error':
        this.emit('error', msg.error);
        return;
      default:
    }
  }

  /**
   * @param {number} code
   * @param {string} reason
   */
  onClose(code, reason) {
    this.pc?.close();
    this.pc = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new CaucusError({ code: 'not_connected', message: 'the connection closed' }));
    }
    this.pending.clear();
    this.setState('closed');
    const resumable = !this.closedByUs && !this.endedByServer && isResumable(code);
    this.emit('closed', { code, reason, resumable });
  }

  /**
   * Joins again after a lost connection, with the same token: the server resumes the same
   * peer, role and location within its reconnect grace, and the media connection starts
   * afresh (own tracks are published again). Rejects like {@link connect}.
   * @returns {Promise<{peer_id: string, resumed: boolean}>}
   */
  reconnect() {
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.onmessage = null;
      this.ws.close();
    }
    this.pc?.close();
    this.pc = null;
    return this.connect();
  }

  // ── the session view ───────────────────────────────────────────────────────────────────

  /** @param {any} ev */
  onEvent(ev) {
    if (ev.type === 'session_ended' || ev.type === 'removed') this.endedByServer = true;
    switch (ev.type) {
      case 'joined':
        this.self = ev.peer;
        this.permissions = ev.permissions;
        this.roles = ev.roles;
        this.mayPublish = ev.may_publish ?? null;
        this.publishSpec = ev.publish ?? null;
        this.serverIceServers = ev.ice_servers ?? [];
        this.onJoinedEvent?.(undefined);
        this.peers = new Map(ev.peers.map((/** @type {PeerInfo} */ p) => [p.id, p]));
        this.setBreakouts(ev.breakouts);
        this.locked = ev.locked;
        this.recordings = ev.recordings ?? [];
        this.isBreakout = ev.is_breakout;
        this.resumed = ev.resumed;
        break;
      case 'peer_joined':
      case 'peer_updated':
        if (ev.peer.id === this.peerId) this.self = ev.peer;
        else this.peers.set(ev.peer.id, ev.peer);
        break;
      case 'peer_left':
        this.peers.delete(ev.peer_id);
        break;
      case 'role_changed':
        if (ev.peer_id === this.peerId || !ev.peer_id) {
          this.permissions = ev.permissions;
          this.mayPublish = ev.may_publish;
          this.publishSpec = ev.publish ?? null;
          if (this.self) {
            this.self.role = ev.role;
            this.self.acting_role = ev.acting_role;
          }
        }
        break;
      case 'peers_moved':
        for (const g of ev.moves) {
          for (const id of g.peers) {
            const p = id === this.peerId ? this.self : this.peers.get(id);
            if (p) p.location = g.to;
          }
        }
        break;
      case 'track_published': {
        const p = this.peerOrSelf(ev.peer_id);
        if (p && !p.tracks.some((t) => t.id === ev.track.id)) p.tracks.push(ev.track);
        break;
      }
      case 'track_unpublished': {
        const p = this.peerOrSelf(ev.peer_id);
        if (p) p.tracks = p.tracks.filter((t) => t.id !== ev.track_id);
        if (ev.peer_id === this.peerId) this.forgetOwnTrack(ev.track_id);
        break;
      }
      case 'track_muted': {
        const p = this.peerOrSelf(ev.peer_id);
        const t = p?.tracks.find((x) => x.id === ev.track_id);
        if (t) t.muted = ev.muted;
        if (ev.peer_id === this.peerId) {
          for (const [, own] of this.published) {
            if (own.trackId === ev.track_id) {
              own.muted = ev.muted;
              // Muted by someone else: stop sending too (the server drops it anyway).
              if (ev.muted) own.track.enabled = false;
            }
          }
        }
        break;
      }
      case 'breakouts':
        this.setBreakouts(ev.state);
        if (ev.state.phase !== 'closing') this.closing = null;
        break;
      case 'breakouts_closing':
        this.closing = { breakoutId: ev.breakout_id ?? null, endsAt: performance.now() + ev.countdown_ms };
        break;
      case 'listening_to':
        this.listeningTo = ev.breakout_id ?? null;
        break;
      case 'room_locked':
        this.locked = ev.locked;
        break;
      case 'recordings':
        this.recordings = ev.active ?? [];
        break;
      case 'request_received':
        this.requests.set(ev.request.id, { ...ev.request, receivedAt: performance.now() });
        break;
      case 'request_resolved':
        this.requests.delete(ev.request_id);
        break;
      case 'help_requested':
        if (this.breakouts) {
          this.breakouts.help = [...(this.breakouts.help ?? []).filter((h) => h.id !== ev.help.id), ev.help];
        }
        break;
      default:
    }
    this.emit(ev.type, ev);
    this.emit('change', ev);
  }

  /** @param {BreakoutSet} set */
  setBreakouts(set) {
    this.breakouts = set;
    this.breakoutsAt = performance.now();
  }

  /**
   * @param {string} id
   * @returns {PeerInfo|undefined}
   */
  peerOrSelf(id) {
    return id === this.peerId ? this.self ?? undefined : this.peers.get(id);
  }

  /**
   * Milliseconds until the breakout timer ends (null without a timer).
   * @returns {number|null}
   */
  timeLeftMs() {
    const ends = this.breakouts?.ends_in_ms;
    if (ends == null) return null;
    return Math.max(0, ends - (performance.now() - this.breakoutsAt));
  }

  /**
   * Milliseconds until a closing countdown that concerns `location` ends (null when none).
   * @param {string} [location]  default: my location
   * @returns {number|null}
   */
  closingInMs(location = this.self?.location) {
    const now = performance.now();
    if (this.closing && (this.closing.breakoutId == null || this.closing.breakoutId === location)) {
      return Math.max(0, this.closing.endsAt - now);
    }
    const room = this.breakouts?.rooms.find((r) => r.id === location);
    if (room?.closes_in_ms != null) return Math.max(0, room.closes_in_ms - (now - this.breakoutsAt));
    return null;
  }

  /**
   * The breakout room I stand in, if any.
   * @returns {BreakoutRoom|null}
   */
  currentBreakout() {
    const loc = this.self?.location;
    if (!loc || loc === 'main') return null;
    return this.breakouts?.rooms.find((r) => r.id === loc) ?? null;
  }

  /** Whether the place I stand in is being recorded. */
  isRecordedHere() {
    const here = this.self?.location ?? 'main';
    return this.recordings.some((r) => r.location === here);
  }

  /**
   * Whether my acting role may publish `source` (true when unknown yet: the server decides).
   * @param {Source} source
   */
  mayPublishSource(source) {
    return this.mayPublish == null || this.mayPublish.includes(source);
  }

  // ── media ──────────────────────────────────────────────────────────────────────────────

  async startMedia() {
    // Made after `joined` (connect waits for it), so the first offer gathers TURN relays too.
    const pc = new RTCPeerConnection({
      iceServers: [...this.options.iceServers, ...this.serverIceServers],
      iceTransportPolicy: this.options.iceTransportPolicy,
      bundlePolicy: 'max-bundle',
    });
    this.pc = pc;
    this.senders.clear();
    this.slots.clear();
    for (const source of SEND_SOURCES) {
      const kind = source === 'audio' ? 'audio' : 'video';
      /** @type {RTCRtpTransceiverInit} */
      const init = { direction: 'sendonly' };
      if (source === 'video' && this.publishSpec?.simulcast) {
        // Three layers, lowest first; the server forwards each receiver the one that fits.
        const top = this.publishSpec.video?.max_bitrate ?? 1_500_000;
        init.sendEncodings = [
          { rid: 'q', scaleResolutionDownBy: 4, maxBitrate: Math.min(150_000, top) },
          { rid: 'h', scaleResolutionDownBy: 2, maxBitrate: Math.min(500_000, top) },
          { rid: 'f', maxBitrate: top },
        ];
      }
      this.senders.set(source, pc.addTransceiver(kind, init));
    }
    for (let i = 0; i < this.options.recvAudio; i++) pc.addTransceiver('audio', { direction: 'recvonly' });
    for (let i = 0; i < this.options.recvVideo; i++) pc.addTransceiver('video', { direction: 'recvonly' });
    pc.onconnectionstatechange = () => {
      if (this.pc !== pc) return;
      const s = pc.connectionState;
      clearTimeout(this.mediaLostTimer);
      if (s === 'connected') this.setState('connected');
      else if (s === 'failed' || s === 'disconnected') {
        this.setState('disconnected');
        // A changed network (a new NAT mapping, UDP suddenly blocked) leaves the media path
        // dead while signaling may live on: after a short grace (a blip heals by itself)
        // the app is told, and reconnecting starts a fresh media connection, which finds
        // whatever path works now (UDP, ICE-TCP, TURN) for the same peer, role and place.
        const wait = s === 'failed' ? 0 : MEDIA_LOST_AFTER_MS;
        this.mediaLostTimer = setTimeout(() => {
          if (this.pc === pc && pc.connectionState !== 'connected') this.emit('media_lost', { state: pc.connectionState });
        }, wait);
      }
    };
    pc.ontrack = (e) => {
      const mid = e.transceiver.mid;
      if (mid == null) return;
      const slot = this.slots.get(mid);
      if (slot && !slot.mediaTrack) {
        slot.mediaTrack = e.track;
        this.emit('slot', slot);
      }
    };
    await this.offer();
    // Tracks published before a reconnect are sent again.
    for (const [source, own] of [...this.published]) {
      this.published.delete(source);
      await this.publish(source, own.track, { muted: own.muted }).catch(() => {});
    }
  }

  /** Offers (first offer, or a renegotiation) and applies the server's answer. */
  async offer() {
    const pc = this.pc;
    if (!pc) throw new CaucusError({ code: 'not_connected', message: 'no media connection' });
    this.offering = true;
    try {
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const data = await this.request({ type: 'offer', sdp: pc.localDescription?.sdp ?? offer.sdp });
      await pc.setRemoteDescription({ type: 'answer', sdp: data.answer.sdp });
    } finally {
      this.offering = false;
    }
    this.refreshSlotTracks();
  }

  /** @param {string} sdp */
  async onServerOffer(sdp) {
    const pc = this.pc;
    if (!pc) return;
    if (this.offering || pc.signalingState !== 'stable') return; // glare: the client wins
    await pc.setRemoteDescription({ type: 'offer', sdp });
    const answer = await pc.createAnswer();
    await pc.setLocalDescription(answer);
    await this.request({ type: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp });
    this.refreshSlotTracks();
  }

  /** Attaches browser tracks to slots labelled before their m-line was negotiated. */
  refreshSlotTracks() {
    for (const slot of this.slots.values()) {
      if (!slot.mediaTrack) {
        const t = this.transceiverByMid(slot.mid);
        if (t) {
          slot.mediaTrack = t.receiver.track;
          this.emit('slot', slot);
        }
      }
    }
  }

  /**
   * @param {string} mid
   * @returns {RTCRtpTransceiver|undefined}
   */
  transceiverByMid(mid) {
    return this.pc?.getTransceivers().find((t) => t.mid === mid);
  }

  /**
   * @param {string} mid
   * @param {{peer_id: string, track_id: string, source: Source}|null} track
   */
  onSlot(mid, track) {
    const t = this.transceiverByMid(mid);
    const kind = /** @type {'audio'|'video'} */ (t?.receiver.track.kind ?? (track && (track.source === 'audio' || track.source === 'screen_audio') ? 'audio' : 'video'));
    /** @type {SlotInfo} */
    const slot = { mid, kind, track, mediaTrack: t ? t.receiver.track : null };
    this.slots.set(mid, slot);
    this.emit('slot', slot);
  }

  /**
   * The slot showing `source` of `peerId`, if any.
   * @param {string} peerId
   * @param {Source} source
   * @returns {SlotInfo|undefined}
   */
  slotFor(peerId, source) {
    for (const s of this.slots.values()) {
      if (s.track && s.track.peer_id === peerId && s.track.source === source) return s;
    }
    return undefined;
  }

  /**
   * Publishes a browser track as `source`: puts it on the source's sending m-line and
   * announces it (`publish`). Refusals: `publish_not_allowed`, `already_exists`.
   * @param {Source} source
   * @param {MediaStreamTrack} track
   * @param {{muted?: boolean}} [opts]
   * @returns {Promise<string>} the track id
   */
  async publish(source, track, opts = {}) {
    const transceiver = this.senders.get(source === 'screen_audio' ? 'audio' : source);
    if (!transceiver || transceiver.mid == null) {
      throw new CaucusError({ code: 'not_connected', message: 'the media connection is not ready' });
    }
    if (this.published.has(source)) await this.unpublish(source);
    const muted = !!opts.muted;
    await transceiver.sender.replaceTrack(track);
    track.enabled = !muted;
    await this.applyCaps(source, track, transceiver.sender);
    try {
      const data = await this.request({ type: 'publish', source, mid: transceiver.mid, muted });
      const trackId = data.published.track_id;
      this.published.set(source, { trackId, track, muted });
      this.emit('published', { source, trackId });
      return trackId;
    } catch (e) {
      await transceiver.sender.replaceTrack(null);
      throw e;
    }
  }

  /**
   * Keeps a published picture within my role's caps (`publish.video` / `publish.screen`):
   * size and frame rate on the track, bitrate on every encoding. Best effort: a browser that
   * cannot apply a constraint sends what it can.
   * @param {Source} source
   * @param {MediaStreamTrack} track
   * @param {RTCRtpSender} sender
   */
  async applyCaps(source, track, sender) {
    const caps = source === 'video' ? this.publishSpec?.video : source === 'screen' ? this.publishSpec?.screen : null;
    if (!caps) return;
    await track.applyConstraints({
      width: { max: caps.max_width },
      height: { max: caps.max_height },
      frameRate: { max: caps.max_fps },
    }).catch(() => {});
    const params = sender.getParameters();
    for (const encoding of params.encodings ?? []) {
      if (!encoding.maxBitrate || encoding.maxBitrate > caps.max_bitrate) encoding.maxBitrate = caps.max_bitrate;
    }
    await sender.setParameters(params).catch(() => {});
  }

  /**
   * Stops publishing `source` (the browser track is not stopped; the caller owns it).
   * @param {Source} source
   */
  async unpublish(source) {
    const own = this.published.get(source);
    if (!own) return;
    this.published.delete(source);
    await this.senders.get(source)?.sender.replaceTrack(null);
    try {
      await this.command({ type: 'unpublish', track_id: own.trackId });
    } catch (e) {
      if (!(e instanceof CaucusError && e.code === 'unknown_track')) throw e;
    }
    this.emit('unpublished', { source, trackId: own.trackId });
  }

  /**
   * Mutes or unmutes an own published source (stops sending, then tells the server).
   * @param {Source} source
   * @param {boolean} muted
   */
  async setMuted(source, muted) {
    const own = this.published.get(source);
    if (!own) throw new CaucusError({ code: 'unknown_track', message: `${source} is not published` });
    if (muted) own.track.enabled = false;
    await this.command({ type: 'set_muted', track_id: own.trackId, muted });
    own.muted = muted;
    if (!muted) own.track.enabled = true;
  }

  /**
   * Asks for at most `maxWidth` × `maxHeight` of a remote camera (the size of its tile): of a
   * simulcast camera the server forwards the best layer that fits.
   * @param {string} trackId
   * @param {number} maxWidth
   * @param {number} maxHeight
   */
  async setVideoSize(trackId, maxWidth, maxHeight) {
    await this.request({ type: 'video_size', track_id: trackId, max_width: maxWidth, max_height: maxHeight });
  }

  /** @param {string} trackId */
  forgetOwnTrack(trackId) {
    for (const [source, own] of this.published) {
      if (own.trackId === trackId) {
        this.published.delete(source);
        this.senders.get(source)?.sender.replaceTrack(null).catch(() => {});
        this.emit('unpublished', { source, trackId });
      }
    }
  }

  /**
   * Receive statistics per slot (what is actually decoding), mapped to peers by the slot labels.
   * @returns {Promise<SlotStats[]>}
   */
  async receiveStats() {
    const pc = this.pc;
    if (!pc) return [];
    const report = await pc.getStats();
    /** @type {SlotStats[]} */
    const out = [];
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const mid = s.mid ?? this.midOfTrackIdentifier(report, s);
      if (mid == null) return;
      const slot = this.slots.get(mid);
      out.push({
        mid,
        kind: s.kind,
        peerId: slot?.track?.peer_id ?? null,
        source: slot?.track?.source ?? null,
        framesDecoded: s.framesDecoded ?? 0,
        packetsReceived: s.packetsReceived ?? 0,
        bytesReceived: s.bytesReceived ?? 0,
        audioLevel: s.audioLevel ?? 0,
      });
    });
    return out;
  }

  /**
   * Older browsers lack `mid` on inbound-rtp: find it through the receiver's track.
   * @param {RTCStatsReport} _report
   * @param {any} s
   * @returns {string|null}
   */
  midOfTrackIdentifier(_report, s) {
    const t = this.pc?.getTransceivers().find((x) => x.receiver.track.id === s.trackIdentifier);
    return t?.mid ?? null;
  }

  // ── commands (one method each; see docs/protocol.md) ───────────────────────────────────

  /** Keep-alive: resolves when the server answers. */
  ping() { return this.request({ type: 'ping' }); }

  /** @param {{name?: string, metadata?: any}} fields */
  updateSelf(fields) { return this.command({ type: 'update_self', ...fields }); }
  /** @param {boolean} raised @param {string} [peerId] lower someone else's hand (needs `mute_others`) */
  setHand(raised, peerId) { return this.command({ type: 'set_hand', raised, ...(peerId ? { peer_id: peerId } : {}) }); }
  /** @param {string} peerId @param {Source} [source] all sources when absent */
  mutePeer(peerId, source) { return this.command({ type: 'mute_peer', peer_id: peerId, ...(source ? { source } : {}) }); }
  /** @param {string} peerId @param {Source} source */
  askUnmute(peerId, source) { return this.command({ type: 'ask_unmute', peer_id: peerId, source }); }
  /** @param {string} peerId @param {string} role @param {boolean} [force] a request the peer accepts unless forced */
  changeRole(peerId, role, force = false) { return this.command({ type: 'change_role', peer_id: peerId, role, force }); }
  /** @param {string[]} fromRoles @param {string} toRole */
  changeRoles(fromRoles, toRole) { return this.command({ type: 'change_roles', from_roles: fromRoles, to_role: toRole }); }
  /** @param {string} peerId @param {Location} to `main` or a breakout id @param {boolean} [force] */
  movePeer(peerId, to, force = true) { return this.command({ type: 'move_peer', peer_id: peerId, to, force }); }
  /** @param {string} requestId @param {boolean} accept */
  respondRequest(requestId, accept) { return this.command({ type: 'respond_request', request_id: requestId, accept }); }
  /** @param {string} peerId @param {string} [reason] */
  removePeer(peerId, reason) { return this.command({ type: 'remove_peer', peer_id: peerId, ...(reason ? { reason } : {}) }); }
  /** @param {{reason?: string, lock?: boolean}} [opts] */
  endSession(opts = {}) { return this.command({ type: 'end_session', lock: false, ...opts }); }
  /** @param {boolean} locked */
  setLocked(locked) { return this.command({ type: 'set_locked', locked }); }
  /** @param {ChatTarget} to @param {string} text */
  chat(to, text) { return this.command({ type: 'chat', to, text }); }
  /** @param {boolean} on */
  setBroadcasting(on) { return this.command({ type: 'set_broadcasting', on }); }
  /** @param {string|null} breakoutId null stops listening */
  listenIn(breakoutId) { return this.command({ type: 'listen_in', ...(breakoutId ? { breakout_id: breakoutId } : {}) }); }
  /** @param {string} breakoutId @param {string} [password] */
  joinBreakout(breakoutId, password) { return this.command({ type: 'join_breakout', breakout_id: breakoutId, ...(password ? { password } : {}) }); }
  returnToMain() { return this.command({ type: 'return_to_main' }); }
  /** @returns {Promise<{help_requested: {help_id: string}}>} */
  requestHelp() { return this.command({ type: 'request_help' }); }

  // ── breakout operations (`manage_breakouts`) ───────────────────────────────────────────

  /**
   * One breakout operation. `version` is sent when given (a stale one is `stale_version`).
   * @param {string} op
   * @param {Record<string, any>} [fields]
   * @param {number} [version]
   */
  breakoutOp(op, fields = {}, version) {
    return this.command({ type: 'breakouts', op, ...fields, ...(version != null ? { version } : {}) });
  }
  /** @param {{count?: number, names?: string[], capacity?: number}} spec @returns {Promise<{breakouts_created: {rooms: string[]}}>} */
  createBreakouts(spec) { return this.breakoutOp('create', spec); }
  /** @param {string} breakoutId @param {{name?: string, capacity?: number|null, password?: string|null, visibility?: Visibility}} fields */
  updateBreakout(breakoutId, fields) { return this.breakoutOp('update', { breakout_id: breakoutId, ...fields }, this.breakouts?.version); }
  /** @param {string} breakoutId */
  removeBreakout(breakoutId) { return this.breakoutOp('remove', { breakout_id: breakoutId }, this.breakouts?.version); }
  /** @param {BreakoutOptions} options */
  setBreakoutOptions(options) { return this.breakoutOp('set_options', { options }); }
  /** @param {Record<string, string>} assignments peer id or user id → breakout id or `main` */
  assign(assignments) { return this.breakoutOp('assign', { assignments }); }
  /** @param {{exclude_roles?: string[], seed?: number, keep_previous?: boolean}} [opts] */
  autoAssign(opts = {}) { return this.breakoutOp('auto', { keep_previous: false, ...opts }); }
  /** @param {Record<string, string>} byUserId */
  preassign(byUserId) { return this.breakoutOp('preassign', { by_user_id: byUserId }); }
  /** @param {number} [durationS] */
  openBreakouts(durationS) { return this.breakoutOp('open', durationS ? { duration_s: durationS } : {}); }
  /** @param {{countdown_s?: number, breakout_id?: string}} [opts] absent `breakout_id`: all */
  closeBreakouts(opts = {}) { return this.breakoutOp('close', opts); }
  /** @param {number} seconds */
  extendBreakouts(seconds) { return this.breakoutOp('extend', { seconds }); }
  /** @param {string} text */
  broadcast(text) { return this.breakoutOp('broadcast', { text }); }
  /** @param {string} helpId */
  claimHelp(helpId) { return this.breakoutOp('claim_help', { help_id: helpId }); }
  /** @param {string} helpId */
  dismissHelp(helpId) { return this.breakoutOp('dismiss_help', { help_id: helpId }); }
}

/**
 * Whether a connection closed with `code` may be resumed by joining again: not after `leave`,
 * removal or the end of the session (1000), nor when a newer connection took the peer (4000).
 * @param {number} code
 */
export function isResumable(code) {
  return code !== 1000 && code !== 4000;
}

/** `ws(s)://<this host>/v1/rtc`. */
function defaultUrl() {
  if (typeof location === 'undefined') return 'ws://127.0.0.1:7880/v1/rtc';
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/rtc`;
}

/**
 * A human sentence for an error code, for the UI (falls back to the server's message).
 * @param {any} err
 * @returns {string}
 */
export function describeError(err) {
  const code = err?.code;
  /** @type {Record<string, string>} */
  const text = {
    not_permitted: 'Your role is not allowed to do that.',
    publish_not_allowed: 'Your role may not share this here.',
    room_locked: 'The room is locked.',
    wrong_password: 'Wrong password.',
    self_select_disabled: 'Choosing a room yourself is not enabled.',
    return_to_main_disabled: 'Returning to the main room is not allowed right now.',
    breakout_full: 'That room is full.',
    breakouts_not_open: 'Breakout rooms are not open yet.',
    breakouts_closing: 'Breakout rooms are closing.',
    breakout_closed: 'That room is closed.',
    stale_version: 'Someone else changed the breakout rooms meanwhile; the view is up to date now — please try again.',
    no_timer: 'There is no running timer to extend.',
    already_there: 'Already there.',
    token_expired: 'This join link has expired. Ask the host for a new one.',
    token_invalid: 'This join link is not valid.',
    unauthorized: 'This join link is not valid for this room.',
    role_full: 'No more places for this role.',
    capacity_exceeded: 'The meeting is full.',
    session_ended: 'The meeting has ended.',
    rate_limited: 'Too many actions at once; slow down a little.',
    not_connected: 'Not connected to the server.',
    invalid_name: 'That name is not valid.',
    invalid_id: 'That id is not valid (letters, digits, -, _ and inner dots only).',
    duplicate_name: 'Another room already has that name.',
    unknown_peer: 'That participant has left.',
    unknown_breakout: 'There is no such breakout room (any more).',
  };
  return (code && text[code]) || err?.message || String(err);
}
