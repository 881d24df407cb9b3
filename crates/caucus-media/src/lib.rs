//! # caucus-media — the SFU engine, sans IO
//!
//! **What it is.** A deterministic state machine that terminates WebRTC for many peers on
//! one UDP socket and forwards RTP between them: one [str0m] `Rtc` per peer (ICE-lite,
//! DTLS-SRTP, RTP mode — packets are forwarded without depacketizing), a demux table, a
//! timer queue, per-track fan-out lists and per-slot SSRC/sequence/timestamp rewriting.
//!
//! **What it is not.** It does no socket IO, spawns no threads, has no async runtime and
//! never reads the clock (`now: Instant` is always an argument; `clippy.toml` forbids
//! `Instant::now`, `SystemTime::now`, `thread::spawn`, `UdpSocket::bind`). It does not
//! decide *who* may receive *what*: the core computes each peer's desired subscriptions
//! and the shell hands them over with [`Engine::set_subscriptions`]. It does not speak the
//! signaling protocol: SDP goes in and out as strings.
//!
//! ## Driving it
//!
//! ```text
//! shell loop                                   engine
//! ──────────                                   ──────
//! HTTP/WS: client offer ──────────────────────▶ add_peer(now, key, offer)  → answer SDP
//! core: desired set changed ─────────────────▶ set_subscriptions(now, key, tracks)
//! tile size / role caps changed ─────────────▶ set_max_layer(now, key, track, max)
//! WS: client answer ──────────────────────────▶ handle_answer(now, key, answer)
//! WS: client re-offer ────────────────────────▶ handle_offer(now, key, offer) → answer
//! UDP datagram / ICE-TCP frame ───────────────▶ handle_receive(now, transport, src, dst, bytes)
//! timer fired ────────────────────────────────▶ handle_timeout(now)
//! after every call: while let Some(o) = poll_output() {
//!     Transmit  → socket.send_to(contents, destination)
//!     Event     → NeedsOffer → send offer to client; TrackPublished/Ended → core; …
//! }
//! sleep until poll_timeout() or the next datagram/command
//! ```
//!
//! Every call is cheap to reason about: it touches the addressed peer, plus the peers a
//! forwarded packet or keyframe request reaches, and nothing else.
//!
//! ## Design notes
//!
//! **Demux (no linear scan).** str0m's `examples/chat.rs` asks every `Rtc` whether it
//! `accepts()` a datagram. Here a datagram is routed by source address (a `HashMap`),
//! falling back to the local ICE ufrag parsed from a STUN `USERNAME`
//! (`<server ufrag>:<client ufrag>`). Addresses are learned when a peer's `Rtc`
//! *transmits* to them: an ICE-lite str0m only answers binding requests whose
//! `MESSAGE-INTEGRITY` checked out, so that is proof of ownership; a spoofed STUN with a
//! guessed ufrag teaches the table nothing. The routed peer's `accepts()` is still asked
//! (O(1)) as a guard. Unparseable datagrams, unknown sources and datagrams the peer's
//! `Rtc` rejects are dropped and counted ([`Counters`]); a rejected datagram never ends
//! the peer (that would let a spoofer kill a connection) — only a dead `Rtc` does.
//!
//! **Timers (no sweep).** Each peer's next str0m timeout sits in a `BTreeSet<(Instant,
//! PeerKey)>`; `handle_timeout` pops only the due ones. A packet never causes a sweep
//! over all peers.
//!
//! **str0m's single-mutation rule.** Every mutation of an `Rtc` is followed by a full
//! drain of `poll_output`. Draining only *queues* str0m events; a work loop then acts on
//! them (write to subscribers, request keyframes, …), each action again followed by a
//! drain of the peer it mutated. Nothing recurses, and one peer's failure is a queued
//! `Gone` item, not a panic or an early return for everyone.
//!
//! **Subscriptions: default deny, slots, recycling.** A subscriber holds *slots*: send
//! m-lines on its connection. Forwarding follows only the fan-out list of each track,
//! which contains exactly the subscribers whose current desired set includes it. On
//! `set_subscriptions`:
//! 1. tracks that left the set are removed from the fan-out **immediately** (the next
//!    packet is not forwarded) and their slots become free (`SlotAssigned { track: None }`);
//! 2. tracks that joined take a free slot of their kind — no SDP at all, the client learns
//!    the new mapping from `SlotAssigned { mid, track }` — or, if none is free, a new
//!    `sendonly` m-line is added and one server offer is emitted (`NeedsOffer`); at most one
//!    offer is outstanding per peer, further changes are batched into the next one.
//!
//! The `recvonly` m-lines of the client's offer are slots from `add_peer` (and
//! `handle_offer`) on, not only once the connection is up (str0m announces media only
//! then): a subscription set right after `add_peer` takes them without an offer, slot
//! assignments are announced at once, and packets flow from the moment the connection is
//! up (nothing is written to a peer before that).
//!
//! **Slot bound.** At most `EngineConfig::max_audio_slots` audio and `max_video_slots`
//! video tracks (16 + 16 by default) are forwarded to one subscriber. The desired set is
//! taken *in the order given* — the shell orders it by priority — and the tracks beyond
//! the bound are left out and counted ([`Counters::subscriptions_over_limit`],
//! [`Engine::subscriptions_over_limit`]). So the m-lines of a connection never exceed
//! the bound (or the pool the client offered, if larger).
//!
//! Freed slots are *reused*, never stopped: str0m's `SdpApi` cannot recycle stopped
//! m-lines into new ones, and a silent `sendonly` m-line costs nothing on the wire. This
//! is the **receive-slot pool**: a client may offer `recvonly` m-lines
//! up front (say 3 audio + 6 video) and the engine fills them by rewriting, so most moves
//! between breakout rooms need no SDP round trip, and m-lines per connection stay bounded
//! by the largest set ever shown. Trade-off: a slot's `msid` cannot name the publisher,
//! so lip-sync grouping of a publisher's audio and video is lost; the client relies on
//! `SlotAssigned` to label tiles. (Future: set long-idle slots `inactive` in the next
//! renegotiation that happens anyway.)
//!
//! **Rewriting.** Each slot owns one outgoing str0m `StreamTx` (its own SSRC). Incoming
//! packets are mapped onto it with a per-slot offset for the extended sequence number and
//! one for the timestamp; on a source switch the sequence continues at the next number
//! and the timestamp advances by the wall time since the last packet, so the receiver's
//! jitter buffer and SRTP context carry on. Packets of the new source older than its
//! first forwarded one are dropped (they would collide). Payload types are mapped by
//! codec (`CodecConfig::match_params`), cached per slot. The audio-level,
//! voice-activity and video-orientation header extensions are passed through.
//!
//! **Keyframes.** A PLI/FIR from a subscriber's slot is routed to the publisher of the
//! track the slot shows — to the simulcast layer the slot forwards — at most one per
//! `keyframe_request_interval` (500 ms) per publisher layer; the rest are counted as
//! throttled. A slot switching to a video track asks for a keyframe too (same throttle).
//! NACK/RTX are str0m's: video is written `nackable`, so str0m answers subscriber NACKs
//! from its RTX cache (tested end to end: a packet lost between engine and subscriber is
//! resent with its sequence number), and str0m NACKs the publisher for packets lost
//! upstream. A slot that stops showing a track forgets what it sent (its send stream's
//! RTX cache is made anew), so a late NACK — or a padding probe — can never bring back a
//! packet of a track that has left the subscriber's set, even once the slot shows
//! another track on the same SSRC. Keyframes are recognised in the payload without depacketizing
//! (`keyframe.rs`): VP8 (descriptor S=1, PID=0, frame tag P=0, plus the picture size
//! from the keyframe header), VP9 (B=1, P=0) and H.264 (IDR/SPS, single, STAP-A or
//! FU-A start). Other codecs count as "unknown", and a layer switch then happens at once.
//!
//! **Muted tracks cost nothing.** A muted publisher sends (almost) nothing; on top of
//! that [`Engine::set_track_paused`] drops a track's packets on arrival, before fan-out.
//!
//! **Simulcast.** A video m-line offered with `a=simulcast` becomes one track with several
//! *layers* (rids). Layers are ordered by picture size once every layer's is known (from
//! VP8 keyframes or `a=rid` `max-width`/`max-height`), before that by the usual names
//! (`q`<`h`<`f`, `l`<`m`<`h`, `low`<`mid`<`high`, trailing digits) or SDP order. Each
//! layer tracks its bitrate (1 s windows) and whether it is arriving: a layer silent for
//! `layer_timeout` (1.5 s) counts as stopped. Every (subscriber, track) slot forwards
//! exactly one layer, chosen by [`Engine::set_max_layer`] ([`MaxLayer::Quality`] or
//! [`MaxLayer::Resolution`] — the best layer whose picture fits the box; default: the
//! highest), only among layers arriving (fallback: the best one ≤ the hint, else the
//! lowest arriving), and — when bandwidth estimation is on — within str0m's
//! `EgressBitrateEstimate` for that subscriber: audio and plain video are reserved
//! first, every simulcast slot gets its lowest layer, then slots are upgraded in the
//! priority order of the desired set (moving up needs 15 % headroom). Choices are redone
//! when a hint, an estimate, a layer's activity or the layer order changes.
//!
//! A changed choice is a *target*: the slot keeps forwarding its current layer, a PLI for
//! the target layer goes out (repeated, quietly throttled, while waiting), and the slot
//! switches at the first packet that starts a keyframe of the target layer. Packets of
//! other layers are never forwarded, so layers do not mix in a slot, and the rewriter
//! (the layer's SSRC is a new source) keeps sequence numbers and timestamps continuous.
//! A slot starts (after subscribing) at a keyframe of its target layer too. Tracks
//! without simulcast are forwarded from their first packet, as before.
//!
//! **Bandwidth estimation** (`EngineConfig::bandwidth_estimation`, the starting rate; off
//! when `None`) runs str0m's send-side estimator (delay and loss from transport-wide
//! feedback) towards every peer. Until a layer's rate is measured it is not chosen under a
//! budget (the lowest layer serves meanwhile). After each allocation str0m is told what to
//! look for: *desired* is the rate of every slot at its best layer ignoring the budget (it
//! probes towards it) and *minimum* the current allocation plus the next upgrade with its
//! headroom (it pads up to it, so the estimate can grow past what is sent and a subscriber
//! held down moves back up when its link widens). Between feedback reports str0m's delay
//! controller asks to be woken one round-trip time later — under a millisecond on a LAN or
//! loopback, zero in simulated time — so the engine holds those wake-ups to at least 25 ms
//! (the controller's own update interval) while video is sent to the peer, and to 500 ms
//! while none is (the estimate then decides nothing); other deadlines are kept as they
//! are. Forwarded streams are unpaced: str0m's pacer would hold video back to the estimate
//! (hundreds of milliseconds for a track that has no lower layer); it still sends padding
//! and probes when nothing is queued.
//! `tests/bandwidth.rs` runs this against bottleneck links (a queue drained at a set rate,
//! tail drop).
//!
//! **Recording tap.** [`Engine::set_recording`] gives a recording (a key the shell picks)
//! its complete set of tracks, as `set_subscriptions` does for a subscriber, and with the
//! same default deny: only packets of tracks in a recording's current set come out, as
//! [`EngineOutput::Recorded`] — decrypted, as the publisher sent them (sequence number,
//! timestamp, marker, payload type and codec), one output per recording, the payload shared
//! rather than copied. A paused (muted) track is not tapped. A video track joining a set gets
//! a keyframe request (throttled like any other), so its file can start soon. Of a simulcast
//! track the best layer at the time recording starts is recorded, and only that one (mixing
//! layers would mix sequence spaces); if that layer stops, the recording of it stalls.
//!
//! **Errors.** Commands return [`MediaError`]; network input never errors. str0m panics
//! only on its own bugs (its policy); the engine has no `unwrap` outside tests.
//!
//! ## Layout
//!
//! [`Engine`] (`engine.rs`) is the public API and the work loop; it owns its parts and
//! drives them, each in its own file with a small crate-private API, in the manner of
//! str0m's own `Rtc`:
//! - `driver.rs` — draining each `Rtc` after a mutation: transmits (teaching the demux
//!   table, `demux.rs`), the next deadline (into `timers.rs`), queued events for the work
//!   loop, and the outputs for the shell;
//! - `peer.rs` — one connection: its `Rtc`, its published m-lines and its slots
//!   (`slot.rs`: one send m-line with its layer gate and payload-type map; `rewrite.rs`:
//!   its sequence and timestamp rewriting);
//! - `tracks.rs` / `track.rs` — the published tracks, their fan-out lists and their
//!   simulcast layers (`layer.rs`);
//! - `recording.rs` — the recording tap; `allocate.rs` — layer choice within a
//!   subscriber's bandwidth; `keyframe.rs` — recognising keyframes in payloads;
//! - `engine/forward.rs` (the per-packet path), `engine/subscriptions.rs` (slots and
//!   renegotiation) and `engine/keyframes.rs` (keyframe requests and their throttle) —
//!   the engine's own steps that cross those tables.
//!
//! [str0m]: https://docs.rs/str0m/0.25

mod allocate;
mod config;
mod counters;
mod demux;
mod driver;
mod engine;
mod error;
mod ids;
mod incoming;
mod keyframe;
mod layer;
mod output;
mod peer;
mod recording;
mod rewrite;
mod sdp_candidates;
mod slot;
mod stun_username;
mod timers;
mod track;
mod tracks;
mod transport;

pub use config::EngineConfig;
pub use counters::Counters;
pub use engine::Engine;
pub use error::MediaError;
pub use ids::{Codec, MediaKind, PeerKey, RecordingKey, TrackKey};
pub use layer::{MaxLayer, Quality};
pub use output::{DisconnectReason, EngineEvent, EngineOutput, RecordedPacket, Transmit};
pub use transport::{LocalCandidate, Transport};
