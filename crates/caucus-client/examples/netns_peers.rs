//! Two Rust clients on one host address — a publisher and a receiver — for scripts/test-netns,
//! which runs this inside the client's network namespace (behind the router): both join, the
//! publisher sends synthetic audio and video, and the receiver must get the publisher's video
//! with payloads that name the publisher (the trailer of every packet, see `payload`) on the
//! slot the server labelled for it. Prints one line `RESULT {json}` with the evidence and exits
//! non-zero when media does not arrive.
//!
//! ```text
//! netns_peers --ws ws://10.231.1.2:7880/v1/rtc --bind 10.231.2.2 \
//!   --publisher-token TOKEN --receiver-token TOKEN [--packets 100] [--timeout-s 20]
//! ```

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use caucus_client::{Client, ClientEvent, ClientOptions};
use caucus_proto::{ServerEvent, Source};
use serde_json::json;

struct Args {
    ws: String,
    bind: IpAddr,
    publisher_token: String,
    receiver_token: String,
    packets: u64,
    timeout: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut ws = None;
    let mut bind = None;
    let mut publisher_token = None;
    let mut receiver_token = None;
    let mut packets = 100;
    let mut timeout = Duration::from_secs(20);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--ws" => ws = Some(value),
            "--bind" => bind = Some(value.parse().map_err(|e| format!("--bind {value}: {e}"))?),
            "--publisher-token" => publisher_token = Some(value),
            "--receiver-token" => receiver_token = Some(value),
            "--packets" => packets = value.parse().map_err(|e| format!("--packets: {e}"))?,
            "--timeout-s" => {
                timeout =
                    Duration::from_secs(value.parse().map_err(|e| format!("--timeout-s: {e}"))?)
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(Args {
        ws: ws.ok_or("--ws is required")?,
        bind: bind.ok_or("--bind is required")?,
        publisher_token: publisher_token.ok_or("--publisher-token is required")?,
        receiver_token: receiver_token.ok_or("--receiver-token is required")?,
        packets,
        timeout,
    })
}

async fn run(args: &Args) -> Result<serde_json::Value, String> {
    let options = ClientOptions {
        // The namespace's own address: a loopback socket could not reach the router.
        bind: SocketAddr::new(args.bind, 0),
        connect_timeout: args.timeout,
        ..ClientOptions::default()
    };
    let (publisher, _publisher_events) =
        Client::connect(&args.ws, &args.publisher_token, options.clone())
            .await
            .map_err(|e| format!("publisher: {e}"))?;
    let (receiver, mut receiver_events) = Client::connect(&args.ws, &args.receiver_token, options)
        .await
        .map_err(|e| format!("receiver: {e}"))?;
    publisher
        .publish_video()
        .await
        .map_err(|e| format!("publish video: {e}"))?;
    receiver_events
        .wait_for(
            |e| matches!(e, ClientEvent::Server(ServerEvent::TrackPublished { .. })),
            args.timeout,
        )
        .await
        .map_err(|e| format!("receiver: no track_published: {e}"))?;
    let video = receiver
        .wait_received(
            publisher.peer_id(),
            Source::Video,
            args.packets,
            args.timeout,
        )
        .await
        .map_err(|e| format!("receiver: video of the publisher: {e}"))?;
    let report = receiver.receive_report();
    if report.undecodable > 0 || report.mislabeled > 0 {
        return Err(format!(
            "receiver: {} undecodable and {} mislabeled packets",
            report.undecodable, report.mislabeled
        ));
    }
    let result = json!({
        "ok": true,
        "publisher": publisher.peer_id().to_string(),
        "publisher_media": publisher.media_addr().map(|a| a.to_string()),
        "receiver_media": receiver.media_addr().map(|a| a.to_string()),
        "video_packets": video.packets,
        "video_frames": video.frames,
        "video_lost": video.lost,
        "undecodable": report.undecodable,
        "mislabeled": report.mislabeled,
    });
    publisher.close();
    receiver.close();
    Ok(result)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("netns_peers: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("netns_peers: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(result) => {
            println!("RESULT {result}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("RESULT {}", json!({ "ok": false, "error": e }));
            ExitCode::FAILURE
        }
    }
}
