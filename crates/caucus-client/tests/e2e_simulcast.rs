//! Simulcast layers chosen by the subscriber's role and its tile size: a presenter sends its camera as three
//! layers (320×180, 640×360, 1280×720); a viewer whose role caps cameras at 320×240
//! (`subscribe.video`) receives the smallest layer, a subscriber without a cap the largest, and
//! when the viewer is given the uncapped role its picture grows to the largest layer — all read
//! from the keyframes each receiver actually gets over real WebRTC.

#![allow(clippy::unwrap_used)]

mod common;

use caucus_client::{Client, ClientOptions, EventStream, SimulcastLayer};
use caucus_proto::{PeerId, Source};
use common::{T, World};
use serde_json::json;

const SMALL: (u16, u16) = (320, 180);
const MEDIUM: (u16, u16) = (640, 360);
const LARGE: (u16, u16) = (1280, 720);

async fn join(
    world: &World,
    user: &str,
    role: &str,
    options: ClientOptions,
) -> (Client, EventStream) {
    world.join_with(user, role, options).await
}

/// Waits until `client` has received a keyframe of `size` from `from`'s camera.
async fn wait_size(client: &Client, from: PeerId, size: (u16, u16), who: &str) {
    if let Err(e) = client.wait_frame_size(from, Source::Video, size, T).await {
        let now = client
            .received_from(from, Source::Video)
            .and_then(|s| s.frame_size);
        panic!("{who} should see {size:?}, sees {now:?}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_subscriber_gets_the_layer_its_role_allows() {
    let world = World::start("webinar").await;
    let stage = json!({"allowed": ["audio", "video"], "simulcast": true});
    let template = json!({
        "id": "stage",
        "name": "Webinar",
        "roles": {
            "presenter": {"publish": stage, "subscribe": {"roles": ["presenter"]}, "priority": 10},
            "viewer": {"subscribe": {"roles": ["presenter"],
                                     "video": {"max_width": 320, "max_height": 240}}},
            "front-row": {"subscribe": {"roles": ["presenter"]}},
        }
    });
    world
        .rest(reqwest::Method::POST, "/v1/templates", template)
        .await;
    world
        .rest(
            reqwest::Method::POST,
            "/v1/rooms",
            json!({"id": "webinar", "name": "Webinar", "template": "stage"}),
        )
        .await;

    let layers = [("q", SMALL), ("h", MEDIUM), ("f", LARGE)]
        .map(|(rid, (width, height))| SimulcastLayer {
            rid: rid.into(),
            width,
            height,
            packets_per_frame: None,
        })
        .to_vec();
    let (presenter, _presenter_events) = join(
        &world,
        "pia",
        "presenter",
        ClientOptions {
            simulcast: layers,
            ..ClientOptions::default()
        },
    )
    .await;
    presenter.publish_video().await.unwrap();
    let watcher = ClientOptions {
        send: Vec::new(),
        ..ClientOptions::default()
    };
    let (viewer, _viewer_events) = join(&world, "vic", "viewer", watcher.clone()).await;
    let (front, _front_events) = join(&world, "fay", "front-row", watcher).await;
    let pia = presenter.peer_id();

    wait_size(&viewer, pia, SMALL, "the capped viewer").await;
    wait_size(&front, pia, LARGE, "the uncapped front row").await;

    // The front row shows the presenter in a 700x400 tile: the 640x360 layer fits best.
    let camera = presenter.track_id(Source::Video).unwrap();
    front.set_video_size(camera, 700, 400).await.unwrap();
    wait_size(&front, pia, MEDIUM, "the front row with a smaller tile").await;
    // A size larger than the role's cap does not lift the cap.
    viewer.set_video_size(camera, 1920, 1080).await.unwrap();
    let err = viewer.set_video_size(camera, 0, 0).await.unwrap_err();
    assert_eq!(err.code(), Some(caucus_proto::ErrorCode::InvalidValue));
    let err = viewer
        .set_video_size(caucus_proto::TrackId::new(999), 320, 180)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(caucus_proto::ErrorCode::UnknownTrack));
    // One layer at a time: the viewer keeps getting the small one.
    let frames = viewer.received_from(pia, Source::Video).unwrap().frames;
    viewer
        .wait_received(pia, Source::Video, frames + 30, T)
        .await
        .unwrap();
    assert_eq!(
        viewer.received_from(pia, Source::Video).unwrap().frame_size,
        Some(SMALL)
    );

    // Moved to the front row, the viewer's picture grows.
    world
        .rest(
            reqwest::Method::PATCH,
            &format!("/v1/rooms/webinar/peers/{}", viewer.peer_id()),
            json!({"role": "front-row"}),
        )
        .await;
    // Its own 1920x1080 request now counts, within no role cap: the largest layer.
    wait_size(&viewer, pia, LARGE, "the viewer given the front-row role").await;
    world.stop().await;
}
