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
use caucus_proto::{ErrorCode, RoleName, RoleSpec, TemplateSpec};
use caucus_server::api::body::{
    AssignBody, BreakoutPatch, BreakoutsCreate, BroadcastBody, CloseBody, EndBody, ExtendBody,
    MessageBody, OpenBody, OptionsBody, PeerPatchBody, PreassignBody, RolesChange, RoomCreate,
    RoomPatchBody, TemplateCreate, TemplatePut, TokenRequest,
};
use caucus_server::api::error::{ApiError, parse_json};
use caucus_server::api::{check_id, check_name};
use std::collections::BTreeMap;

use crate::leak::assert_clean;

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
        _ => parse_json::<BroadcastBody>(body).map(drop),
    };
    if let Err(error) = result {
        check_refusal(&error, body);
    }
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
    if let Some(field) = &error.field {
        assert_clean(field, body);
    }
    // The envelope the client receives is JSON.
    let response = serde_json::json!({"error": {"code": error.code, "message": error.message}});
    assert!(serde_json::to_string(&response).is_ok());
}
