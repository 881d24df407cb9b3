//! Every REST refusal as the one envelope `{"error": {"code", "message", "field"?}}`, and the
//! request readers that turn axum's own rejections into it.
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

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use caucus_proto::{ErrorBody, ErrorCode};
use caucus_store::{Entity, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::ApiState;

/// A refused REST call: the one refusal type ([`ErrorBody`], the core's `Denial`) with the
/// HTTP status its code carries. A wrapper only because axum's `IntoResponse` cannot be given
/// to a type of another crate; it derefs to the [`ErrorBody`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub ErrorBody);

/// Codes of refusals that happen before any domain logic.
pub mod codes {
    use caucus_proto::ErrorCode;
    /// No route has this path (404).
    pub const NOT_FOUND: ErrorCode = ErrorCode::NotFound;
    /// The path exists but not with this method (405).
    pub const METHOD_NOT_ALLOWED: ErrorCode = ErrorCode::MethodNotAllowed;
    /// A template still used by a room cannot be deleted (409).
    pub const TEMPLATE_IN_USE: ErrorCode = ErrorCode::TemplateInUse;
    /// The store failed (500): never caused by the request.
    pub const STORAGE_FAILED: ErrorCode = ErrorCode::StorageFailed;
    /// The server is stopping (503).
    pub const SHUTTING_DOWN: ErrorCode = ErrorCode::ShuttingDown;
}

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

impl std::ops::Deref for ApiError {
    type Target = ErrorBody;

    fn deref(&self) -> &ErrorBody {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut ErrorBody {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self(ErrorBody::new(code, message))
    }

    pub fn with_field(self, field: impl Into<String>) -> Self {
        Self(self.0.with_field(field))
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidValue, message).with_field(field)
    }

    /// The HTTP status of the code.
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
    }

    pub fn not_found_path() -> Self {
        Self::new(
            codes::NOT_FOUND,
            "no such path in the API; see /v1/openapi.json",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            codes::METHOD_NOT_ALLOWED,
            "this path does not take this method; see /v1/openapi.json",
        )
    }

    pub fn shutting_down() -> Self {
        Self::new(codes::SHUTTING_DOWN, "the server is shutting down")
    }

    pub fn storage(error: impl std::fmt::Display) -> Self {
        warn!(error = %error, "store failed");
        Self::new(
            codes::STORAGE_FAILED,
            "the server could not read or write its storage",
        )
    }

    /// The refusal itself, for a signaling reply.
    pub fn into_body(self) -> ErrorBody {
        self.0
    }
}

impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        Self(body)
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, id } => {
                let code = match entity {
                    Entity::Template => ErrorCode::UnknownTemplate,
                    Entity::Room | Entity::BreakoutPlan => ErrorCode::UnknownRoom,
                    Entity::Recording => ErrorCode::UnknownRecording,
                    Entity::Webhook | Entity::AuditEntry => ErrorCode::InvalidValue,
                };
                ApiError::new(code, format!("no {entity} {id:?}"))
            }
            StoreError::Conflict { entity, id, reason } => ApiError::new(
                ErrorCode::AlreadyExists,
                format!("{entity} {id:?}: {reason}"),
            ),
            StoreError::Invalid { field, reason } => ApiError::invalid(field, reason),
            StoreError::Backend(e) => ApiError::storage(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        json_response(status, &caucus_proto::ErrorEnvelope { error: self.0 })
    }
}

/// A JSON response with this status.
pub fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(e) => ApiError::storage(format!("cannot serialize a response: {e}")).into_response(),
    }
}

/// A JSON body read with the API's limit and its error classification.
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
