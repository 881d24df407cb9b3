//! One REST request body, read the way the handlers read it: `api::error::parse_json` into
//! the handler's body type, then the checks that do not need the store (`check_id`,
//! `check_name`, and `Template::compile` for template documents).
//!
//! The first byte picks the body type; the rest is the body.
//!
//! Properties: every refusal is an `ApiError` whose code is one of `ErrorCode`'s stable codes
//! with that code's 4xx status, syntax errors are 400 `malformed_request`, and its message
//! and field are clean; an accepted template document serializes and reads back to the same
//! document, which compiles again.

use caucus_core::Template;
use caucus_proto::{BreakoutId, Location, PeerId, RecordingId, TrackId};
use caucus_proto::{ErrorCode, RoleName, RoleSpec, TemplateSpec};
use caucus_server::api::body::{
    AssignBody, BreakoutPatch, BreakoutsCreate, BroadcastBody, CloseBody, EndBody, ExtendBody,
    MessageBody, OpenBody, OptionsBody, PeerPatchBody, PreassignBody, RolesChange, RoomCreate,
    RoomPatchBody, TemplateCreate, TemplatePut, TokenRequest,
};
use caucus_server::api::error::{ApiError, parse_json, version_query};
use caucus_server::api::{RecordingCreate, check_id, check_name};
use std::collections::BTreeMap;

use crate::leak::{assert_clean, assert_no_internals};

/// The body types, in the order of the selector byte.
pub const BODIES: &[&str] = &[
    "TokenRequest",
    "TemplateCreate",
    "TemplatePut",
    "RoleSpec",
    "RoomCreate",
    "RoomPatchBody",
    "PeerPatchBody",
    "RolesChange",
    "MessageBody",
    "EndBody",
    "BreakoutsCreate",
    "BreakoutPatch",
    "OptionsBody",
    "AssignBody",
    "PreassignBody",
    "OpenBody",
    "CloseBody",
    "ExtendBody",
    "BroadcastBody",
    "RecordingCreate",
    "?version= query",
    "path ids",
];

pub fn run(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let result = match usize::from(selector) % BODIES.len() {
        0 => parse_json::<TokenRequest>(body).and_then(|b| check_id("room", &b.room)),
        1 => parse_json::<TemplateCreate>(body).and_then(|b| {
            if let Some(id) = &b.id {
                check_id("id", id)?;
            }
            template(b.name, b.roles)
        }),
        2 => parse_json::<TemplatePut>(body).and_then(|b| template(b.name, b.roles)),
        3 => parse_json::<RoleSpec>(body).and_then(|role| {
            let roles = BTreeMap::from([(RoleName::from("r"), role)]);
            template("t".to_owned(), roles)
        }),
        4 => parse_json::<RoomCreate>(body).and_then(|b| {
            check_name("name", &b.name)?;
            if let Some(id) = &b.id {
                check_id("id", id)?;
            }
            check_id("template", &b.template)
        }),
        5 => parse_json::<RoomPatchBody>(body).and_then(|b| {
            if let Some(name) = &b.name {
                check_name("name", name)?;
            }
            match &b.template {
                Some(t) => check_id("template", t),
                None => Ok(()),
            }
        }),
        6 => parse_json::<PeerPatchBody>(body).map(drop),
        7 => parse_json::<RolesChange>(body).map(drop),
        8 => parse_json::<MessageBody>(body).map(drop),
        9 => parse_json::<EndBody>(body).map(drop),
        10 => parse_json::<BreakoutsCreate>(body).map(drop),
        11 => parse_json::<BreakoutPatch>(body).map(drop),
        12 => parse_json::<OptionsBody>(body).map(drop),
        13 => parse_json::<AssignBody>(body).map(drop),
        14 => parse_json::<PreassignBody>(body).map(drop),
        15 => parse_json::<OpenBody>(body).map(drop),
        16 => parse_json::<CloseBody>(body).map(drop),
        17 => parse_json::<ExtendBody>(body).map(drop),
        18 => parse_json::<BroadcastBody>(body).map(drop),
        19 => parse_json::<RecordingCreate>(body).map(drop),
        20 => std::str::from_utf8(body).map_or(Ok(()), |query| {
            version_query(Some(query)).map(|version| {
                let pairs = || {
                    query
                        .split('&')
                        .map(|p| p.split_once('=').unwrap_or((p, "")))
                };
                if !pairs().any(|(key, _)| key == "version") {
                    assert_eq!(version, None, "{query:?}");
                }
                if let Some(v) = version {
                    let named = pairs().any(|(k, n)| k == "version" && n.parse::<u64>() == Ok(v));
                    assert!(named, "{query:?} read as version {v}");
                }
            })
        }),
        _ => {
            path_ids(body);
            Ok(())
        }
    };
    if let Err(error) = result {
        check_refusal(&error, body);
    }
}

/// The ids a path carries (`/peers/{peer_id}`, `/breakouts/{breakout_id}`, …): what parses
/// prints back to an id that parses to the same value, and a refusal quotes the input.
fn path_ids(body: &[u8]) {
    let text = String::from_utf8_lossy(body);
    fn round_trip<T>(text: &str)
    where
        T: std::str::FromStr<Err = caucus_proto::ids::ParseIdError>
            + std::fmt::Display
            + PartialEq
            + std::fmt::Debug,
    {
        match text.parse::<T>() {
            Ok(id) => assert_eq!(id.to_string().parse::<T>().ok(), Some(id)),
            Err(e) => assert_eq!(e.input, text),
        }
    }
    round_trip::<PeerId>(&text);
    round_trip::<BreakoutId>(&text);
    round_trip::<RecordingId>(&text);
    round_trip::<TrackId>(&text);
    round_trip::<Location>(&text);
}

/// The handlers' `validate`: a name, then the core's compiler.
fn template(name: String, roles: BTreeMap<RoleName, RoleSpec>) -> Result<(), ApiError> {
    let spec = TemplateSpec { name, roles };
    check_name("name", &spec.name)?;
    Template::compile(spec.clone()).map_err(ApiError::from)?;
    let text = serde_json::to_vec(&spec).expect("a template document serializes");
    let again: TemplateSpec = parse_json(&text).unwrap_or_else(|e| {
        panic!(
            "a serialized template does not read back: {e:?}: {}",
            String::from_utf8_lossy(&text)
        )
    });
    assert_eq!(again, spec, "a template document changed on the way round");
    if let Err(e) = Template::compile(again) {
        panic!("a template compiles once, not twice: {e:?}");
    }
    Ok(())
}

fn check_refusal(error: &ApiError, body: &[u8]) {
    // The code is an `ErrorCode` by type: stable by construction.
    let code = &error.code;
    assert_eq!(error.status().as_u16(), code.http_status(), "{error:?}");
    assert!(error.status().is_client_error(), "{error:?}");
    if *code == ErrorCode::MalformedRequest {
        assert_eq!(error.status().as_u16(), 400);
    }
    assert_clean(&error.message, body);
    // A field may be empty: `{"": 1}` is refused for its unknown field named "".
    if let Some(field) = &error.field {
        assert_no_internals(field, body);
    }
    // The envelope the client receives is JSON.
    let response = serde_json::json!({"error": {"code": error.code, "message": error.message}});
    assert!(serde_json::to_string(&response).is_ok());
}
