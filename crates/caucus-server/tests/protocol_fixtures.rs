//! Every JSON example under `docs/protocol/` parses into the protocol types and serializes
//! back to the same JSON; its tags are the names `caucus-proto` gives the variants; and every
//! message kind has an example.
//!
//! Files named `client-*.json` are `ClientMessage`s, `server-*.json` are `ServerMessage`s.
//! The kinds are `caucus-proto`'s own `NAMES` lists (generated with the exhaustive `name()`
//! of each type), so a new variant needs a fixture before this test passes.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;

use caucus_proto::ServerEvent;
use caucus_proto::signal::{
    BreakoutCommand, ClientBody, ClientMessage, PeerCommand, ReplyData, ServerMessage,
};
use serde_json::Value;

/// A reply's kind: its data's name, or `none` (an empty `ok`) or `error`.
const REPLY_WITHOUT_DATA: &[&str] = &["none", "error"];

fn reply_kind(data: Option<&ReplyData>, ok: bool) -> &'static str {
    match data {
        None if ok => "none",
        None => "error",
        Some(data) => data.name(),
    }
}

/// The JSON tag of a fixture at `path` (`["command", "type"]`) is `name`.
fn assert_tag(file: &str, value: &Value, path: &[&str], name: &str) {
    let tag = path.iter().fold(value, |v, key| &v[*key]);
    assert_eq!(
        tag,
        name,
        "{file}: {} is not the variant's name",
        path.join(".")
    );
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
            assert_tag(&name, &value, &["type"], message.body.name());
            seen.client_bodies.insert(message.body.name());
            if let ClientBody::Command { command } = &message.body {
                assert_tag(&name, &value, &["command", "type"], command.name());
                seen.peer_commands.insert(command.name());
                if let PeerCommand::Breakouts { op, .. } = command {
                    assert_tag(&name, &value, &["command", "op"], op.name());
                    seen.breakout_ops.insert(op.name());
                }
            }
            serde_json::to_value(&message).unwrap()
        } else if name.starts_with("server-") {
            let message: ServerMessage = serde_json::from_value(value.clone())
                .unwrap_or_else(|e| panic!("{name} is not a ServerMessage: {e}"));
            assert_tag(&name, &value, &["type"], message.name());
            seen.server_messages.insert(message.name());
            match &message {
                ServerMessage::Reply { data, ok, .. } => {
                    if let Some(data) = data {
                        let keys: Vec<&String> =
                            value["data"].as_object().unwrap().keys().collect();
                        assert_eq!(keys, [data.name()], "{name}: data is keyed by its name");
                    }
                    seen.reply_data.insert(reply_kind(data.as_ref(), *ok));
                }
                ServerMessage::Event { event } => {
                    assert_tag(&name, &value, &["event", "type"], event.name());
                    seen.server_events.insert(event.name());
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
        assert_eq!(all.len(), seen.len(), "{what}: a name listed twice");
    };
    check("client messages", ClientBody::NAMES, &seen.client_bodies);
    check("peer commands", PeerCommand::NAMES, &seen.peer_commands);
    check("breakout ops", BreakoutCommand::NAMES, &seen.breakout_ops);
    check(
        "server messages",
        ServerMessage::NAMES,
        &seen.server_messages,
    );
    let replies: Vec<&str> = ReplyData::NAMES
        .iter()
        .chain(REPLY_WITHOUT_DATA)
        .copied()
        .collect();
    check("reply data", &replies, &seen.reply_data);
    check("server events", ServerEvent::NAMES, &seen.server_events);
}
