//! A refused call as the HTTP answer it becomes: [`ApiError`], the one refusal type
//! ([`ErrorBody`], the core's `Denial`) with the status its code carries, written as the one
//! envelope `{"error": {"code", "message", "field"?}}`. Used by the REST API, the control plane
//! and everything else that answers over HTTP; the REST API's request readers, which turn
//! axum's own rejections into it, are in `api::error`.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use caucus_proto::{ErrorBody, ErrorCode};
use caucus_store::{Entity, StoreError};
use serde::Serialize;
use tracing::warn;

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
                    Entity::Invite => ErrorCode::UnknownInvite,
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
