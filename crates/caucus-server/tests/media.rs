//! Media end to end: plain str0m clients on real loopback UDP, signaling over the real
//! WebSocket. A publisher's audio reaches a subscriber through the server's engine, and the
//! subscriber learns from `slot` whose track its receive m-line shows.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{Client, start};
use serde_json::{Value, json};
use str0m::change::{SdpAnswer, SdpPendingOffer};
use str0m::format::Codec;
use str0m::media::{Direction, MediaKind, Mid};
use str0m::net::{Protocol, Receive};
use str0m::rtp::RtpWrite;
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// What a media client reports.
#[derive(Debug)]
enum Heard {
    Connected,
    Rtp { mid: Option<Mid>, payload: String },
}

struct Offer {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    sdp: String,
    pending: SdpPendingOffer,
    audio_mid: Option<Mid>,
    recv_mids: Vec<Mid>,
}

async fn offer(send_audio: bool, recv_audio: usize) -> Offer {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let local = socket.local_addr().unwrap();
    let mut rtc = Rtc::builder().set_rtp_mode(true).build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
    let mut api = rtc.sdp_api();
    let audio_mid =
        send_audio.then(|| api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None));
    let recv_mids = (0..recv_audio)
        .map(|_| api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None))
        .collect();
    let (offer, pending) = api.apply().unwrap();
    Offer {
        rtc,
        socket,
        local,
        sdp: offer.to_sdp_string(),
        pending,
        audio_mid,
        recv_mids,
    }
}

/// Negotiate over signaling, then drive the client on its own task: it sends one audio
/// packet ("<name>/audio/<n>") every 20 ms once connected, and reports what it hears.
async fn connect_media(
    signal: &mut Client,
    name: &'static str,
    mut o: Offer,
) -> mpsc::UnboundedReceiver<Heard> {
    let reply = signal.request(json!({"type": "offer", "sdp": o.sdp})).await;
    assert_eq!(reply["ok"], true, "{reply}");
    let answer = reply["data"]["answer"]["sdp"]
        .as_str()
        .expect("an SDP answer");
    o.rtc
        .sdp_api()
        .accept_answer(o.pending, SdpAnswer::from_sdp_string(answer).unwrap())
        .unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(drive(o.rtc, o.socket, o.local, o.audio_mid, name, tx));
    rx
}

async fn drive(
    mut rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    audio_mid: Option<Mid>,
    name: &'static str,
    heard: mpsc::UnboundedSender<Heard>,
) {
    let mut buf = vec![0u8; 2048];
    let mut connected = false;
    let mut sent = 0u64;
    let mut next_send = tokio::time::Instant::now();
    loop {
        let timeout = loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(t)) => break t,
                Ok(Output::Transmit(t)) => {
                    let _ = socket.send_to(&t.contents, t.destination).await;
                }
                Ok(Output::Event(Event::Connected)) => {
                    connected = true;
                    let _ = heard.send(Heard::Connected);
                }
                Ok(Output::Event(Event::RtpPacket(p))) => {
                    let mid = rtc.direct_api().stream_rx(&p.header.ssrc).map(|s| s.mid());
                    let payload = String::from_utf8_lossy(&p.payload).into_owned();
                    if heard.send(Heard::Rtp { mid, payload }).is_err() {
                        return;
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(_) => return,
            }
        };
        if heard.is_closed() {
            return;
        }
        let mut wake = tokio::time::Instant::from_std(timeout);
        if connected && audio_mid.is_some() {
            wake = wake.min(next_send);
        }
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let Ok((n, source)) = received else { return };
                let Ok(contents) = buf[..n].try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive {
                    proto: Protocol::Udp, source, destination: local, contents,
                });
                if rtc.accepts(&input) && rtc.handle_input(input).is_err() {
                    return;
                }
            }
            () = tokio::time::sleep_until(wake) => {
                if connected && tokio::time::Instant::now() >= next_send {
                    if let Some(mid) = audio_mid {
                        send_audio(&mut rtc, mid, name, sent);
                        sent += 1;
                    }
                    next_send += std::time::Duration::from_millis(20);
                }
                if rtc.handle_input(Input::Timeout(Instant::now())).is_err() {
                    return;
                }
            }
        }
    }
}

/// One Opus packet with the payload `"<name>/audio/<n>"`.
fn send_audio(rtc: &mut Rtc, mid: Mid, name: &str, n: u64) {
    let Some(pt) = rtc
        .codec_config()
        .find(|p| p.spec().codec == Codec::Opus)
        .map(|p| p.pt())
    else {
        return;
    };
    let mut api = rtc.direct_api();
    let Some(stream) = api.stream_tx_by_mid(mid, None) else {
        return;
    };
    let payload = format!("{name}/audio/{n}").into_bytes();
    let ts = (n * 960) as u32;
    let packet = RtpWrite::new(pt, (1000 + n).into(), ts, Instant::now(), payload).marker(true);
    stream.write_rtp(packet);
}

async fn heard_until(
    rx: &mut mpsc::UnboundedReceiver<Heard>,
    what: &str,
    want: impl Fn(&Heard) -> bool,
) {
    let deadline = tokio::time::Instant::now() + common::WAIT;
    loop {
        let heard = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} in time"))
            .expect("media client alive");
        if want(&heard) {
            return;
        }
    }
}

#[tokio::test]
async fn an_offer_is_answered_and_a_bad_one_refused() {
    let server = start().await;
    let mut ana = Client::join(&server, "m1", "ana", "host").await;
    let reply = ana
        .request(json!({"type": "offer", "sdp": "v=0 nonsense"}))
        .await;
    assert_eq!(reply["ok"], false, "{reply}");
    assert_eq!(common::code(&reply), "malformed_request");
    let reply = ana.request(json!({"type": "answer", "sdp": "v=0"})).await;
    assert_eq!(common::code(&reply), "not_connected", "{reply}");

    let o = offer(true, 0).await;
    let reply = ana.request(json!({"type": "offer", "sdp": o.sdp})).await;
    assert_eq!(reply["ok"], true, "{reply}");
    let sdp = reply["data"]["answer"]["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=ice-lite"), "{sdp}");
    assert!(
        sdp.contains(&server.advertised_media_addr().port().to_string()),
        "{sdp}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn published_audio_reaches_a_subscriber_and_its_slot_is_labelled() {
    let server = start().await;
    let mut ana = Client::join(&server, "m1", "ana", "host").await;
    let mut bob = Client::join(&server, "m1", "bob", "host").await;

    let ana_offer = offer(true, 0).await;
    let mid = ana_offer.audio_mid.unwrap().to_string();
    let mut ana_media = connect_media(&mut ana, "ana", ana_offer).await;
    let reply = ana
        .request(json!({"type": "publish", "source": "audio", "mid": mid}))
        .await;
    assert_eq!(reply["ok"], true, "{reply}");
    let track_id = reply["data"]["published"]["track_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let published = bob.event("track_published").await;
    assert_eq!(published["event"]["peer_id"], ana.peer_id.as_str());

    let bob_offer = offer(false, 1).await;
    let slot_mid = bob_offer.recv_mids[0].to_string();
    let mut bob_media = connect_media(&mut bob, "bob", bob_offer).await;
    heard_until(&mut ana_media, "ana connected", |h| {
        matches!(h, Heard::Connected)
    })
    .await;
    heard_until(&mut bob_media, "bob connected", |h| {
        matches!(h, Heard::Connected)
    })
    .await;

    let slot: Value = bob
        .wait_for("slot", |v| v["type"] == "slot" && v["track"].is_object())
        .await;
    assert_eq!(slot["mid"], slot_mid.as_str(), "{slot}");
    assert_eq!(slot["track"]["peer_id"], ana.peer_id.as_str(), "{slot}");
    assert_eq!(slot["track"]["track_id"], track_id.as_str(), "{slot}");
    assert_eq!(slot["track"]["source"], "audio", "{slot}");
    heard_until(&mut bob_media, "ana's audio at bob, in the slot", |h| {
        matches!(h, Heard::Rtp { mid: Some(mid), payload }
                if payload.starts_with("ana/audio/") && mid.to_string() == slot_mid)
    })
    .await;
    server.shutdown().await;
}
