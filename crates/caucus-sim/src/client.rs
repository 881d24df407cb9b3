//! One simulated participant: a signaling side that speaks `caucus_proto::signal` messages to
//! its room (through the world, which delays them), and a plain str0m `Rtc` media side that
//! sends synthetic payloads `"<client>/<audio|video>/<n>"` and logs what it receives.
//!
//! The client also keeps what it has been *told*: the peers and tracks its events named. The
//! world checks every later event against that (an event must not name a peer or track its
//! receiver was never introduced to).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use caucus_proto::signal::{ClientBody, ClientMessage, ReplyData, ServerMessage};
use caucus_proto::{PeerId, ServerEvent, Source, TrackId};
use caucus_room::ConnId;
use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::{ExtensionValues, RtpWrite};
use str0m::{Candidate, Event, Input, Output, Rtc};

/// Audio or video, as the synthetic payload names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Audio,
    Video,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Audio => "audio",
            Kind::Video => "video",
        }
    }

    pub fn of(source: Source) -> Option<Kind> {
        match source {
            Source::Audio => Some(Kind::Audio),
            Source::Video => Some(Kind::Video),
            _ => None,
        }
    }

    pub fn source(self) -> Source {
        match self {
            Kind::Audio => Source::Audio,
            Kind::Video => Source::Video,
        }
    }
}

/// What a message the client sent was, so its reply can be understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Sent {
    Offer,
    Answer,
    Publish(Source),
    /// A session command, with a label for the report.
    Command(String),
}

/// One RTP packet received: when, from which client, which kind, which number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub at: Duration,
    pub from: String,
    pub kind: Kind,
    pub n: u64,
}

/// A violation of "no event names what its receiver may not know".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unknown {
    pub at: Duration,
    pub what: String,
    /// A `track_unpublished` for a track the receiver was never told of.
    pub track_unpublished: bool,
    /// A `slot` or `track_muted` naming a track the receiver was never told of.
    pub slot: bool,
}

#[derive(Debug)]
pub struct Client {
    /// Simulated time zero as an `Instant` (str0m's clock).
    base: Instant,
    pub name: String,
    pub user: String,
    pub role: String,
    pub room: usize,
    pub addr: SocketAddr,
    /// The signaling connection, while there is one.
    pub conn: Option<ConnId>,
    pub peer: Option<PeerId>,
    next_message: u64,
    pub pending: BTreeMap<u64, Sent>,
    /// Messages for the room, in order; the world carries them.
    pub outbox: Vec<ClientMessage>,
    /// Datagrams for the network.
    pub transmits: Vec<(SocketAddr, SocketAddr, Vec<u8>)>,
    rtc: Option<Rtc>,
    pending_offer: Option<SdpPendingOffer>,
    pub answered: bool,
    audio_mid: Option<Mid>,
    video_mid: Option<Mid>,
    pub rtc_timeout: Option<Duration>,
    /// ICE and DTLS are up on the current `Rtc`.
    pub media_up: bool,
    pub may_publish: Vec<Source>,
    /// Sources announced: `None` while the `publish` is unanswered.
    pub published: BTreeMap<Source, Option<TrackId>>,
    pub muted: BTreeSet<Source>,
    pub known_peers: BTreeSet<PeerId>,
    pub known_tracks: BTreeSet<(PeerId, TrackId)>,
    sent_count: [u64; 2],
    /// When each packet was sent, by kind and number.
    pub sent_at: [Vec<Duration>; 2],
    pub received: Vec<Packet>,
    pub unknown: Vec<Unknown>,
    /// Replies with `ok: false`, by message id.
    pub refused: Vec<(u64, Sent)>,
    pub accepted_commands: u64,
}

impl Client {
    pub fn new(name: String, role: String, room: usize, addr: SocketAddr, base: Instant) -> Self {
        Client {
            base,
            user: name.clone(),
            name,
            role,
            room,
            addr,
            conn: None,
            peer: None,
            next_message: 1,
            pending: BTreeMap::new(),
            outbox: Vec::new(),
            transmits: Vec::new(),
            rtc: None,
            pending_offer: None,
            answered: false,
            audio_mid: None,
            video_mid: None,
            rtc_timeout: None,
            media_up: false,
            may_publish: Vec::new(),
            published: BTreeMap::new(),
            muted: BTreeSet::new(),
            known_peers: BTreeSet::new(),
            known_tracks: BTreeSet::new(),
            sent_count: [0; 2],
            sent_at: [Vec::new(), Vec::new()],
            received: Vec::new(),
            unknown: Vec::new(),
            refused: Vec::new(),
            accepted_commands: 0,
        }
    }

    pub fn is_online(&self) -> bool {
        self.conn.is_some() && self.peer.is_some()
    }

    /// Queue a message for the room; returns its id.
    pub fn say(&mut self, body: ClientBody, what: Sent) -> u64 {
        self.next_message += 1;
        let id = self.next_message;
        self.pending.insert(id, what);
        self.outbox.push(ClientMessage { id, body });
        id
    }

    /// The connection is gone: forget the media side and everything it was told.
    pub fn drop_connection(&mut self) {
        self.conn = None;
        self.peer = None;
        self.rtc = None;
        self.pending_offer = None;
        self.answered = false;
        self.audio_mid = None;
        self.video_mid = None;
        self.rtc_timeout = None;
        self.media_up = false;
        self.published.clear();
        self.muted.clear();
        self.pending.clear();
        self.outbox.clear();
        self.known_peers.clear();
        self.known_tracks.clear();
    }

    /// A frame from the room.
    pub fn on_message(&mut self, now: Duration, message: ServerMessage) {
        match message {
            ServerMessage::Reply { id, ok, data, .. } => self.on_reply(now, id, ok, data),
            ServerMessage::Event { event } => self.on_event(now, &event),
            ServerMessage::Offer { sdp } => self.on_server_offer(now, &sdp),
            ServerMessage::Slot { mid, track } => {
                if let Some(t) = track
                    && !self.known_tracks.contains(&(t.peer_id, t.track_id))
                {
                    self.unknown.push(Unknown {
                        at: now,
                        what: format!(
                            "slot {mid} names unknown track {}/{}",
                            t.peer_id, t.track_id
                        ),
                        track_unpublished: false,
                        slot: true,
                    });
                }
            }
            ServerMessage::Error { .. } => {}
        }
    }

    fn on_reply(&mut self, now: Duration, id: u64, ok: bool, data: Option<ReplyData>) {
        let Some(what) = self.pending.remove(&id) else {
            return;
        };
        if !ok {
            if let Sent::Publish(source) = &what {
                self.published.remove(source);
            }
            self.refused.push((id, what));
            return;
        }
        match (what, data) {
            (Sent::Offer, Some(ReplyData::Answer { sdp })) => {
                if let (Some(rtc), Some(pending)) = (self.rtc.as_mut(), self.pending_offer.take())
                    && let Ok(answer) = SdpAnswer::from_sdp_string(&sdp)
                    && rtc.sdp_api().accept_answer(pending, answer).is_ok()
                {
                    self.answered = true;
                    self.drain(now);
                    self.publish_allowed();
                }
            }
            (Sent::Publish(source), Some(ReplyData::Published { track_id })) => {
                self.published.insert(source, Some(track_id));
            }
            (Sent::Command(_), _) => self.accepted_commands += 1,
            _ => {}
        }
    }

    fn introduce(&mut self, info: &caucus_proto::event::PeerInfo) {
        self.known_peers.insert(info.id);
        self.known_tracks.retain(|(p, _)| *p != info.id);
        for t in &info.tracks {
            self.known_tracks.insert((info.id, t.id));
        }
    }

    /// `arrival`: a name a peer should have been introduced to when it arrived where it
    /// stands (kept with the `slot` findings).
    fn must_know_peer(&mut self, now: Duration, peer: PeerId, what: &str, arrival: bool) {
        if Some(peer) != self.peer && !self.known_peers.contains(&peer) {
            self.unknown.push(Unknown {
                at: now,
                what: format!("{what} names unknown peer {peer}"),
                track_unpublished: false,
                slot: arrival,
            });
        }
    }

    fn on_event(&mut self, now: Duration, event: &ServerEvent) {
        match event {
            ServerEvent::Joined {
                peer,
                may_publish,
                peers,
                ..
            } => {
                self.known_peers.clear();
                self.known_tracks.clear();
                self.introduce(peer);
                for p in peers {
                    self.introduce(p);
                }
                self.may_publish = may_publish.clone();
                if self.rtc.is_none() {
                    self.start_media(now);
                }
            }
            ServerEvent::PeerJoined { peer } | ServerEvent::PeerUpdated { peer } => {
                self.introduce(peer)
            }
            ServerEvent::PeerLeft { peer_id, .. } => {
                self.must_know_peer(now, *peer_id, "peer_left", false);
                self.known_peers.remove(peer_id);
                self.known_tracks.retain(|(p, _)| p != peer_id);
            }
            ServerEvent::PeersMoved { moves } => {
                for group in moves {
                    for p in &group.peers {
                        self.must_know_peer(now, *p, "peers_moved", false);
                    }
                }
            }
            ServerEvent::RoleChanged { may_publish, .. } => {
                self.may_publish = may_publish.clone();
                self.publish_allowed();
            }
            ServerEvent::TrackPublished { peer_id, track } => {
                self.must_know_peer(now, *peer_id, "track_published", true);
                self.known_tracks.insert((*peer_id, track.id));
            }
            ServerEvent::TrackUnpublished {
                peer_id, track_id, ..
            } => {
                if Some(*peer_id) == self.peer {
                    self.published.retain(|_, t| *t != Some(*track_id));
                } else if !self.known_tracks.remove(&(*peer_id, *track_id)) {
                    self.unknown.push(Unknown {
                        at: now,
                        what: format!("track_unpublished names unknown track {peer_id}/{track_id}"),
                        track_unpublished: true,
                        slot: false,
                    });
                }
            }
            ServerEvent::TrackMuted {
                peer_id, track_id, ..
            } if Some(*peer_id) != self.peer
                && !self.known_tracks.contains(&(*peer_id, *track_id)) =>
            {
                self.unknown.push(Unknown {
                    at: now,
                    what: format!("track_muted names unknown track {peer_id}/{track_id}"),
                    track_unpublished: false,
                    slot: true,
                });
            }
            _ => {}
        }
    }

    /// A fresh `Rtc`: audio and video send m-lines (always there, so a role that may publish
    /// later needs no renegotiation) and a receive-slot pool of two of each.
    fn start_media(&mut self, now: Duration) {
        let at = self.base + now;
        let mut rtc = Rtc::builder().set_rtp_mode(true).build(at);
        if let Ok(candidate) = Candidate::host(self.addr, "udp") {
            rtc.add_local_candidate(candidate);
        }
        let mut api = rtc.sdp_api();
        let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
        let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
        for kind in [
            MediaKind::Audio,
            MediaKind::Audio,
            MediaKind::Video,
            MediaKind::Video,
        ] {
            api.add_media(kind, Direction::RecvOnly, None, None, None);
        }
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        self.audio_mid = Some(audio);
        self.video_mid = Some(video);
        self.pending_offer = Some(pending);
        self.rtc = Some(rtc);
        self.say(
            ClientBody::Offer {
                sdp: offer.to_sdp_string(),
            },
            Sent::Offer,
        );
        self.drain(now);
    }

    /// Announce every source the role allows that is not announced yet (once media is
    /// negotiated).
    fn publish_allowed(&mut self) {
        if !self.answered {
            return;
        }
        for kind in [Kind::Audio, Kind::Video] {
            let source = kind.source();
            if !self.may_publish.contains(&source) || self.published.contains_key(&source) {
                continue;
            }
            let mid = match kind {
                Kind::Audio => self.audio_mid,
                Kind::Video => self.video_mid,
            };
            if let Some(mid) = mid {
                self.published.insert(source, None);
                self.say(
                    ClientBody::Publish {
                        source,
                        mid: mid.to_string(),
                        muted: false,
                    },
                    Sent::Publish(source),
                );
            }
        }
    }

    fn on_server_offer(&mut self, now: Duration, sdp: &str) {
        let Some(rtc) = self.rtc.as_mut() else {
            return;
        };
        let Ok(offer) = SdpOffer::from_sdp_string(sdp) else {
            return;
        };
        if let Ok(answer) = rtc.sdp_api().accept_offer(offer) {
            self.say(
                ClientBody::Answer {
                    sdp: answer.to_sdp_string(),
                },
                Sent::Answer,
            );
        }
        self.drain(now);
    }

    /// Send one packet of `kind` (if media is up); the payload names the client and counts.
    pub fn send_media(&mut self, now: Duration, kind: Kind) {
        let at = self.base + now;
        if !self.media_up {
            return;
        }
        let mid = match kind {
            Kind::Audio => self.audio_mid,
            Kind::Video => self.video_mid,
        };
        let (Some(mid), Some(rtc)) = (mid, self.rtc.as_mut()) else {
            return;
        };
        let (codec, clock) = match kind {
            Kind::Audio => (Codec::Opus, 48_000u64),
            Kind::Video => (Codec::Vp8, 90_000u64),
        };
        let Some(pt) = rtc
            .codec_config()
            .find(|p| p.spec().codec == codec)
            .map(|p| p.pt())
        else {
            return;
        };
        let slot = kind as usize;
        let n = self.sent_count[slot];
        self.sent_count[slot] += 1;
        self.sent_at[slot].push(now);
        let frame_rate = match kind {
            Kind::Audio => 50,
            Kind::Video => 25,
        };
        let seq = 10_000 + n;
        let ts = (n * clock / frame_rate) as u32;
        let payload = format!("{}/{}/{n}", self.name, kind.label()).into_bytes();
        let ext = ExtensionValues {
            audio_level: (kind == Kind::Audio).then_some(-30),
            voice_activity: (kind == Kind::Audio).then_some(true),
            ..Default::default()
        };
        let mut api = rtc.direct_api();
        let Some(stream) = api.stream_tx_by_mid(mid, None) else {
            return;
        };
        stream.write_rtp(
            RtpWrite::new(pt, seq.into(), ts, at, payload)
                .marker(true)
                .ext_vals(ext)
                .nackable(true),
        );
        self.drain(now);
        self.fire(now);
    }

    /// A datagram for this client.
    pub fn receive(&mut self, now: Duration, src: SocketAddr, bytes: &[u8]) {
        let Some(rtc) = self.rtc.as_mut() else {
            return;
        };
        let Ok(contents) = bytes.try_into() else {
            return;
        };
        let input = Input::Receive(
            self.base + now,
            Receive {
                proto: Protocol::Udp,
                source: src,
                destination: self.addr,
                contents,
            },
        );
        if rtc.accepts(&input) && rtc.handle_input(input).is_ok() {
            self.drain(now);
        }
    }

    /// Let the `Rtc`'s clock run to `at`.
    pub fn fire(&mut self, now: Duration) {
        let at = self.base + now;
        if let Some(rtc) = self.rtc.as_mut()
            && rtc.handle_input(Input::Timeout(at)).is_err()
        {
            self.rtc = None;
            self.media_up = false;
            self.rtc_timeout = None;
            return;
        }
        self.drain(now);
    }

    fn drain(&mut self, now: Duration) {
        let Some(rtc) = self.rtc.as_mut() else {
            return;
        };
        loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => {
                    self.rtc_timeout = Some(t.saturating_duration_since(self.base));
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    self.transmits
                        .push((t.source, t.destination, t.contents.into()));
                }
                Ok(Output::Event(Event::Connected)) => self.media_up = true,
                Ok(Output::Event(Event::RtpPacket(p))) => {
                    let text = String::from_utf8_lossy(&p.payload);
                    let mut parts = text.split('/');
                    let from = parts.next().unwrap_or_default().to_owned();
                    let kind = match parts.next() {
                        Some("audio") => Kind::Audio,
                        _ => Kind::Video,
                    };
                    let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    self.received.push(Packet {
                        at: now,
                        from,
                        kind,
                        n,
                    });
                }
                Ok(Output::Event(_)) => {}
                Err(_) => {
                    self.rtc = None;
                    self.media_up = false;
                    self.rtc_timeout = None;
                    break;
                }
            }
        }
    }
}
