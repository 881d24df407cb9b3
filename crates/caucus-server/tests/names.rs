//! The wire names `caucus-proto` defines (`NAMES` of each message type), against the places
//! outside Rust that spell them again: the browser SDK (`web/caucus.js`) and the documents. A
//! command, operation, event or webhook missing from any of them — or one they name that does
//! not exist — fails here.
#![allow(clippy::unwrap_used)] // tests: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::path::PathBuf;

use caucus_proto::signal::{BreakoutCommand, ClientBody, PeerCommand, ServerMessage};
use caucus_proto::{LifecycleEvent, ServerEvent};

fn read(path: &str) -> String {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// Every `'…'` that follows `prefix` in `text`, in order.
fn quoted_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            rest.find('\'').map(|end| &rest[..end])
        })
        .collect()
}

fn set<'a>(names: impl IntoIterator<Item = &'a str>) -> BTreeSet<&'a str> {
    names.into_iter().collect()
}

#[test]
fn the_browser_sdk_sends_every_command_and_operation_and_nothing_else() {
    let sdk = read("web/caucus.js");
    assert_eq!(
        set(quoted_after(&sdk, "this.command({ type: '")),
        set(PeerCommand::NAMES.iter().copied()),
        "web/caucus.js: one method per `command.type`"
    );
    assert_eq!(
        set(quoted_after(&sdk, "this.breakoutOp('")),
        set(BreakoutCommand::NAMES.iter().copied()),
        "web/caucus.js: one method per breakout `op`"
    );
    for name in ClientBody::NAMES {
        assert!(
            sdk.contains(&format!("type: '{name}'")),
            "web/caucus.js never sends a `{name}` message"
        );
    }
    for name in ServerMessage::NAMES {
        assert!(
            sdk.contains(&format!("case '{name}'")),
            "web/caucus.js does not handle a server `{name}` message"
        );
    }
}

#[test]
fn the_browser_sdk_lists_every_server_event() {
    let sdk = read("web/caucus.js");
    let start = sdk
        .find("export const SERVER_EVENTS")
        .expect("web/caucus.js exports SERVER_EVENTS");
    let list = &sdk[start..];
    let list = &list[list.find("([").unwrap()..list.find("])").unwrap()];
    let names: Vec<&str> = list.split('\'').skip(1).step_by(2).collect();
    assert_eq!(names, ServerEvent::NAMES, "web/caucus.js SERVER_EVENTS");
}

#[test]
fn the_documents_name_every_command_event_and_webhook() {
    let protocol = read("docs/protocol.md");
    let lists: [(&str, &[&str]); 3] = [
        ("command", PeerCommand::NAMES),
        ("breakout operation", BreakoutCommand::NAMES),
        ("event", ServerEvent::NAMES),
    ];
    for (what, names) in lists {
        for name in names {
            assert!(
                protocol.contains(&format!("`{name}`")),
                "docs/protocol.md does not name the {what} `{name}`"
            );
        }
    }
    let api = read("docs/api.md");
    for name in LifecycleEvent::NAMES {
        assert!(
            api.contains(&format!("`{name}`")),
            "docs/api.md does not name the webhook `{name}`"
        );
    }
}
