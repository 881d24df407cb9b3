//! `GET /metrics`: the server in Prometheus text format.
//!
//! Read at scrape time, not counted on the hot paths: each live room answers with its size
//! ([`RoomInput::Counts`]), the media thread with the engine's totals
//! ([`caucus_media::Counters`]) and the store with the webhook backlog. The values are set on
//! this server's own recorder (not a process-wide one, so several servers in one process — the
//! tests — each report their own) and rendered by `metrics-exporter-prometheus`.
//!
//! | metric | kind | what |
//! | --- | --- | --- |
//! | `caucus_sessions` | gauge | live sessions |
//! | `caucus_peers` | gauge | peers in sessions (connected or within their grace) |
//! | `caucus_peers_connected` | gauge | peers whose connection is up |
//! | `caucus_tracks` | gauge | published tracks |
//! | `caucus_breakout_rooms` | gauge | breakout rooms in all sessions |
//! | `caucus_packets_in_total`, `caucus_bytes_in_total` | counter | datagrams received on the media socket |
//! | `caucus_packets_out_total`, `caucus_bytes_out_total` | counter | datagrams sent |
//! | `caucus_rtp_in_total` | counter | RTP packets from publishers |
//! | `caucus_rtp_forwarded_total` | counter | RTP packets written to subscribers |
//! | `caucus_forwarding_errors_total` | counter | packets that could not be forwarded |
//! | `caucus_dropped_packets_total{reason}` | counter | `garbage`, `unknown_source`, `rejected` |
//! | `caucus_keyframe_requests_total` | counter | PLIs sent to publishers |
//! | `caucus_peers_failed_total` | counter | peers whose WebRTC state failed |
//! | `caucus_layer_switches_total` | counter | simulcast layer switches (at a keyframe of the new layer) |
//! | `caucus_subscribers_bandwidth_limited` | gauge | subscribers whose bandwidth estimate holds a simulcast camera below the layer they would otherwise get |
//! | `caucus_webhook_backlog` | gauge | webhook deliveries queued |
//!
//! Beside these, what is measured as it happens ([`crate::telemetry`]): latency histograms
//! of joins, moves and HTTP requests, the process and the build.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use caucus_media::Counters;

use crate::media_tcp::TcpCounters;
use metrics::{counter, describe_counter, describe_gauge, gauge};
use tokio::sync::{oneshot, watch};
use tracing::warn;

use crate::admission::Admission;
use crate::control::ControlPlane;
use crate::http_rate::HttpRate;
use crate::media_thread::MediaHandle;
use crate::room::{RoomCounts, RoomInput};
use crate::telemetry::Telemetry;

/// How long a scrape waits for one room or the media thread before leaving it out.
const ASK_TIMEOUT: Duration = Duration::from_secs(1);

/// The server's recorder and what it reads at scrape time.
pub struct Metrics {
    telemetry: Arc<Telemetry>,
    control: Arc<ControlPlane>,
    media: MediaHandle,
    admission: Arc<Admission>,
    rate: Arc<HttpRate>,
    shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// What one scrape read.
#[derive(Debug, Default)]
struct Reading {
    sessions: u64,
    rooms: RoomCounts,
    media: Counters,
    tcp: TcpCounters,
    webhook_backlog: Option<u64>,
    connections_open: u32,
    connections_max: u32,
    refused_server_full: u64,
    refused_address_full: u64,
    http_rate_limited: u64,
}

impl Metrics {
    pub fn new(
        telemetry: Arc<Telemetry>,
        control: Arc<ControlPlane>,
        media: MediaHandle,
        admission: Arc<Admission>,
        rate: Arc<HttpRate>,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Metrics> {
        telemetry.with(describe);
        Arc::new(Metrics {
            telemetry,
            control,
            media,
            admission,
            rate,
            shutdown,
        })
    }

    /// The text a scrape returns.
    pub async fn render(&self) -> String {
        let reading = self.read().await;
        self.telemetry.with(|| record(&reading));
        self.telemetry.render()
    }

    async fn read(&self) -> Reading {
        let (refused_server_full, refused_address_full) = self.admission.refused();
        let mut reading = Reading {
            connections_open: self.admission.open(),
            connections_max: self.admission.max_connections(),
            refused_server_full,
            refused_address_full,
            http_rate_limited: self.rate.refused(),
            ..Reading::default()
        };
        let asks = self
            .control
            .registry()
            .all()
            .await
            .into_iter()
            .map(|room| async move {
                let (reply, counts) = oneshot::channel();
                room.send(RoomInput::Counts { reply }).ok()?;
                tokio::time::timeout(ASK_TIMEOUT, counts).await.ok()?.ok()
            });
        for counts in futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
        {
            reading.sessions += 1;
            reading.rooms.peers += counts.peers;
            reading.rooms.connected += counts.connected;
            reading.rooms.tracks += counts.tracks;
            reading.rooms.breakouts += counts.breakouts;
        }
        match tokio::time::timeout(ASK_TIMEOUT, self.media.counters()).await {
            Ok(Some((media, tcp))) => {
                reading.media = media;
                reading.tcp = tcp;
            }
            _ => warn!("the media thread did not answer a metrics scrape"),
        }
        reading.webhook_backlog = self
            .control
            .store(|store| store.webhook_backlog())
            .await
            .ok();
        reading
    }
}

fn describe() {
    describe_gauge!("caucus_sessions", "Live sessions.");
    describe_gauge!(
        "caucus_peers",
        "Peers in sessions, connected or within their reconnect grace."
    );
    describe_gauge!("caucus_peers_connected", "Peers whose connection is up.");
    describe_gauge!("caucus_tracks", "Published tracks, muted ones included.");
    describe_gauge!("caucus_breakout_rooms", "Breakout rooms in all sessions.");
    describe_counter!(
        "caucus_packets_in_total",
        "Datagrams received on the media socket."
    );
    describe_counter!(
        "caucus_bytes_in_total",
        "Bytes received on the media socket."
    );
    describe_counter!(
        "caucus_packets_out_total",
        "Datagrams sent on the media socket."
    );
    describe_counter!("caucus_bytes_out_total", "Bytes sent on the media socket.");
    describe_counter!(
        "caucus_rtp_in_total",
        "RTP packets received from publishers."
    );
    describe_counter!(
        "caucus_rtp_forwarded_total",
        "RTP packets written towards subscribers (one per subscriber)."
    );
    describe_counter!(
        "caucus_forwarding_errors_total",
        "Packets that could not be forwarded."
    );
    describe_counter!(
        "caucus_dropped_packets_total",
        "Datagrams dropped on arrival, by reason."
    );
    describe_counter!(
        "caucus_keyframe_requests_total",
        "Keyframe requests sent to publishers."
    );
    describe_counter!(
        "caucus_peers_failed_total",
        "Peers dropped because their WebRTC state failed."
    );
    describe_counter!(
        "caucus_layer_switches_total",
        "Simulcast layer switches, each at a keyframe of the new layer."
    );
    describe_gauge!(
        "caucus_subscribers_bandwidth_limited",
        "Subscribers whose bandwidth estimate holds a simulcast camera below the layer they would otherwise get."
    );
    describe_gauge!("caucus_webhook_backlog", "Webhook deliveries queued.");
    describe_gauge!(
        "caucus_http_connections",
        "Open HTTP and WebSocket connections."
    );
    describe_gauge!(
        "caucus_http_connections_max",
        "The connection limit in force (max_connections, after the descriptor budget)."
    );
    describe_counter!(
        "caucus_http_connections_refused_total",
        "Connections refused at accept (reason: server_full, address_full)."
    );
    describe_counter!(
        "caucus_http_rate_limited_total",
        "HTTP requests answered 429 for their client address's rate."
    );
}

#[allow(clippy::cast_precision_loss)] // gauges are f64; counts stay far below 2^53
fn record(reading: &Reading) {
    gauge!("caucus_sessions").set(reading.sessions as f64);
    gauge!("caucus_peers").set(reading.rooms.peers as f64);
    gauge!("caucus_peers_connected").set(reading.rooms.connected as f64);
    gauge!("caucus_tracks").set(reading.rooms.tracks as f64);
    gauge!("caucus_breakout_rooms").set(reading.rooms.breakouts as f64);
    let m = &reading.media;
    counter!("caucus_packets_in_total").absolute(m.datagrams_in);
    counter!("caucus_bytes_in_total").absolute(m.bytes_in);
    counter!("caucus_packets_out_total").absolute(m.datagrams_out);
    counter!("caucus_bytes_out_total").absolute(m.bytes_out);
    counter!("caucus_rtp_in_total").absolute(m.rtp_in);
    counter!("caucus_rtp_forwarded_total").absolute(m.rtp_forwarded);
    counter!("caucus_forwarding_errors_total").absolute(m.forwarding_errors);
    counter!("caucus_dropped_packets_total", "reason" => "garbage").absolute(m.dropped_garbage);
    counter!("caucus_dropped_packets_total", "reason" => "unknown_source")
        .absolute(m.dropped_unknown_source);
    counter!("caucus_dropped_packets_total", "reason" => "rejected").absolute(m.dropped_rejected);
    counter!("caucus_keyframe_requests_total").absolute(m.keyframe_requests_sent);
    counter!("caucus_peers_failed_total").absolute(m.peers_failed);
    counter!("caucus_layer_switches_total").absolute(m.layer_switches);
    gauge!("caucus_subscribers_bandwidth_limited").set(m.subscribers_bandwidth_limited as f64);
    let t = &reading.tcp;
    gauge!("caucus_ice_tcp_connections").set(t.open as f64);
    counter!("caucus_ice_tcp_accepted_total").absolute(t.accepted);
    for (reason, n) in [
        ("refused", t.refused),
        ("unanswered", t.closed_unanswered),
        ("idle", t.closed_idle),
        ("broken", t.closed_broken),
    ] {
        counter!("caucus_ice_tcp_closed_total", "reason" => reason).absolute(n);
    }
    counter!("caucus_ice_tcp_frames_dropped_total").absolute(t.frames_dropped);
    gauge!("caucus_http_connections").set(f64::from(reading.connections_open));
    gauge!("caucus_http_connections_max").set(f64::from(reading.connections_max));
    counter!("caucus_http_connections_refused_total", "reason" => "server_full")
        .absolute(reading.refused_server_full);
    counter!("caucus_http_connections_refused_total", "reason" => "address_full")
        .absolute(reading.refused_address_full);
    counter!("caucus_http_rate_limited_total").absolute(reading.http_rate_limited);
    if let Some(backlog) = reading.webhook_backlog {
        gauge!("caucus_webhook_backlog").set(backlog as f64);
    }
}

impl Metrics {
    /// What keeps the server from taking new work, if anything: it is stopping, the store
    /// does not answer, the media thread does not answer.
    async fn not_ready(&self) -> Vec<&'static str> {
        let mut failing = Vec::new();
        if *self.shutdown.borrow() {
            failing.push("shutting_down");
        }
        let store = self
            .control
            .store(|store| store.webhook_backlog().map(|_| ()));
        if !matches!(tokio::time::timeout(ASK_TIMEOUT, store).await, Ok(Ok(()))) {
            failing.push("store");
        }
        if !matches!(
            tokio::time::timeout(ASK_TIMEOUT, self.media.counters()).await,
            Ok(Some(_))
        ) {
            failing.push("media");
        }
        failing
    }
}

/// `GET /readyz`: 200 `ready` when the store and the media thread answer and the server is
/// not stopping; else 503 naming what failed (a load balancer stops sending new people).
pub async fn readyz(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    let failing = metrics.not_ready().await;
    if failing.is_empty() {
        (axum::http::StatusCode::OK, "ready\n".to_owned())
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {}\n", failing.join(", ")),
        )
    }
}

/// `GET /metrics`.
pub async fn scrape(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render().await,
    )
}
