//! Every JSON example under `docs/protocol/` parses into the protocol types and serializes
//! back to the same JSON; and every message kind has an example.
//!
//! Files named `client-*.json` are `ClientMessage`s, `server-*.json` are `ServerMessage`s.
//! The `*_name` functions below match exhaustively, so a new variant does not compile until
//! it is named here, and the `ALL_*` lists make a missing fixture fail the test.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;

use caucus_proto::ServerEvent;
use caucus_proto::signal::{
    BreakoutCommand, ClientBody, ClientMessage, PeerCommand, ReplyData, ServerMessage,
};
use caucus_server::client_frame::{BREAKOUT_OPS, CLIENT_TYPES, PEER_COMMANDS};
use serde_json::Value;

const ALL_CLIENT_BODIES: &[&str] = &[
    "join",
    "offer",
    "answer",
    "publish",
    "video_size",
    "command",
    "ping",
];
const ALL_PEER_COMMANDS: &[&str] = &[
    "leave",
    "update_self",
    "set_hand",
    "unpublish",
    "set_muted",
    "mute_peer",
    "ask_unmute",
    "change_role",
    "change_roles",
    "move_peer",
    "respond_request",
    "remove_peer",
    "end_session",
    "set_locked",
    "chat",
    "set_broadcasting",
    "listen_in",
    "join_breakout",
    "return_to_main",
    "request_help",
    "breakouts",
];
const ALL_BREAKOUT_OPS: &[&str] = &[
    "create",
    "update",
    "remove",
    "set_options",
    "assign",
    "auto",
    "preassign",
    "open",
    "close",
    "extend",
    "broadcast",
    "claim_help",
    "dismiss_help",
];
const ALL_SERVER_MESSAGES: &[&str] = &["reply", "event", "offer", "slot", "error"];
const ALL_REPLY_DATA: &[&str] = &[
    "none",
    "error",
    "joined",
    "answer",
    "published",
    "request_sent",
    "breakouts_created",
    "help_requested",
];
const ALL_SERVER_EVENTS: &[&str] = &[
    "joined",
    "peer_joined",
    "peer_left",
    "peer_updated",
    "role_changed",
    "peers_moved",
    "track_published",
    "track_unpublished",
    "track_muted",
    "request_received",
    "request_resolved",
    "breakouts",
    "breakout_invite",
    "breakouts_closing",
    "timer_warning",
    "broadcast",
    "chat",
    "help_requested",
    "listening_to",
    "room_locked",
    "recordings",
    "removed",
    "session_ended",
];

fn client_body_name(body: &ClientBody) -> &'static str {
    match body {
        ClientBody::Join { .. } => "join",
        ClientBody::Offer { .. } => "offer",
        ClientBody::Answer { .. } => "answer",
        ClientBody::Publish { .. } => "publish",
        ClientBody::VideoSize { .. } => "video_size",
        ClientBody::Command { .. } => "command",
        ClientBody::Ping => "ping",
    }
}

fn peer_command_name(command: &PeerCommand) -> &'static str {
    match command {
        PeerCommand::Leave => "leave",
        PeerCommand::UpdateSelf { .. } => "update_self",
        PeerCommand::SetHand { .. } => "set_hand",
        PeerCommand::Unpublish { .. } => "unpublish",
        PeerCommand::SetMuted { .. } => "set_muted",
        PeerCommand::MutePeer { .. } => "mute_peer",
        PeerCommand::AskUnmute { .. } => "ask_unmute",
        PeerCommand::ChangeRole { .. } => "change_role",
        PeerCommand::ChangeRoles { .. } => "change_roles",
        PeerCommand::MovePeer { .. } => "move_peer",
        PeerCommand::RespondRequest { .. } => "respond_request",
        PeerCommand::RemovePeer { .. } => "remove_peer",
        PeerCommand::EndSession { .. } => "end_session",
        PeerCommand::SetLocked { .. } => "set_locked",
        PeerCommand::Chat { .. } => "chat",
        PeerCommand::SetBroadcasting { .. } => "set_broadcasting",
        PeerCommand::ListenIn { .. } => "listen_in",
        PeerCommand::JoinBreakout { .. } => "join_breakout",
        PeerCommand::ReturnToMain => "return_to_main",
        PeerCommand::RequestHelp => "request_help",
        PeerCommand::Breakouts { .. } => "breakouts",
    }
}

fn breakout_op_name(op: &BreakoutCommand) -> &'static str {
    match op {
        BreakoutCommand::Create { .. } => "create",
        BreakoutCommand::Update { .. } => "update",
        BreakoutCommand::Remove { .. } => "remove",
        BreakoutCommand::SetOptions { .. } => "set_options",
        BreakoutCommand::Assign { .. } => "assign",
        BreakoutCommand::Auto { .. } => "auto",
        BreakoutCommand::Preassign { .. } => "preassign",
        BreakoutCommand::Open { .. } => "open",
        BreakoutCommand::Close { .. } => "close",
        BreakoutCommand::Extend { .. } => "extend",
        BreakoutCommand::Broadcast { .. } => "broadcast",
        BreakoutCommand::ClaimHelp { .. } => "claim_help",
        BreakoutCommand::DismissHelp { .. } => "dismiss_help",
    }
}

fn server_message_name(message: &ServerMessage) -> &'static str {
    match message {
        ServerMessage::Reply { .. } => "reply",
        ServerMessage::Event { .. } => "event",
        ServerMessage::Offer { .. } => "offer",
        ServerMessage::Slot { .. } => "slot",
        ServerMessage::Error { .. } => "error",
    }
}

fn reply_data_name(data: Option<&ReplyData>, ok: bool) -> &'static str {
    match data {
        None if ok => "none",
        None => "error",
        Some(ReplyData::Joined { .. }) => "joined",
        Some(ReplyData::Answer { .. }) => "answer",
        Some(ReplyData::Published { .. }) => "published",
        Some(ReplyData::RequestSent { .. }) => "request_sent",
        Some(ReplyData::BreakoutsCreated { .. }) => "breakouts_created",
        Some(ReplyData::HelpRequested { .. }) => "help_requested",
    }
}

fn server_event_name(event: &ServerEvent) -> &'static str {
    match event {
        ServerEvent::Joined { .. } => "joined",
        ServerEvent::PeerJoined { .. } => "peer_joined",
        ServerEvent::PeerLeft { .. } => "peer_left",
        ServerEvent::PeerUpdated { .. } => "peer_updated",
        ServerEvent::RoleChanged { .. } => "role_changed",
        ServerEvent::PeersMoved { .. } => "peers_moved",
        ServerEvent::TrackPublished { .. } => "track_published",
        ServerEvent::TrackUnpublished { .. } => "track_unpublished",
        ServerEvent::TrackMuted { .. } => "track_muted",
        ServerEvent::RequestReceived { .. } => "request_received",
        ServerEvent::RequestResolved { .. } => "request_resolved",
        ServerEvent::Breakouts { .. } => "breakouts",
        ServerEvent::BreakoutInvite { .. } => "breakout_invite",
        ServerEvent::BreakoutsClosing { .. } => "breakouts_closing",
        ServerEvent::TimerWarning { .. } => "timer_warning",
        ServerEvent::Broadcast { .. } => "broadcast",
        ServerEvent::Chat { .. } => "chat",
        ServerEvent::HelpRequested { .. } => "help_requested",
        ServerEvent::ListeningTo { .. } => "listening_to",
        ServerEvent::RoomLocked { .. } => "room_locked",
        ServerEvent::Recordings { .. } => "recordings",
        ServerEvent::Removed { .. } => "removed",
        ServerEvent::SessionEnded { .. } => "session_ended",
    }
}

fn fixtures() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/protocol");
    let mut files: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap();
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, value)
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[derive(Default)]
struct Seen {
    client_bodies: BTreeSet<&'static str>,
    peer_commands: BTreeSet<&'static str>,
    breakout_ops: BTreeSet<&'static str>,
    server_messages: BTreeSet<&'static str>,
    reply_data: BTreeSet<&'static str>,
    server_events: BTreeSet<&'static str>,
}

#[test]
fn every_fixture_round_trips_and_every_variant_has_one() {
    let mut seen = Seen::default();
    let files = fixtures();
    assert!(!files.is_empty());
    for (name, value) in files {
        let back = if name.starts_with("client-") {
            let message: ClientMessage = serde_json::from_value(value.clone())
                .unwrap_or_else(|e| panic!("{name} is not a ClientMessage: {e}"));
            seen.client_bodies.insert(client_body_name(&message.body));
            if let ClientBody::Command { command } = &message.body {
                seen.peer_commands.insert(peer_command_name(command));
                if let PeerCommand::Breakouts { op, .. } = command {
                    seen.breakout_ops.insert(breakout_op_name(op));
                }
            }
            serde_json::to_value(&message).unwrap()
        } else if name.starts_with("server-") {
            let message: ServerMessage = serde_json::from_value(value.clone())
                .unwrap_or_else(|e| panic!("{name} is not a ServerMessage: {e}"));
            seen.server_messages.insert(server_message_name(&message));
            match &message {
                ServerMessage::Reply { data, ok, .. } => {
                    seen.reply_data.insert(reply_data_name(data.as_ref(), *ok));
                }
                ServerMessage::Event { event } => {
                    seen.server_events.insert(server_event_name(event));
                }
                _ => {}
            }
            serde_json::to_value(&message).unwrap()
        } else {
            panic!("{name}: fixtures are named client-*.json or server-*.json");
        };
        assert_eq!(back, value, "{name} does not round-trip");
    }
    let check = |what: &str, all: &[&str], seen: &BTreeSet<&'static str>| {
        let missing: Vec<&&str> = all.iter().filter(|n| !seen.contains(**n)).collect();
        assert!(missing.is_empty(), "{what} without a fixture: {missing:?}");
        assert_eq!(
            all.len(),
            seen.len(),
            "{what}: the list and the variants disagree"
        );
    };
    check("client messages", ALL_CLIENT_BODIES, &seen.client_bodies);
    check("peer commands", ALL_PEER_COMMANDS, &seen.peer_commands);
    check("breakout ops", ALL_BREAKOUT_OPS, &seen.breakout_ops);
    check(
        "server messages",
        ALL_SERVER_MESSAGES,
        &seen.server_messages,
    );
    check("reply data", ALL_REPLY_DATA, &seen.reply_data);
    check("server events", ALL_SERVER_EVENTS, &seen.server_events);
}

/// The server's frame classifier knows exactly the tags the protocol has.
#[test]
fn the_frame_classifier_knows_every_tag() {
    assert_eq!(CLIENT_TYPES, ALL_CLIENT_BODIES);
    assert_eq!(PEER_COMMANDS, ALL_PEER_COMMANDS);
    assert_eq!(BREAKOUT_OPS, ALL_BREAKOUT_OPS);
}
