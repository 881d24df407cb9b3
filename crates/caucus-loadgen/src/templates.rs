//! The two templates the scenarios use, created over REST in each server they drive.

use reqwest::Method;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::target::Target;

/// Every `member` publishes audio and video and hears every other member: a meeting.
pub const TALK: &str = "lg-talk";
/// Nobody hears anybody in main; inside a breakout room `member`s act as `member-b`, who
/// publish audio and hear each other: 1,000 peers can wait in main without 1,000² streams, and
/// a move is the only thing that makes a talker heard.
pub const SPLIT: &str = "lg-split";
/// The role every peer of the scenarios joins as.
pub const MEMBER: &str = "member";

fn video_caps() -> Value {
    json!({"max_width": 1280, "max_height": 720, "max_fps": 30, "max_bitrate": 2_500_000})
}

fn document(id: &str) -> Value {
    match id {
        TALK => json!({
            "id": TALK,
            "name": "Load generator: everyone hears everyone",
            "roles": {
                "member": {
                    "publish": {"allowed": ["audio", "video"], "video": video_caps()},
                    "subscribe": {"roles": ["member"]}
                }
            }
        }),
        _ => json!({
            "id": SPLIT,
            "name": "Load generator: silent main, talking breakouts",
            "roles": {
                "member": {
                    "publish": {"allowed": ["audio"]},
                    "subscribe": {"roles": []},
                    "breakout_role": "member-b"
                },
                "member-b": {
                    "publish": {"allowed": ["audio"]},
                    "subscribe": {"roles": ["member-b"]}
                }
            }
        }),
    }
}

/// Creates the template `id` ([`TALK`] or [`SPLIT`]) unless it exists, then the room `room`
/// with it.
pub async fn room(target: &Target, room: &str, template: &str) -> Result<()> {
    match target
        .rest(Method::POST, "/v1/templates", Some(document(template)))
        .await
    {
        Ok(_) => {}
        Err(Error::Rest { status: 409, .. }) => {}
        Err(e) => return Err(e),
    }
    target
        .rest(
            Method::POST,
            "/v1/rooms",
            Some(json!({"id": room, "name": room, "template": template})),
        )
        .await?;
    Ok(())
}
