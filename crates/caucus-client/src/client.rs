//! The client: connect and reconnect, publish synthetic media, and read what was received.
//! Session commands are in `commands.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use caucus_proto::signal::{ClientBody, ReplyData};
use caucus_proto::{IceServer, PeerId, Source, TrackId};
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::error::{ClientError, Result};
use crate::event::{ClientEvent, EventStream};
use crate::media::{Media, MediaReport, PublishedTrack};
use crate::options::ClientOptions;
use crate::signaling::Signal;
use crate::stats::{ReceiveReport, SentStats, StreamStats};

/// One participant: a signaling connection and (unless signaling-only) a media peer.
///
/// Calls take `&self`, so one client can be driven from several tasks; only
/// [`reconnect`](Client::reconnect) and [`close`](Client::close) need it whole. Dropping the
/// client disconnects without `leave`, as a crashed browser would.
#[derive(Debug)]
pub struct Client {
    url: String,
    token: String,
    options: ClientOptions,
    peer_id: PeerId,
    resumed: bool,
    pub(crate) signal: Signal,
    media: Option<Media>,
    events: mpsc::Sender<ClientEvent>,
    report: watch::Sender<MediaReport>,
}

/// What one connection attempt produced.
struct Session {
    signal: Signal,
    media: Option<Media>,
    peer_id: PeerId,
    resumed: bool,
}

impl Client {
    /// Connects to `ws_url` (`ws://HOST:PORT/v1/rtc`, or `wss://` for a server with TLS;
    /// `http://` and `https://` are taken as `ws://` and `wss://`), joins with `token`, and — unless
    /// `options.media` is off — negotiates the media peer and (by default) waits until it is
    /// connected. A refused join is [`ClientError::Refused`] with the server's code.
    pub async fn connect(
        ws_url: &str,
        token: &str,
        options: ClientOptions,
    ) -> Result<(Client, EventStream)> {
        let (events_tx, events_rx) = mpsc::channel(options.event_capacity.max(1));
        let (report, _) = watch::channel(MediaReport::default());
        let session =
            establish(ws_url, token, &options, &options.send, &events_tx, &report).await?;
        let client = Client {
            url: ws_url.to_owned(),
            token: token.to_owned(),
            options,
            peer_id: session.peer_id,
            resumed: session.resumed,
            signal: session.signal,
            media: session.media,
            events: events_tx,
            report,
        };
        Ok((client, EventStream::new(events_rx)))
    }

    /// This peer's id.
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Whether the last join resumed an existing peer (after a reconnect).
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// The STUN and TURN servers the `joined` event of the current connection named (TURN
    /// with a credential minted for this join), for a caller that needs them; empty until that
    /// event came (it follows the join's reply: with media, `connect` and `reconnect` return
    /// after it). The media peer allocates its relayed candidate on the first `turn:` server
    /// that grants one ([`ClientOptions::turn`]); `stun:` servers are not used.
    pub fn ice_servers(&self) -> Vec<IceServer> {
        self.signal.ice_servers()
    }

    /// The relayed address the TURN server allocated for the media peer (its relayed
    /// candidate), if it has one. [`media_report`](Client::media_report) has its counters.
    pub fn relayed_addr(&self) -> Option<SocketAddr> {
        self.media.as_ref().and_then(Media::relayed_addr)
    }

    /// The local address of the media socket.
    pub fn media_addr(&self) -> Option<SocketAddr> {
        self.media.as_ref().map(Media::local_addr)
    }

    /// Drops both connections (no `leave`) and joins again with the same token: a new
    /// WebSocket and a new media peer. Within the server's grace period it resumes the same
    /// peer (check [`peer_id`](Client::peer_id) and [`resumed`](Client::resumed)). Sources
    /// that were published are published again (new track ids, a new stream generation).
    pub async fn reconnect(&mut self) -> Result<()> {
        let republish: Vec<(Source, bool)> = self
            .published()
            .into_iter()
            .map(|(source, p)| (source, p.muted))
            .collect();
        self.disconnect();
        let mut send = self.options.send.clone();
        send.extend(republish.iter().map(|(s, _)| *s));
        send.sort();
        send.dedup();
        let session = establish(
            &self.url,
            &self.token,
            &self.options,
            &send,
            &self.events,
            &self.report,
        )
        .await?;
        if session.peer_id != self.peer_id {
            warn!(old = %self.peer_id, new = %session.peer_id, "reconnect made a new peer");
        }
        self.peer_id = session.peer_id;
        self.resumed = session.resumed;
        self.signal = session.signal;
        self.media = session.media;
        info!(peer = %self.peer_id, resumed = self.resumed, "reconnected");
        for (source, muted) in republish {
            self.publish_with(source, muted).await?;
        }
        Ok(())
    }

    /// Disconnects without `leave`: the server sees the connection drop (and keeps the peer
    /// for its reconnect grace).
    pub fn close(self) {
        self.disconnect();
    }

    fn disconnect(&self) {
        self.signal.close();
        if let Some(media) = &self.media {
            media.close();
        }
    }

    /// Keep-alive; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration> {
        let start = Instant::now();
        self.signal.request(ClientBody::Ping).await?;
        Ok(start.elapsed())
    }

    /// Asks for at most `max_width` × `max_height` of a remote camera (the size it is shown
    /// at): of a simulcast camera the server forwards the best layer that fits.
    pub async fn set_video_size(
        &self,
        track_id: TrackId,
        max_width: u32,
        max_height: u32,
    ) -> Result<()> {
        self.signal
            .request(ClientBody::VideoSize {
                track_id,
                max_width,
                max_height,
            })
            .await?;
        Ok(())
    }

    // ── publishing ────────────────────────────────────────────────────────────────────────

    /// Publishes `source` and starts its synthetic generator. Renegotiates first if no
    /// sending m-line carries the source yet. A role that may not publish it gets
    /// [`ClientError::Refused`] with `publish_not_allowed`, and nothing is sent.
    pub async fn publish(&self, source: Source) -> Result<TrackId> {
        self.publish_with(source, false).await
    }

    pub async fn publish_audio(&self) -> Result<TrackId> {
        self.publish(Source::Audio).await
    }

    pub async fn publish_video(&self) -> Result<TrackId> {
        self.publish(Source::Video).await
    }

    pub async fn publish_screen(&self) -> Result<TrackId> {
        self.publish(Source::Screen).await
    }

    /// Publishes `source`, muted or not.
    pub async fn publish_with(&self, source: Source, muted: bool) -> Result<TrackId> {
        let media = self.media()?;
        let mids = media.negotiate(vec![source]).await?;
        let mid = mids
            .get(&source)
            .ok_or_else(|| ClientError::Media(format!("no sending m-line for {source}")))?;
        let reply = self
            .signal
            .request(ClientBody::Publish {
                source,
                mid: mid.to_string(),
                muted,
            })
            .await?;
        let Some(ReplyData::Published { track_id }) = reply else {
            return Err(ClientError::Protocol(format!(
                "publish was answered with {reply:?}"
            )));
        };
        media.start(source, track_id, muted).await?;
        Ok(track_id)
    }

    /// Mutes (stops sending, then tells the server) or unmutes (tells, then sends) a source
    /// this client publishes.
    pub async fn mute(&self, source: Source, muted: bool) -> Result<()> {
        let track = self
            .track_id(source)
            .ok_or(ClientError::NotPublishing(source))?;
        let media = self.media()?;
        // The report says muted once this returns, whatever the media task was busy with.
        if muted {
            media.set_paused(source, true).await?;
            self.set_muted(track, true).await
        } else {
            self.set_muted(track, false).await?;
            media.set_paused(source, false).await
        }
    }

    /// Stops a source and unpublishes its track. Its m-line stays (silent) for a later publish.
    pub async fn stop(&self, source: Source) -> Result<()> {
        let track = self
            .media()?
            .stop(source)
            .await?
            .ok_or(ClientError::NotPublishing(source))?;
        self.unpublish(track).await
    }

    /// The track id of a source this client publishes.
    pub fn track_id(&self, source: Source) -> Option<TrackId> {
        self.report
            .borrow()
            .published
            .get(&source)
            .map(|p| p.track_id)
    }

    /// What this client publishes now.
    pub fn published(&self) -> BTreeMap<Source, PublishedTrack> {
        self.report.borrow().published.clone()
    }

    // ── receiving ─────────────────────────────────────────────────────────────────────────

    /// Per (publisher, source): what arrived since the start or the last reset.
    pub fn received(&self) -> BTreeMap<(PeerId, Source), StreamStats> {
        self.report.borrow().received.streams.clone()
    }

    /// One stream's counters.
    pub fn received_from(&self, peer: PeerId, source: Source) -> Option<StreamStats> {
        self.report
            .borrow()
            .received
            .streams
            .get(&(peer, source))
            .cloned()
    }

    /// The receive counters, with packets that could not be attributed.
    pub fn receive_report(&self) -> ReceiveReport {
        self.report.borrow().received.clone()
    }

    /// What this client sent, per source.
    pub fn sent(&self) -> BTreeMap<Source, SentStats> {
        self.report.borrow().sent.clone()
    }

    /// Everything the media peer counts.
    pub fn media_report(&self) -> MediaReport {
        self.report.borrow().clone()
    }

    /// Forgets every receive counter (a new phase of a test starts from zero).
    pub fn reset_received(&self) {
        self.report
            .send_modify(|r| r.received = ReceiveReport::default());
    }

    /// Waits until a packet from (`peer`, `source`) arrives after this call.
    pub async fn wait_receiving_from(
        &self,
        peer: PeerId,
        source: Source,
        timeout: Duration,
    ) -> Result<StreamStats> {
        let before = self.received_from(peer, source).map_or(0, |s| s.packets);
        self.wait_stream(peer, source, timeout, |s| s.packets > before)
            .await
    }

    /// Waits until at least `packets` packets from (`peer`, `source`) have been counted (since
    /// the start or the last reset).
    pub async fn wait_received(
        &self,
        peer: PeerId,
        source: Source,
        packets: u64,
        timeout: Duration,
    ) -> Result<StreamStats> {
        self.wait_stream(peer, source, timeout, |s| s.packets >= packets)
            .await
    }

    /// Waits until the last keyframe received from (`peer`, `source`) declares `size`
    /// (width, height): with simulcast, until that layer is the one forwarded.
    pub async fn wait_frame_size(
        &self,
        peer: PeerId,
        source: Source,
        size: (u16, u16),
        timeout: Duration,
    ) -> Result<StreamStats> {
        self.wait_stream(peer, source, timeout, |s| s.frame_size == Some(size))
            .await
    }

    /// Waits until nothing from `peer` (any source) has arrived for the quiet period
    /// (`options.segment_gap`, 300 ms by default). Returns at once if that is already so.
    pub async fn wait_silent_from(&self, peer: PeerId, timeout: Duration) -> Result<()> {
        self.wait_silent(peer, None, timeout).await
    }

    /// Like [`wait_silent_from`](Client::wait_silent_from), for one source of `peer`.
    pub async fn wait_silent_from_source(
        &self,
        peer: PeerId,
        source: Source,
        timeout: Duration,
    ) -> Result<()> {
        self.wait_silent(peer, Some(source), timeout).await
    }

    async fn wait_silent(
        &self,
        peer: PeerId,
        source: Option<Source>,
        timeout: Duration,
    ) -> Result<()> {
        let quiet = self.options.segment_gap;
        let mut rx = self.report.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let last = rx
                .borrow_and_update()
                .received
                .streams
                .iter()
                .filter(|((p, s), _)| *p == peer && source.is_none_or(|wanted| wanted == *s))
                .map(|(_, s)| s.last_at)
                .max();
            let Some(last) = last else { return Ok(()) };
            let silent_at = tokio::time::Instant::from_std(last + quiet);
            if silent_at <= tokio::time::Instant::now() {
                return Ok(());
            }
            if silent_at > deadline {
                let what = match source {
                    Some(s) => format!("{s} of {peer} to fall silent for {quiet:?}"),
                    None => format!("{peer} to fall silent for {quiet:?}"),
                };
                return Err(ClientError::timeout(what, timeout));
            }
            tokio::select! {
                _ = tokio::time::sleep_until(silent_at) => {}
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Err(ClientError::NoMedia);
                    }
                }
            }
        }
    }

    async fn wait_stream(
        &self,
        peer: PeerId,
        source: Source,
        timeout: Duration,
        done: impl Fn(&StreamStats) -> bool,
    ) -> Result<StreamStats> {
        let mut rx = self.report.subscribe();
        let waited = rx.wait_for(|r| r.received.streams.get(&(peer, source)).is_some_and(&done));
        match tokio::time::timeout(timeout, waited).await {
            Ok(Ok(report)) => report
                .received
                .streams
                .get(&(peer, source))
                .cloned()
                .ok_or(ClientError::NoMedia),
            Ok(Err(_)) => Err(ClientError::NoMedia),
            Err(_) => {
                let got = self.received_from(peer, source);
                Err(ClientError::timeout(
                    format!(
                        "{source} from {peer} (now: {} packets)",
                        got.map_or(0, |s| s.packets)
                    ),
                    timeout,
                ))
            }
        }
    }

    fn media(&self) -> Result<&Media> {
        self.media.as_ref().ok_or(ClientError::NoMedia)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.disconnect();
    }
}

/// Opens signaling, joins, and brings up the media peer with sending m-lines for `send`.
async fn establish(
    url: &str,
    token: &str,
    options: &ClientOptions,
    send: &[Source],
    events: &mpsc::Sender<ClientEvent>,
    report: &watch::Sender<MediaReport>,
) -> Result<Session> {
    let (to_media, from_signal) = mpsc::unbounded_channel();
    let signal = Signal::open(
        url,
        &options.tls_roots,
        options.connect_timeout,
        options.request_timeout,
        events.clone(),
        to_media,
    )
    .await?;
    let reply = signal
        .request(ClientBody::Join {
            token: token.to_owned(),
            password: options.password.clone(),
        })
        .await;
    let (peer_id, resumed) = match reply {
        Ok(Some(ReplyData::Joined { peer_id, resumed })) => (peer_id, resumed),
        Ok(other) => {
            signal.close();
            return Err(ClientError::Protocol(format!(
                "join was answered with {other:?}"
            )));
        }
        Err(e) => {
            signal.close();
            return Err(e);
        }
    };
    info!(peer = %peer_id, resumed, "joined");
    if !options.media {
        return Ok(Session {
            signal,
            media: None,
            peer_id,
            resumed,
        });
    }
    let media = Media::spawn(
        options,
        peer_id,
        signal.clone(),
        from_signal,
        events.clone(),
        report.clone(),
    )
    .await?;
    let up = async {
        media.negotiate(send.to_vec()).await?;
        if options.wait_media_connected {
            media.wait_connected(options.connect_timeout).await?;
        }
        Ok(())
    };
    if let Err(e) = up.await {
        media.close();
        signal.close();
        return Err(e);
    }
    Ok(Session {
        signal,
        media: Some(media),
        peer_id,
        resumed,
    })
}
