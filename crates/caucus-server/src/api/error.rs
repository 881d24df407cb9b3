//! The REST API's request readers, which turn axum's own rejections into the one refusal
//! envelope `{"error": {"code", "message", "field"?}}` ([`ApiError`], from `crate::refusal`),
//! and the envelope's OpenAPI description.
//!
//! No client mistake may become a 5xx or a body of another shape, so the API reads its bodies,
//! paths and queries itself ([`JsonBody`], [`version_query`]) instead of using axum's `Json`,
//! `Path<T>` and `Query<T>` extractors, whose rejections are plain text.
//!
//! Classification of a body: not UTF-8 JSON, truncated or of the wrong JSON syntax → 400
//! `malformed_request`; valid JSON with a wrong type, a missing field or an unknown field → 422
//! `invalid_value` with the path of the field (`roles.host.priority`); larger than the limit →
//! 413 `payload_too_large`. An empty body reads as `{}`, so calls whose fields are all optional
//! need none.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use caucus_proto::ErrorCode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ApiState;
pub use crate::refusal::{ApiError, codes, json_response};

/// The OpenAPI description of the error envelope, `caucus_proto::ErrorEnvelope` (the type
/// every refusal is written as); `tests/api.rs` checks real refusals against it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ErrorEnvelope)]
pub struct Envelope {
    pub error: EnvelopeBody,
}

/// One refusal: a stable code, a human sentence and, where one input was at fault, its path.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = ErrorBody)]
pub struct EnvelopeBody {
    /// Stable `snake_case` code, e.g. `unknown_room`, `stale_version`, `invalid_value`.
    pub code: String,
    pub message: String,
    /// The input at fault, as a dotted path (`roles.host.priority`), when one was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<ApiState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &ApiState) -> Result<Self, ApiError> {
        let limit = state.limits.max_body_bytes;
        let too_large = || {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("request bodies are limited to {limit} bytes"),
            )
        };
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(too_large());
        }
        let bytes = axum::body::to_bytes(request.into_body(), limit)
            .await
            .map_err(|_| too_large())?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parse a body: syntax errors are 400, shape errors 422 with the field's path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    // Syntax first, so a truncated body is 400 even when its first token has the wrong type.
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|e| classify("", e))?;
    // Every body is an object; serde would also fill a struct from an array of its fields in
    // order (`[null, null]`), which the document does not allow.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(
            ErrorCode::InvalidValue,
            "the body must be a JSON object",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        classify(&path, e.into_inner())
    })?;
    de.end().map_err(|e| classify(".", e))?;
    Ok(value)
}

fn classify(path: &str, inner: serde_json::Error) -> ApiError {
    match inner.classify() {
        serde_json::error::Category::Data => {
            let message = inner.to_string();
            let mut error = ApiError::new(ErrorCode::InvalidValue, strip_position(&message));
            error.field = field_of(path, &message);
            error
        }
        _ => ApiError::new(
            ErrorCode::MalformedRequest,
            format!("the body is not valid JSON: {inner}"),
        ),
    }
}

/// The field a data error is about: the path, plus the field named in "missing field `x`" or
/// "unknown field `x`" (serde reports those at the parent).
fn field_of(path: &str, message: &str) -> Option<String> {
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    let path = if path == "." { "" } else { path };
    match (path, named) {
        ("", None) => None,
        ("", Some(name)) => Some(name.to_owned()),
        (path, None) => Some(path.to_owned()),
        // serde_path_to_error already ends the path with an unknown field's name.
        (path, Some(name)) if path.rsplit('.').next() == Some(name) => Some(path.to_owned()),
        (path, Some(name)) => Some(format!("{path}.{name}")),
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// The optional `?version=N` of a DELETE.
pub fn version_query(query: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(query) = query else {
        return Ok(None);
    };
    let mut version = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == "version" {
            let parsed = value.parse::<u64>().map_err(|_| {
                ApiError::invalid("version", "version must be a non-negative integer")
            })?;
            version = Some(parsed);
        }
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use std::collections::BTreeMap;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        #[serde(default)]
        nested: BTreeMap<String, Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u32,
    }

    fn err(text: &str) -> ApiError {
        parse_json::<Body>(text.as_bytes()).unwrap_err()
    }

    #[test]
    fn bodies_are_classified() {
        assert_eq!(err("{").code, ErrorCode::MalformedRequest);
        assert_eq!(err("nope").status(), StatusCode::BAD_REQUEST);
        assert_eq!(err(r#"{"name": "a"} x"#).code, ErrorCode::MalformedRequest);
        assert_eq!(err("[1, 2").code, ErrorCode::MalformedRequest);
        // A struct's fields given as an array are not an object.
        assert_eq!(err("[null, null]").code, ErrorCode::InvalidValue);
        assert_eq!(err("null").code, ErrorCode::InvalidValue);
        let missing = err("{}");
        assert_eq!(
            (missing.code, missing.field.as_deref()),
            (ErrorCode::InvalidValue, Some("name"))
        );
        let unknown = err(r#"{"name": "a", "extra": 1}"#);
        assert_eq!(unknown.field.as_deref(), Some("extra"));
        let typed = err(r#"{"name": 5}"#);
        assert_eq!(typed.field.as_deref(), Some("name"));
        let deep = err(r#"{"name": "a", "nested": {"k": {"n": -1}}}"#);
        assert_eq!(deep.field.as_deref(), Some("nested.k.n"));
        assert_eq!(deep.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let deep_unknown = err(r#"{"name": "a", "nested": {"k": {"n": 1, "m": 2}}}"#);
        assert_eq!(deep_unknown.field.as_deref(), Some("nested.k.m"));
    }

    #[test]
    fn an_empty_body_is_an_empty_object() {
        #[derive(Deserialize)]
        struct AllOptional {
            #[allow(dead_code)]
            x: Option<u32>,
        }
        assert!(parse_json::<AllOptional>(b"").is_ok());
        assert!(parse_json::<AllOptional>(b"  \n").is_ok());
    }
}
